#!/usr/bin/env python3
"""Time the leak verdict against the grouped view, on the same big core.

    python3 bench/bench_verdict.py [--n 1000000] [--runs 5]
                                   [--core fixture|heapcore|both]

For each core (bench/make_core.py: the fixture's seven patterns, and
bench/heapcore, the verdict's shapes over a heap of several GB; both made
once and cached) it warms the page cache, then runs, alternately so that
both see the same machine, `goparked CORE --by site` and `goparked CORE
--leaks` (the verdict: the analyses, a mark of the whole heap, the
evidence, the view), and prints per command the minimum and median wall
time, the median CPU time (user + sys), the ratios of the medians to
--by site's, the peak RSS (the kernel's rusage) and the load average
before and after (this machine is shared: only the ratio compares
across runs; "pairs" is the median of each round's ratio, the two runs
of a round next to each other in time). GOPARKED_PHASES=1 on one more
--leaks run gives where the time goes. Nothing here is a test.
"""

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_core  # noqa: E402
from bench_report import floor, timed  # noqa: E402

VIEWS = {"--by site": ["--by", "site"], "--leaks": ["--leaks"]}


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def core_of(kind, n, toolchain):
    if kind == "heapcore":
        d = make_core.make_heapcore(n, toolchain=toolchain)
        return os.path.join(d, "core"), os.path.join(d, "heapcore")
    d = make_core.make(n, toolchain)
    return os.path.join(d, "core"), os.path.join(d, "fixture")


def bench(core, exe, runs, log):
    py = sys.executable
    base = [py, "-m", "goparked", core, "--exe", exe]
    env = dict(os.environ, PYTHONPATH=ROOT)
    fl = floor(core)[0]
    l0 = load()
    times = {v: [] for v in VIEWS}
    cpu = {v: [] for v in VIEWS}
    rss = {v: 0.0 for v in VIEWS}
    anon = {v: 0.0 for v in VIEWS}
    for r in range(runs):
        for v, args in VIEWS.items():
            t, c, m, a = timed(base + args, env=env)
            times[v].append(t)
            cpu[v].append(c)
            rss[v] = max(rss[v], m)
            anon[v] = max(anon[v], a)
            log("run %d %s: %.2fs (cpu %.2fs) %d MB, anon %d MB"
                % (r + 1, v, t, c, m, a))
    l1 = load()
    phases = subprocess.run(base + ["--leaks"], env=dict(env, GOPARKED_PHASES="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True).stderr
    return fl, (l0, l1), times, cpu, rss, anon, phases


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--core", choices=("fixture", "heapcore", "both"),
                    default="both")
    ap.add_argument("--toolchain", default="1.26")
    a = ap.parse_args()
    subprocess.run(["make", "-s", "-C", ROOT, "all"], check=True)

    def log(m):
        print(m, file=sys.stderr)
    kinds = ("fixture", "heapcore") if a.core == "both" else (a.core,)
    rows = []
    for kind in kinds:
        core, exe = core_of(kind, a.n, a.toolchain)
        fl, loads, times, cpu, rss, anon, phases = bench(core, exe, a.runs, log)
        gb = os.path.getsize(core) / 1e9
        med = {v: statistics.median(t) for v, t in times.items()}
        mcpu = {v: statistics.median(t) for v, t in cpu.items()}
        # each round's two runs are next to each other in time: the
        # median of their ratios moves less with a machine whose speed
        # drifts over minutes than the ratio of the medians
        pair = {v: statistics.median(x / y for x, y in zip(times[v], times["--by site"]))
                for v in VIEWS}
        pcpu = {v: statistics.median(x / y for x, y in zip(cpu[v], cpu["--by site"]))
                for v in VIEWS}
        for v in VIEWS:
            rows.append((kind, "%.2fG" % gb, "%.2fs" % fl, v,
                         "%.2fs" % min(times[v]), "%.2fs" % med[v],
                         "%.1f" % (med[v] / med["--by site"]),
                         "%.2f" % pair[v],
                         "%.2fs" % mcpu[v],
                         "%.1f" % (mcpu[v] / mcpu["--by site"]),
                         "%.2f" % pcpu[v],
                         "%d MB" % rss[v], "%d MB" % anon[v],
                         "%.1f-%.1f" % loads))
        log(phases)
    head = ("core", "size", "floor", "view", "min", "median", "ratio",
            "pairs", "cpu", "ratio", "pairs", "peak RSS", "peak anon", "load")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    sep = "  ".join("=" * w for w in widths)
    print(sep)
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print(sep)
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print(sep)


if __name__ == "__main__":
    main()
