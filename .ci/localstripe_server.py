"""Serves localstripe (a fake Stripe API, PyPI `localstripe`) on loopback, for tests.

localstripe's own `localstripe` command binds every interface (`::`, dual-stack) and has
no option against it, and pickles its whole state to the fixed /tmp/localstripe.pickle
after every write (shared by every instance, and slower with each object). This wrapper
serves the same aiohttp application, bound to --host (127.0.0.1 by default), with its
state in memory only. (It is not named localstripe.py: run as a script, that name would
shadow the package it imports.)

    python .ci/localstripe_server.py [--host 127.0.0.1] [--port 0] [--exit-with-stdin]

With --port 0 the kernel picks a free port. Once the socket listens, the first line on
stdout is `localstripe listening on http://HOST:PORT`; connections made from then on are
queued until the server accepts them. With --exit-with-stdin the server exits when its
stdin reaches end of file, so it dies with a test process that holds the other end
however that process ends.
"""

import argparse
import logging
import os
import socket
import sys
import threading

from aiohttp import web

import localstripe.resources
from localstripe.server import app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-with-stdin", action="store_true")
    args = parser.parse_args()

    # No persistence: each server starts empty and forgets everything when it stops.
    localstripe.resources.Store.dump_to_disk = lambda self: None
    localstripe.resources.Store.try_load_from_disk = lambda self: None

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"localstripe listening on http://{shown}:{port}", flush=True)

    if args.exit_with_stdin:
        def wait_for_eof():
            sys.stdin.buffer.read()
            os._exit(0)

        threading.Thread(target=wait_for_eof, daemon=True).start()

    # Warnings (e.g. a webhook that could not be delivered) to stderr; no access log.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    web.run_app(app, sock=sock, access_log=None, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
