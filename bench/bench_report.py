#!/usr/bin/env python3
"""Time the grouped report on big cores, beside the floor of this machine.

    python3 bench/bench_report.py [--sizes 10000,100000,1000000]
                                  [--toolchain 1.19] [--runs 5] [--by site,...]

--by takes groupings (site, stack, ...) and views: json (--json), jsonl
(--jsonl), jsonl-detail (--jsonl --detail), deadlocks (--deadlocks),
report (goparked report -o /dev/null), triage (goparked triage CORE).

For each size it makes (or reuses) a core with bench/make_core.py, warms the
page cache, and runs `goparked CORE --exe BIN --by X` several times, taking
from the kernel's account of each child (os.wait4's rusage) its wall time,
its CPU time (user + sys), its peak RSS and (sampled) its peak anonymous
memory, and reporting the minimum and median of wall and CPU time. The floor is one sequential read() of the same
core in the same run (1 MiB at a time, by a child like the others, so its
CPU time is the kernel copying the page cache). This machine is shared by
several engineers (load 6 to 12 on 2 CPUs): wall times are mostly other
people's work, so the CPU-time ratios to --by site and to the floor are
what compares (../shared/PERFORMANCE.md). The load average is printed
beside each row. Prints a Markdown table; nothing here is a test.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

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


def rss_anon(pid):
    """The child's resident anonymous memory now, in kB (0 once gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed(argv, env=None):
    """(wall seconds, CPU seconds user+sys, peak RSS in MB, peak anonymous
    RSS in MB) of one run. CPU time and peak RSS are the kernel's rusage of
    the child; peak RSS counts the pages of the core mapped at the time.
    The anonymous peak (what the engine allocates, the goal's measure) is
    sampled from /proc every 10 ms, so a shorter peak can be missed."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env)
    anon = 0
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        anon = max(anon, rss_anon(proc.pid))
        time.sleep(0.01)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit("%s: exit %d" % (" ".join(argv), proc.returncode))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, anon / 1024


READ = "import sys\nwith open(sys.argv[1], 'rb', buffering=0) as f:\n" \
       "    while f.read(1 << 20):\n        pass\n"


def floor(core):
    """One sequential read() of the core: (wall, CPU)."""
    w, c, _, _ = timed([sys.executable, "-S", "-c", READ, core])
    return w, c


def load():
    return os.getloadavg()[0]


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
    starts = [timed([python, "-c", "pass"]) for _ in range(5)]
    print("python start-up (%s -c pass): wall %.2f s, CPU %.2f s" % (
        python, min(r[0] for r in starts), min(r[1] for r in starts)))
    print("| goroutines | core | floor wall/CPU | --by | wall min | "
          "wall median | CPU min | CPU median | peak RSS | peak anon | CPU ratio to "
          "site | CPU ratio to floor | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in a.sizes.split(",")]:
        d = make_core.make(n, a.toolchain, log=lambda m: print(m, file=sys.stderr))
        core, exe = os.path.join(d, "core"), os.path.join(d, "fixture")
        size = os.path.getsize(core) / 2**30
        floor(core)  # warm the page cache
        fl = [floor(core) for _ in range(3)]
        fl_wall = min(w for w, _ in fl)
        fl_cpu = min(c for _, c in fl)
        site_cpu = None
        for by in a.by.split(","):
            argv = command(python, core, exe, by)
            la = load()
            runs = [timed(argv, env) for _ in range(a.runs)]
            la = (la + load()) / 2
            walls = [r[0] for r in runs]
            cpus = [r[1] for r in runs]
            cpu_med = statistics.median(cpus)
            if by == "site":
                site_cpu = cpu_med
            ratio = "%.2f" % (cpu_med / site_cpu) if site_cpu else "-"
            print("| %d | %.2f GB | %.2f / %.2f s | %s | %.2f s | %.2f s | "
                  "%.2f s | %.2f s | %.0f MB | %.0f MB | %s | %.1f | %.1f |" % (
                      n, size, fl_wall, fl_cpu, by, min(walls),
                      statistics.median(walls), min(cpus), cpu_med,
                      max(r[2] for r in runs), max(r[3] for r in runs), ratio,
                      cpu_med / fl_cpu if fl_cpu else 0, la))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
