#!/usr/bin/env python3
"""Checks docker/Dockerfile's build stage without a Docker engine (see .ci/docker-context).

Builds the build context the way Docker does (the repository filtered by .dockerignore),
copies into an empty folder exactly what the build stage's COPY instructions take from
it, and runs the stage's RUN instructions there with /bin/sh, as `docker build` would.
Then checks that what the runtime stage takes from the build stage (COPY --from) was
made, and that what it takes from the context is there.

Only what the Dockerfile uses is understood: FROM, WORKDIR, ENV, ARG, LABEL, COPY (plain
or --from=<stage>) and RUN (no --mount), with `\\` continuations; RUN commands of the
build stage must use relative paths, since they run in a folder, not at `/`. Anything
else is refused rather than guessed at. .dockerignore follows Docker's rules (patterns in
order, `!` re-includes, `*` and `?` within one path element, `**` across them, a pattern
that matches a directory matches everything in it).
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path


class Refused(Exception):
    pass


# ---------------------------------------------------------------------------------------
# .dockerignore
# ---------------------------------------------------------------------------------------

def _element_regex(element):
    """One path element of a pattern as a regex (Go's filepath.Match syntax)."""
    out, i = [], 0
    while i < len(element):
        c = element[i]
        if c == '*':
            out.append('[^/]*')
        elif c == '?':
            out.append('[^/]')
        elif c == '[':
            end = element.find(']', i + 1)
            if end < 0:
                raise Refused(f'.dockerignore: unclosed [ in {element!r}')
            body = element[i + 1:end]
            if body[:1] in ('!', '^'):
                body = '^' + body[1:]
            out.append('[' + body + ']')
            i = end
        elif c == '\\' and i + 1 < len(element):
            i += 1
            out.append(re.escape(element[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return ''.join(out)


class Pattern:
    def __init__(self, raw):
        self.exclusion = raw.startswith('!')
        text = raw[1:].strip() if self.exclusion else raw
        text = os.path.normpath(text.strip()).lstrip('/')
        self.text = text
        self.elements = text.split('/')
        regex = ''
        for i, element in enumerate(self.elements):
            last = i == len(self.elements) - 1
            if element == '**':
                # Any number of elements, none included: `a/**/b` matches `a/b`.
                regex += '.*' if last else '(?:.*/)?'
            else:
                regex += _element_regex(element) + ('' if last else '/')
        self.regex = re.compile('^' + regex + '$')

    def matches(self, path):
        """Docker's MatchesOrParentMatches for one pattern: the path, or its prefix with as
        many elements as the pattern has."""
        if self.regex.match(path):
            return True
        parts = path.split('/')
        if '**' not in self.elements and len(parts) > len(self.elements):
            return bool(self.regex.match('/'.join(parts[:len(self.elements)])))
        return False

    def may_match_under(self, directory):
        """Whether this pattern could match something inside `directory`."""
        parts = directory.split('/')
        for i, part in enumerate(parts):
            if i >= len(self.elements):
                return True
            element = self.elements[i]
            if element == '**':
                return True
            if not re.match('^' + _element_regex(element) + '$', part):
                return False
        return True


def read_dockerignore(path):
    patterns = []
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith('#'):
                patterns.append(Pattern(line))
    return patterns


def excluded(patterns, path):
    result = False
    for p in patterns:
        if p.matches(path):
            result = not p.exclusion
    return result


def context_files(root, patterns):
    """Every file (relative path) of the build context Docker would send."""
    files = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = '' if rel_dir == '.' else rel_dir
        keep = []
        for d in dirnames:
            rel = f'{rel_dir}/{d}' if rel_dir else d
            if excluded(patterns, rel) and not any(p.exclusion and p.may_match_under(rel) for p in patterns):
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            rel = f'{rel_dir}/{f}' if rel_dir else f
            if not excluded(patterns, rel):
                files.add(rel)
    return files


# ---------------------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------------------

def instructions(dockerfile):
    """(line number, instruction, arguments) with continuations joined and comments out."""
    out, buffer, start = [], '', None
    for number, line in enumerate(dockerfile.read_text().splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith('#') or (not stripped and not buffer):
            continue
        if start is None:
            start = number
        if stripped.endswith('\\'):
            buffer += stripped[:-1] + ' '
            continue
        buffer += stripped
        word, _, rest = buffer.strip().partition(' ')
        out.append((start, word.upper(), rest.strip()))
        buffer, start = '', None
    if buffer:
        raise Refused(f'{dockerfile}: a continuation runs past the end of the file')
    return out


def split_stages(parsed):
    stages = []
    for number, word, rest in parsed:
        if word == 'FROM':
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == 'AS' else None
            stages.append({'from': words[0], 'name': name, 'line': number, 'steps': []})
        elif not stages:
            if word != 'ARG':
                raise Refused(f'line {number}: {word} before the first FROM')
        else:
            stages[-1]['steps'].append((number, word, rest))
    return stages


def copy_args(rest):
    """(flags, sources, destination) of a COPY, shell form or JSON form."""
    rest = rest.strip()
    if rest.startswith('['):
        import json
        words = json.loads(rest)
    else:
        words = shlex.split(rest)
    flags = [w for w in words if w.startswith('--')]
    words = [w for w in words if not w.startswith('--')]
    if len(words) < 2:
        raise Refused(f'COPY {rest}: needs a source and a destination')
    return flags, words[:-1], words[-1]


def resolve_sources(source, files):
    """The context files a COPY source names: a file, a directory's files, or a glob."""
    source = os.path.normpath(source).lstrip('/')
    if source == '.':
        return [(f, f) for f in sorted(files)]
    if any(c in source for c in '*?['):
        regex = re.compile('^' + '/'.join(_element_regex(e) for e in source.split('/')) + '$')
        hits = []
        for f in sorted(files):
            parts = f.split('/')
            n = len(source.split('/'))
            head = '/'.join(parts[:n])
            if regex.match(head):
                hits.append((f, '/'.join(parts[n - 1:]) if len(parts) > n else parts[n - 1]))
        return hits
    if source in files:
        return [(source, os.path.basename(source))]
    prefix = source + '/'
    return [(f, f[len(prefix):]) for f in sorted(files) if f.startswith(prefix)]


def run(args):
    repo = Path(args.context).resolve()
    dockerfile = Path(args.dockerfile).resolve()
    ignore = Path(args.dockerignore).resolve()
    stage_root = Path(args.out).resolve()
    patterns = read_dockerignore(ignore)
    files = context_files(repo, patterns)
    print(f'docker-context: the context is {len(files)} files ({ignore.relative_to(repo) if ignore.is_relative_to(repo) else ignore} applied)')

    stages = split_stages(instructions(dockerfile))
    if len(stages) < 2:
        raise Refused(f'{dockerfile}: expected a build stage and a runtime stage')
    build, runtime = stages[0], stages[-1]
    match = re.match(r'^(?:docker\.io/(?:library/)?)?rust:(\d+\.\d+)(?:\.\d+)?(?:-[a-z0-9.-]+)?$', build['from'])
    if not match:
        raise Refused(f"line {build['line']}: the build stage is FROM {build['from']}; expected rust:<major>.<minor>[-variant]")
    toolchain = match.group(1)

    if stage_root.exists():
        shutil.rmtree(stage_root)
    stage_root.mkdir(parents=True)
    workdir = stage_root
    env = dict(os.environ)
    env.update(args.env or {})
    if args.rustup_toolchain:
        env['RUSTUP_TOOLCHAIN'] = args.rustup_toolchain
    for number, word, rest in build['steps']:
        where = f"{dockerfile.name}:{number}"
        if word == 'WORKDIR':
            workdir = stage_root / rest.strip().lstrip('/')
            workdir.mkdir(parents=True, exist_ok=True)
            if args.target_cache and not (workdir / 'target').exists():
                Path(args.target_cache).mkdir(parents=True, exist_ok=True)
                (workdir / 'target').symlink_to(Path(args.target_cache).resolve(), target_is_directory=True)
        elif word in ('ENV', 'ARG'):
            for item in shlex.split(rest):
                key, sep, value = item.partition('=')
                if sep:
                    env[key] = value
                elif word == 'ENV':
                    raise Refused(f'{where}: ENV {rest}: use ENV KEY=VALUE')
        elif word == 'LABEL':
            pass
        elif word == 'COPY':
            flags, sources, dest = copy_args(rest)
            if flags:
                raise Refused(f'{where}: COPY {" ".join(flags)} in the build stage is not understood by this check')
            target = (stage_root / dest.lstrip('/')) if dest.startswith('/') else (workdir / dest)
            many = len(sources) > 1 or dest.endswith('/')
            for source in sources:
                hits = resolve_sources(source, files)
                if not hits:
                    raise Refused(f'{where}: COPY {source}: not in the build context (missing, or excluded by .dockerignore)')
                is_dir = not any(c in source for c in '*?[') and os.path.normpath(source) not in files
                for rel, tail in hits:
                    if is_dir or any(c in source for c in '*?['):
                        to = target / tail
                    else:
                        to = target / tail if many else target
                    to.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(repo / rel, to)
                print(f'docker-context: COPY {source} -> {dest} ({len(hits)} file{"s" if len(hits) != 1 else ""})')
        elif word == 'RUN':
            if rest.startswith('--'):
                raise Refused(f'{where}: RUN {rest.split()[0]} is not understood by this check')
            absolute = [w for w in re.split(r'[\s;&|()<>]+', rest) if w.startswith('/')]
            if absolute:
                raise Refused(f'{where}: RUN uses absolute paths ({", ".join(absolute)}); the build stage must use paths relative to WORKDIR')
            print(f'docker-context: RUN {rest}', flush=True)
            done = subprocess.run(['/bin/sh', '-c', rest], cwd=workdir, env=env)
            if done.returncode != 0:
                raise Refused(f'{where}: RUN failed with exit status {done.returncode}')
        else:
            raise Refused(f'{where}: {word} in the build stage is not understood by this check')

    names = {s['name'] for s in stages if s['name']} | {str(i) for i in range(len(stages))}
    for number, word, rest in runtime['steps']:
        if word != 'COPY':
            continue
        flags, sources, dest = copy_args(rest)
        origin = next((f.split('=', 1)[1] for f in flags if f.startswith('--from=')), None)
        for source in sources:
            if origin is None:
                hits = resolve_sources(source, files)
                if not hits:
                    raise Refused(f'{dockerfile.name}:{number}: COPY {source}: not in the build context')
                print(f'docker-context: runtime COPY {source} -> {dest} ({len(hits)} files from the context)')
            elif origin == build['name'] or origin == '0':
                made = stage_root / source.lstrip('/')
                if not made.is_file():
                    raise Refused(f'{dockerfile.name}:{number}: COPY --from={origin} {source}: the build stage made no such file')
                print(f'docker-context: runtime COPY --from={origin} {source}: made ({made.stat().st_size // 1024} KiB)')
            elif origin not in names:
                print(f'docker-context: runtime COPY --from={origin} {source}: an image, not checked')
    print(f'docker-context: ok (Rust {toolchain}, build stage in {stage_root})')
    return toolchain


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--context', default='.')
    parser.add_argument('--dockerfile', default='docker/Dockerfile')
    parser.add_argument('--dockerignore', default='.dockerignore')
    parser.add_argument('--out', help='the empty folder the build stage is made in (deleted first)')
    parser.add_argument('--target-cache', help='a folder linked as WORKDIR/target, kept between runs')
    parser.add_argument('--rustup-toolchain', help='RUSTUP_TOOLCHAIN for the RUN commands')
    parser.add_argument('--toolchain-only', action='store_true', help="print the build stage's Rust version and exit")
    parser.add_argument('--list-context', action='store_true', help='print the context files and exit')
    args = parser.parse_args()
    args.env = {}
    try:
        if args.toolchain_only:
            stages = split_stages(instructions(Path(args.dockerfile)))
            match = re.match(r'^(?:docker\.io/(?:library/)?)?rust:(\d+\.\d+)', stages[0]['from'])
            if not match:
                raise Refused(f"the build stage is FROM {stages[0]['from']}; expected rust:<major>.<minor>")
            print(match.group(1))
            return 0
        if args.list_context:
            for f in sorted(context_files(Path(args.context).resolve(), read_dockerignore(Path(args.dockerignore)))):
                print(f)
            return 0
        if not args.out:
            raise Refused('--out is required')
        run(args)
    except Refused as e:
        print(f'docker-context: FAILED: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
