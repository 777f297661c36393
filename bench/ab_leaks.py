#!/usr/bin/env python3
"""A/B of the leak verdict's output: two trees, the same cores, byte for byte.

    python3 bench/ab_leaks.py A_TREE B_TREE [--bench] [--only SUBSTR]

Each tree is a checkout with its engine built (native/build/libgoparked.so).
For every cached fixture core (~/.cache/goparked/corefiles, as
corefiles/generate.py left them; nothing is generated here) it runs
`goparked CORE --exe EXE --leaks --json` and `--leaks` with each tree and
compares the outputs byte for byte; --bench adds the big cores of
bench/make_core.py found in ~/.cache/goparked/bench (JSON only). A
performance change that must not change what the verdict says (counts,
rows, retention paths, cycles) is checked with this before it lands.
Exits non-zero on the first difference kind, listing every core that
differs. Nothing here is a test: it compares two builds, not facts.
"""

import argparse
import hashlib
import os
import subprocess
import sys

CACHE = os.path.expanduser("~/.cache/goparked")


def fixture_cores(only):
    root = os.path.join(CACHE, "corefiles")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".tmp"))
        if "core" not in filenames:
            continue
        parent = os.path.dirname(dirpath)
        exes = [os.path.join(parent, f) for f in sorted(os.listdir(parent))
                if os.path.isfile(os.path.join(parent, f)) and
                os.access(os.path.join(parent, f), os.X_OK)]
        if len(exes) != 1:
            continue
        core = os.path.join(dirpath, "core")
        if only and only not in core:
            continue
        out.append((core, exes[0]))
    return sorted(out)


def bench_cores(only):
    root = os.path.join(CACHE, "bench")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".tmp"))
        if "core" not in filenames:
            continue
        exes = [f for f in ("fixture", "heapcore") if f in filenames]
        core = os.path.join(dirpath, "core")
        if exes and (not only or only in core):
            out.append((core, os.path.join(dirpath, exes[0])))
    return sorted(out)


def run(tree, core, exe, args):
    # cwd too: python -m puts it first on the path
    env = dict(os.environ, PYTHONPATH=tree,
               GOPARKED_LIB=os.path.join(tree, "native/build/libgoparked.so"))
    env.pop("GOPARKED_PHASES", None)
    p = subprocess.run([sys.executable, "-m", "goparked", core, "--exe", exe] + args,
                       env=env, cwd=tree, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--bench", action="store_true",
                    help="also the 1M cores of bench/make_core.py (minutes)")
    ap.add_argument("--only", help="cores whose path contains this")
    ap.add_argument("--no-fixtures", action="store_true")
    o = ap.parse_args()
    jobs = []
    if not o.no_fixtures:
        for core, exe in fixture_cores(o.only):
            jobs += [(core, exe, ["--leaks", "--json"]), (core, exe, ["--leaks"])]
    if o.bench:
        for core, exe in bench_cores(o.only):
            jobs.append((core, exe, ["--leaks", "--json"]))
    differ = []
    for core, exe, args in jobs:
        ra = run(o.a, core, exe, args)
        rb = run(o.b, core, exe, args)
        same = ra[0] == rb[0] and ra[1] == rb[1]
        digest = hashlib.sha256(ra[1]).hexdigest()[:12]
        print("%s  %s %s  %d bytes %s" % ("same" if same else "DIFF", core,
                                          " ".join(args), len(ra[1]), digest),
              flush=True)
        if not same:
            differ.append((core, args))
            if ra[0] != rb[0]:
                print("  exit %d vs %d; stderr B: %s" % (ra[0], rb[0],
                                                     rb[2].decode()[-500:]))
    print("%d runs, %d differ" % (len(jobs), len(differ)))
    for core, args in differ:
        print("  differs:", core, " ".join(args))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
