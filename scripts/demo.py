#!/usr/bin/env python3
"""Make a sample core from the fixture's `all` scenario and triage it.

Run by ./demo (which installs and builds first). The core, the runtime's
own goroutine dump and the fixture's account of what it parked stay in the
cache ($GOPARKED_CACHE, default ~/.cache/goparked) for a second look.
"""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def load_generate():
    path = os.path.join(ROOT, "corefiles", "generate.py")
    spec = importlib.util.spec_from_file_location("corefiles_generate", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


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
        sys.stderr.write("demo: no Go toolchain could build the fixture:\n  "
                         + "\n  ".join(reasons) + "\n")
        return 2
    from goparked import cli
    cmd = [entry.core, "--exe", entry.exe]
    print("$ goparked %s" % " ".join(cmd))
    rc = cli.main(cmd)
    if rc != 0:
        return rc
    print()
    print("The runtime's own dump of the same moment: %s" % entry.dump)
    print("What the fixture says it parked:          %s" % entry.account)
    print("Next: goparked %s --by chan | --by mutex | --goroutine N | --json"
          % " ".join(cmd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
