#!/usr/bin/env python3
"""The pause a live target sees while goparked reads it.

Builds corefiles/live, starts it with N goroutines parked (10k, 100k, 1M by
default), and takes RUNS snapshots with goparked.live.snapshot_pid, as
`goparked --pid` does: the process runs again once what the snapshot reads
of it is copied, and the walk reads the copy (GP_ATTACH_RESUME_EARLY). For
each N it reports the pause the engine measured (first PTRACE_INTERRUPT to
last PTRACE_DETACH: gp_program_pause_ns), min and median, beside what the
stop and the copy alone cost in the same run (gp_program_from_pid and an
immediate resume), the wall time of the whole snapshot, and how many runs
needed a second stop (the copy was not enough; 0 expected here). The stop
itself is well under a millisecond; GOPARKED_LIVE_DEBUG=1 prints it with
the copy's figures, GOPARKED_PHASES=1 each phase.

    python3 bench/bench_pause.py [--sizes 10000,100000,1000000] [--runs 5]

The machine is shared and noisy: compare ratios, not absolute figures.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from goparked.live import snapshot_pid  # noqa: E402
from goparked.model import Program  # noqa: E402


def build(tmp):
    go = "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go",
                                               os.X_OK) else "go"
    out = Path(tmp) / "live"
    subprocess.run([go, "build", "-o", str(out), "."],
                   cwd=str(ROOT / "corefiles" / "live"), check=True,
                   env=dict(os.environ, CGO_ENABLED="0"))
    return out


def floor_pause(pid):
    """Stop every thread, copy, and detach, with no snapshot walk."""
    prog = Program.from_pid(pid)
    try:
        prog.resume()
        return prog.pause_ns
    finally:
        prog.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--runs", type=int, default=5)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = build(tmp)
        print("%9s %12s %12s %12s %12s %10s %8s" % (
            "goroutines", "pause min", "pause med", "stop+copy min",
            "snapshot med", "found", "2 stops"))
        for n in (int(x) for x in ns.sizes.split(",")):
            p = subprocess.Popen([str(binary), "-park", str(n)],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL,
                                 universal_newlines=True)
            try:
                assert "READY" in p.stdout.readline()
                time.sleep(1)
                pauses, floors, walls, found, twice = [], [], [], 0, 0
                for _ in range(ns.runs):
                    floors.append(floor_pause(p.pid))
                    t0 = time.perf_counter()
                    prog, snap = snapshot_pid(p.pid)
                    walls.append(time.perf_counter() - t0)
                    with prog, snap:
                        pauses.append(prog.pause_ns)
                        found = len(snap)
                        twice += prog._earlier_pause_ns > 0
                ms = lambda v: "%.1f ms" % (v / 1e6)  # noqa: E731
                print("%9d %12s %12s %12s %12s %10d %8d" % (
                    n, ms(min(pauses)), ms(statistics.median(pauses)),
                    ms(min(floors)), "%.1f ms" % (
                        statistics.median(walls) * 1e3), found, twice))
                sys.stdout.flush()
            finally:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
