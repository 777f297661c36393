#!/usr/bin/env python3
"""Time the grouped report on big cores, beside the floor of this machine.

    python3 bench/bench_report.py [--sizes 10000,100000,1000000]
                                  [--toolchain 1.19] [--runs 5] [--by site,...]

--by takes groupings (site, stack, ...) and views: json (--json), jsonl
(--jsonl), jsonl-detail (--jsonl --detail), deadlocks (--deadlocks),
report (goparked report -o /dev/null), triage (goparked triage CORE).

For each size it makes (or reuses) a core with bench/make_core.py, warms the
page cache, and runs `goparked CORE --exe BIN --by X` several times under
/usr/bin/time, reporting the minimum and median wall time and the peak RSS.
The floor is one sequential read of the same core (cat > /dev/null) in the
same run: this machine is shared and noisy, so the ratio to the floor is
what compares across days (../shared/PERFORMANCE.md). Prints a Markdown
table; nothing here is a test.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_core  # noqa: E402

GROUPINGS = ["site", "stack", "chan", "mutex", "creator", "label", "age"]
VIEWS = {"json": ["--json"], "jsonl": ["--jsonl"],
         "jsonl-detail": ["--jsonl", "--detail"],
         "deadlocks": ["--deadlocks"]}


def command(python, core, exe, by):
    """The goparked command line of one grouping or view."""
    if by == "report":
        return [python, "-m", "goparked", "report", core, "--exe", exe,
                "-o", "/dev/null"]
    if by == "triage":
        return [python, "-m", "goparked", "triage", core, "--exe", exe]
    return [python, "-m", "goparked", core, "--exe", exe] + \
        VIEWS.get(by, ["--by", by])


def timed(argv, env=None):
    """(wall seconds, peak RSS in MB) of one run."""
    with tempfile.NamedTemporaryFile("r") as tf:
        subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%e %M"] + argv,
                       check=True, stdout=subprocess.DEVNULL, env=env)
        wall, rss = tf.read().split()[-2:]
    return float(wall), int(rss) / 1024


def floor(core):
    return timed(["cat", core])[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--toolchain", default="1.19")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--by", default=",".join(GROUPINGS))
    a = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=ROOT)
    # The engine and the package's bytecode, as the README's set-up leaves
    # them (without bytecode every run compiles the package first).
    subprocess.run(["make", "-s", "all"], cwd=ROOT, check=True)
    # The real interpreter, not a pyenv shim (a shell script in front).
    python = sys.executable
    # What this interpreter costs before goparked runs at all (site
    # packages included), measured beside the figures.
    start = min(timed([python, "-c", "pass"])[0] for _ in range(5))
    print("python start-up (%s -c pass): %.2f s" % (python, start))
    print("| goroutines | core | floor (cat) | --by | min | median | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for n in [int(x) for x in a.sizes.split(",")]:
        d = make_core.make(n, a.toolchain, log=lambda m: print(m, file=sys.stderr))
        core, exe = os.path.join(d, "core"), os.path.join(d, "fixture")
        size = os.path.getsize(core) / 2**30
        floor(core)  # warm the page cache
        fl = floor(core)
        for by in a.by.split(","):
            argv = command(python, core, exe, by)
            runs = [timed(argv, env) for _ in range(a.runs)]
            walls = [w for w, _ in runs]
            print("| %d | %.2f GB | %.2f s | %s | %.2f s | %.2f s | %.0f MB |" % (
                n, size, fl, by, min(walls), statistics.median(walls),
                max(r for _, r in runs)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
