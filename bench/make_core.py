#!/usr/bin/env python3
"""Make a big core for the benchmarks: the fixture program parking N
goroutines in seven patterns (a channel receive, a send on a full channel,
a mutex, a WaitGroup, a sleep, select {}, a nil channel; the patterns of
../shared/PERFORMANCE.md), taken with gdb's gcore (the runtime's own crash
dump takes minutes at 1M goroutines).

    python3 bench/make_core.py --n 100000 [--toolchain 1.26] [--variant dwarf]
    python3 bench/make_core.py --n 1000000 --heapcore   # bench_verdict.py's

Prints the directory holding `core` and `fixture` (the executable). Cores
are cached under $GOPARKED_CACHE/bench/, keyed by toolchain, source and N.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "corefiles"))
import generate  # noqa: E402

SCENARIOS = ["chan_recv", "chan_send_full", "mutex_local", "waitgroup",
             "sleep_long", "select_empty", "nil_chan"]


def core_when_ready(argv, tmp, n, log):
    """Runs argv until it prints READY, takes tmp/core with gcore, kills it."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            if line.strip() == "READY":
                break
        else:
            raise SystemExit("%s exited before READY" % argv[0])
        log("parked %d goroutines in %.1fs; taking the core"
            % (n, time.monotonic() - t0))
        t1 = time.monotonic()
        subprocess.run(["gdb", "-nx", "-batch", "-iex", "set auto-load off",
                        "-p", str(proc.pid), "-ex",
                        "gcore %s" % os.path.join(tmp, "core")],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        log("gcore took %.1fs" % (time.monotonic() - t1))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def make(n, toolchain="1.26", variant="dwarf", log=print):
    tcs, skipped = generate.available_toolchains([toolchain])
    if not tcs:
        raise SystemExit("toolchain %s unavailable: %s" % (toolchain, skipped))
    tc = tcs[0]
    exe = generate.build(tc, variant)
    d = os.path.join(os.path.dirname(generate.cache_root()), "bench",
                     "%s-%s" % (tc.version, generate.source_hash()),
                     variant, "n%d" % n)
    if os.path.exists(os.path.join(d, "core")):
        return d
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    shutil.copy2(exe, os.path.join(tmp, "fixture"))
    # nil_chan parks 2 per n (a sender and a receiver): share n evenly.
    per = max(1, n // (len(SCENARIOS) + 1))
    core_when_ready([os.path.join(tmp, "fixture"), "-scenario",
                     ",".join(SCENARIOS), "-n", str(per), "-account",
                     os.path.join(tmp, "account.json")], tmp, n, log)
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump({"n": n, "per_scenario": per, "scenarios": SCENARIOS,
                   "go_version": tc.version, "variant": variant}, f)
    shutil.rmtree(d, ignore_errors=True)
    os.rename(tmp, d)
    return d


HEAPCORE = os.path.join(HERE, "heapcore")


def _heapcore_hash():
    import hashlib
    h = hashlib.sha256()
    for name in sorted(os.listdir(HEAPCORE)):
        with open(os.path.join(HEAPCORE, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()[:12]


def make_heapcore(n, heap_args=(), toolchain="1.26", log=print):
    """A core of bench/heapcore: n goroutines in the leak verdict's shapes
    over a heap of several GB (its flags: -buf, -nodes, -nodebuf). Cached
    under $GOPARKED_CACHE/bench/heapcore-<go>-<source hash>/n<N><flags>/."""
    tcs, skipped = generate.available_toolchains([toolchain])
    if not tcs:
        raise SystemExit("toolchain %s unavailable: %s" % (toolchain, skipped))
    tc = tcs[0]
    tag = "n%d%s" % (n, "".join(a.replace("-", "_").replace("=", "")
                                for a in heap_args))
    d = os.path.join(os.path.dirname(generate.cache_root()), "bench",
                     "heapcore-%s-%s" % (tc.version, _heapcore_hash()), tag)
    if os.path.exists(os.path.join(d, "core")):
        return d
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    exe = os.path.join(tmp, "heapcore")
    subprocess.run([tc.go, "build", "-o", exe, "."], cwd=HEAPCORE, check=True,
                   env=dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod"))
    core_when_ready([exe, "-n", str(n)] + list(heap_args), tmp, n, log)
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump({"n": n, "heap_args": list(heap_args),
                   "go_version": tc.version, "program": "heapcore"}, f)
    shutil.rmtree(d, ignore_errors=True)
    os.rename(tmp, d)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--toolchain", default="1.26")
    ap.add_argument("--variant", default="dwarf")
    ap.add_argument("--heapcore", action="store_true",
                    help="bench/heapcore (the verdict's shapes over a heap "
                    "of several GB) instead of the fixture")
    a = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if a.heapcore:
        print(make_heapcore(a.n, toolchain=a.toolchain, log=log))
    else:
        print(make(a.n, a.toolchain, a.variant, log=log))


if __name__ == "__main__":
    main()
