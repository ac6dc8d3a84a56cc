"""What the Compose schema cannot see in docker/compose.yaml (run by .ci/docker-config, with
the venv's ruamel.yaml): references between services, and the wiring that video and the
per-client limits depend on. Prints the services' names on stdout (for nginx -t's hosts
file); problems on stderr, exit status 1.

- every `depends_on` names a service, and a `service_healthy` one has a healthcheck here
  (the image's HEALTHCHECK is invisible to this file, and to whoever edits it);
- every service has an image or a build; one that must not be pulled is built by another;
- each node (a service with LIVECART_UDP_PORTS) publishes exactly that UDP range, 1:1, and
  no two services publish the same host port;
- LIVECART_TRUSTED_PROXIES names the balancer's (the nginx service's) fixed address;
- each node's LIVECART_PUBLIC_URL ends in /nodes/<service>, and nginx.conf routes
  `location /nodes/<service>/` to an upstream of that service alone.
"""

import re
import sys
from pathlib import Path

from ruamel.yaml import YAML


def ports_of(spec):
    """(host first, host last, container first, container last, protocol) of a short port spec."""
    spec = str(spec)
    proto = 'tcp'
    if '/' in spec:
        spec, proto = spec.rsplit('/', 1)
    parts = spec.split(':')
    host, container = (parts[-2], parts[-1]) if len(parts) >= 2 else (parts[-1], parts[-1])
    span = lambda r: tuple(int(x) for x in (r.split('-') if '-' in r else (r, r)))
    (h1, h2), (c1, c2) = span(host), span(container)
    return h1, h2, c1, c2, proto


def main(compose_path, nginx_path):
    doc = YAML(typ='safe').load(Path(compose_path).read_text())
    services = doc.get('services', {})
    nginx = Path(nginx_path).read_text()
    problems = []
    built = {s.get('image') for s in services.values() if s.get('build')}
    published = {}
    # The balancer: the nginx service, and the fixed addresses it has.
    balancer_ips = set()
    for name, svc in services.items():
        if not str(svc.get('image', '')).startswith('nginx'):
            continue
        for net in (svc.get('networks') or {}).values() if isinstance(svc.get('networks'), dict) else []:
            if isinstance(net, dict) and net.get('ipv4_address'):
                balancer_ips.add((name, net['ipv4_address']))
    for name, svc in services.items():
        if not svc.get('image') and not svc.get('build'):
            problems.append(f'{name}: neither image nor build')
        if svc.get('pull_policy') == 'never' and not svc.get('build') and svc.get('image') not in built:
            problems.append(f'{name}: pull_policy never, but no service builds {svc.get("image")}')
        depends = svc.get('depends_on') or {}
        for dep, how in (depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)):
            if dep not in services:
                problems.append(f'{name}: depends_on {dep}, which is not a service')
            elif (how or {}).get('condition') == 'service_healthy' and not services[dep].get('healthcheck'):
                problems.append(f'{name}: waits for {dep} to be healthy, but {dep} has no healthcheck here')
        for spec in svc.get('ports') or []:
            h1, h2, c1, c2, proto = ports_of(spec)
            for port in range(h1, h2 + 1):
                if (port, proto) in published:
                    problems.append(f'{name}: host port {port}/{proto} is also published by {published[(port, proto)]}')
                published[(port, proto)] = name
        env = svc.get('environment') or {}
        if not isinstance(env, dict):
            continue
        if 'LIVECART_UDP_PORTS' in env:
            lo, hi = (int(x) for x in str(env['LIVECART_UDP_PORTS']).split('-'))
            udp = [ports_of(p) for p in svc.get('ports') or [] if ports_of(p)[4] == 'udp']
            if (lo, hi, lo, hi, 'udp') not in udp:
                problems.append(f'{name}: LIVECART_UDP_PORTS {lo}-{hi} is not published 1:1 ("{lo}-{hi}:{lo}-{hi}/udp"); ICE announces these ports')
            url = str(env.get('LIVECART_PUBLIC_URL', ''))
            if not url.rstrip('/').endswith(f'/nodes/{name}'):
                problems.append(f'{name}: LIVECART_PUBLIC_URL {url!r} should end in /nodes/{name} (the balancer routes it to this node)')
            route = re.search(r'location\s+/nodes/' + re.escape(name) + r'/\s*\{[^}]*proxy_pass\s+http://([A-Za-z0-9_]+)/;', nginx)
            if not route:
                problems.append(f'{name}: nginx.conf has no `location /nodes/{name}/` passing to an upstream (with the prefix stripped)')
            else:
                upstream = re.search(r'upstream\s+' + re.escape(route.group(1)) + r'\s*\{([^}]*)\}', nginx)
                servers = re.findall(r'server\s+([A-Za-z0-9_.-]+):', upstream.group(1)) if upstream else []
                if servers != [name]:
                    problems.append(f'{name}: nginx.conf routes /nodes/{name}/ to {route.group(1)}, whose servers are {servers}, not [{name}] alone')
            trusted = str(env.get('LIVECART_TRUSTED_PROXIES', ''))
            fixed = {ip for _, ip in balancer_ips}
            if fixed and not set(trusted.split(',')) & fixed:
                problems.append(f'{name}: LIVECART_TRUSTED_PROXIES {trusted!r} does not name the balancer ({", ".join(sorted(fixed))})')
    for problem in problems:
        print(f'compose: {problem}', file=sys.stderr)
    print('\n'.join(services))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
