#!/usr/bin/env python3
"""Install goparked, make a sample core of the fixture's `all` scenario and
triage it with the installed command.

Run by ./demo (which installs the packages and builds first). goparked goes
into a virtual environment in the cache ($GOPARKED_CACHE, default
~/.cache/goparked/venv, `pip install` of this checkout, done again when the
sources change); the core, the runtime's own goroutine dump and the
fixture's account of what it parked stay in the cache too. Every command
printed after "$ " is the one that ran, as it ran.
"""

import hashlib
import importlib.util
import os
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What `pip install .` builds from: a change here means installing again.
SOURCES = ("goparked", "native/src", "native/include", "gdb", "lldb",
           "Makefile", "setup.py", "pyproject.toml")


def load_generate():
    path = os.path.join(ROOT, "corefiles", "generate.py")
    spec = importlib.util.spec_from_file_location("corefiles_generate", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def say(msg):
    sys.stderr.write("demo: %s\n" % msg)
    sys.stderr.flush()


def source_digest():
    h = hashlib.sha256()
    for top in SOURCES:
        path = os.path.join(ROOT, top)
        files = [path] if os.path.isfile(path) else sorted(
            os.path.join(d, f) for d, dirs, fs in os.walk(path)
            for f in fs if "__pycache__" not in d and not f.endswith(".pyc"))
        for f in files:
            h.update(os.path.relpath(f, ROOT).encode() + b"\0")
            with open(f, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def install(cache):
    """[argv of a goparked command], installed into cache/venv; or, when
    pip cannot (offline), this checkout's package run by this python."""
    venv = os.path.join(cache, "venv")
    command = os.path.join(venv, "bin", "goparked")
    stamp = os.path.join(venv, "goparked-sources.sha256")
    digest = source_digest()
    try:
        with open(stamp) as f:
            if f.read().strip() == digest and os.access(command, os.X_OK):
                return [command], None
    except OSError:
        pass
    say("installing goparked into %s (python -m venv, pip install %s)"
        % (venv, ROOT))
    steps = ([sys.executable, "-m", "venv", "--clear", venv],
             [os.path.join(venv, "bin", "python"), "-m", "pip", "install",
              "-q", "--disable-pip-version-check", ROOT])
    for argv in steps:
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if r.returncode != 0:
            last = (r.stdout.strip().splitlines() or ["no output"])[-1]
            say("%s failed (%s); running goparked from this checkout instead"
                % (" ".join(argv[1:4]), last))
            return [sys.executable, "-m", "goparked"], {"PYTHONPATH": ROOT}
    with open(stamp, "w") as f:
        f.write(digest + "\n")
    return [command], None


def shown(argv, env):
    pre = ["%s=%s" % (k, shlex.quote(v)) for k, v in sorted((env or {}).items())]
    return " ".join(pre + [shlex.quote(a) for a in argv])


def main():
    gen = load_generate()
    entry, reasons = None, []
    # Newest toolchain first; 1.19 from Debian is the fallback.
    for tc in reversed(list(gen.TOOLCHAINS)):
        try:
            entry = gen.ensure(tc, "dwarf", "all", gen.DEFAULT_N)
            break
        except gen.Unavailable as e:
            reasons.append("%s: %s" % (tc, e))
    if entry is None:
        say("no Go toolchain could build the fixture:\n  "
            + "\n  ".join(reasons))
        return 2
    goparked, env = install(os.path.dirname(gen.cache_root()))
    argv = goparked + [entry.core, "--exe", entry.exe]
    print("$ %s" % shown(argv, env), flush=True)
    rc = subprocess.run(argv, env=dict(os.environ, **(env or {}))).returncode
    if rc != 0:
        return rc
    script = subprocess.run(goparked + ["--gdb-script"],
                            env=dict(os.environ, **(env or {})),
                            stdout=subprocess.PIPE, universal_newlines=True)
    print()
    print("The runtime's own dump of the same moment: %s" % entry.dump)
    print("What the fixture says it parked:          %s" % entry.account)
    print("Next: %s --leaks | --by chan | --by mutex | --goroutine N | --json"
          % shown(argv, env))
    print("GDB:  gdb %s %s -ex %s" % (
        shlex.quote(entry.exe), shlex.quote(entry.core),
        shlex.quote("source " + script.stdout.strip())))
    if env is None:
        print("(add %s to PATH to type just `goparked`)"
              % os.path.dirname(goparked[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
