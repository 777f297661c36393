#!/usr/bin/env python3
"""Cores of the leak-detector programs, corefiles/leaks and corefiles/reach:
the facts the leak verdict and the mutex holders are checked against.

corefiles/leaks is a Go program (module goparked.test/leaks) that parks
goroutines whose fate it knows: leaked, leaked with no waker, lingering or
blocked, and holds mutexes in a dozen shapes with their true holders. Its
account (account.json, see corefiles/leaks/README.rst) says which goroutine
ids it parked where and what it expects of each.

corefiles/reach (module goparked.test/reach) parks goroutines whose wait
objects are reachable only through a finalizer, a cleanup, a timer, the
netpoller, os/signal, sync.Pool, a sync.Map, a channel's buffer, another
parked goroutine's stack, a running goroutine's registers, a defer record,
reflect.Select..., next to the same shapes with the last reference dropped,
and the lock patterns. Its account says for each goroutine id whether the
runtime's detector must find it leaked.

Where the runtime has a goroutine leak detector (Go 1.27; 1.26 built with
GOEXPERIMENT=goroutineleakprofile, toolchain label "1.26x") and the mode is
"profile", the program asks it just before READY and records its answer:
the oracle of "leaked (proven)" is the runtime's. Asking leaves the leaked
goroutines in status _Gleaked in the core, so "plain" cores (the detector
not asked) are made too: a verdict must be computed on those. Mode "gcore"
(reach only): gdb's gcore of the live process after READY, threads stopped
where they ran (the other modes' cores are the kernel's after SIGQUIT with
GOTRACEBACK=crash: every thread in a signal handler); then SIGQUIT for the
runtime's dump.

    $GOPARKED_CACHE/corefiles/leaks-<go version>[-<experiment>]-<source hash>/<variant>/leaks
    .../<variant>/<scenario>-n<N>-<mode>/{core, dump.txt, account.json, heap.dump, meta.json}
    $GOPARKED_CACHE/corefiles/reach-<go version>-<source hash>/<variant>/reach
    .../<variant>/n<N>-<mode>/{core, dump.txt, account.json, meta.json}

heap.dump (leaks, plain cores) is the runtime's own heap dump
(debug.WriteHeapDump), written just before READY with the collector off, so
that it describes the heap of the core: every allocated object and its
pointer words, the globals, the goroutines' frames (tests/heapdump.py reads
it). After the leak profile the runtime cannot write one (dumpgs throws on
_Gleaked).

    python3 corefiles/leakgen.py --toolchains 1.27,1.19 --modes plain,profile
    python3 corefiles/leakgen.py --matrix default --list
    python3 corefiles/leakgen.py --program reach --toolchains 1.27,1.26,1.19 --modes plain,profile,gcore

Toolchains, core pattern checks, building and process handling come from
generate.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
LEAKS_DIR = os.path.join(HERE, "leaks")
REACH_DIR = os.path.join(HERE, "reach")
DEFAULT_N = 2
MODES = ("plain", "profile")


@dataclass(frozen=True)
class Program:
    """One of the leak-detector programs: its name is its executable's and
    its cache directories' prefix."""
    name: str
    src: str
    modes: tuple
    scenarios: bool  # takes -scenario; its entries are <scenario>-n<N>-<mode>, else n<N>-<mode>
    heapdump: bool  # its plain cores come with the runtime's heap dump


PROGRAMS = {
    "leaks": Program("leaks", LEAKS_DIR, MODES, scenarios=True, heapdump=True),
    "reach": Program("reach", REACH_DIR, MODES + ("gcore",), scenarios=False, heapdump=False),
}


def program(name: str) -> Program:
    if name not in PROGRAMS:
        raise GenerateError("unknown program %r (known: %s)" % (name, ", ".join(PROGRAMS)))
    return PROGRAMS[name]


def _load_generate():
    # The same module object tests/fixtures.py uses (one probe cache, one stop flag).
    name = "goparked_corefiles_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "generate.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


generate = _load_generate()
GenerateError = generate.GenerateError
Unavailable = generate.Unavailable

# label -> (go command, GOTOOLCHAIN, GOEXPERIMENT or "", has the leak profile)
TOOLCHAINS = {
    "1.19": (generate.GO_119, "local", "", False),
    "1.20": (generate.GO_LOCAL, "go1.20.14", "", False),
    "1.21": (generate.GO_LOCAL, "go1.21.13", "", False),
    "1.22": (generate.GO_LOCAL, "go1.22.12", "", False),
    "1.23": (generate.GO_LOCAL, "go1.23.12", "", False),
    "1.24": (generate.GO_LOCAL, "go1.24.11", "", False),
    "1.25": (generate.GO_LOCAL, "go1.25.5", "", False),
    "1.26": (generate.GO_LOCAL, "local", "", False),
    "1.26x": (generate.GO_LOCAL, "local", "goroutineleakprofile", True),
    "1.27": (generate.GO_LOCAL, "go1.27.3", "", True),
}
VARIANTS = generate.VARIANTS


@dataclass
class Toolchain:
    label: str
    go: str
    gotoolchain: str
    experiment: str
    has_profile: bool
    version: str = ""  # go1.27.3, filled by probe()

    def env(self) -> dict:
        env = generate.Toolchain(self.label, self.go, self.gotoolchain).env()
        env.pop("GOEXPERIMENT", None)
        if self.experiment:
            env["GOEXPERIMENT"] = self.experiment
        return env

    @property
    def tag(self) -> str:
        return self.version + ("-X" + self.experiment if self.experiment else "")


_probe_lock = threading.Lock()
_probe_cache: dict = {}


def probe(label: str, timeout: float = 600) -> Toolchain:
    """The toolchain with its exact version, or raise Unavailable."""
    if label not in TOOLCHAINS:
        raise Unavailable("unknown toolchain %r (known: %s)" % (label, ", ".join(TOOLCHAINS)))
    with _probe_lock:
        hit = _probe_cache.get(label)
        if hit is None:
            try:
                hit = _probe(label, timeout)
            except Unavailable as e:
                hit = e
            _probe_cache[label] = hit
    if isinstance(hit, Unavailable):
        raise hit
    return hit


def _probe(label: str, timeout: float) -> Toolchain:
    tc = Toolchain(label, *TOOLCHAINS[label])
    base = label.rstrip("x")
    if not os.access(tc.go, os.X_OK):
        raise Unavailable("Go %s: %s not installed" % (label, tc.go))
    try:
        p = subprocess.run([tc.go, "version"], env=tc.env(), cwd=LEAKS_DIR, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Unavailable("Go %s: `%s version` timed out" % (label, tc.go))
    m = re.search(r"go version (go1\.\d+(?:\.\d+)?)\S* ", p.stdout)
    if p.returncode != 0 or not m:
        raise Unavailable("Go %s: `%s version` (GOTOOLCHAIN=%s) failed: %s"
                          % (label, tc.go, tc.gotoolchain, (p.stderr or p.stdout).strip()[-500:]))
    tc.version = m.group(1)
    if not (tc.version == "go" + base or tc.version.startswith("go" + base + ".")):
        raise Unavailable("Go %s: got %s instead" % (label, tc.version))
    return tc


def source_hash(prog: str = "leaks") -> str:
    # reach's spin_amd64.s is in it: an edited .s is a new build, not a
    # stale cached core
    return generate.dir_hash(program(prog).src)


def cases() -> list[dict]:
    """The program's TABLE, parsed from cases.go (no build needed)."""
    with open(os.path.join(LEAKS_DIR, "cases.go")) as f:
        src = f.read()
    body = src[src.index("var TABLE = []Case{"):]
    body = body[: body.index("\n}\n")]
    return [{"name": m.group(1), "pattern": m.group(2), "source": m.group(3), "description": m.group(4)}
            for m in re.finditer(r'^\s*\{"([a-z0-9_]+)", "([^"]*)", (\w+), "([^"]*)", \w+\},$', body, re.M)]


def scenario_names() -> list[str]:
    return ["all"] + [c["name"] for c in cases()]


def build_dir(tc: Toolchain, variant: str, prog: str = "leaks") -> str:
    return os.path.join(generate.cache_root(), "%s-%s-%s" % (prog, tc.tag, source_hash(prog)), variant)


def build(tc: Toolchain, variant: str, prog: str = "leaks") -> str:
    if variant not in VARIANTS:
        raise GenerateError("unknown variant %r" % variant)
    ldflags = generate.LDFLAGS[variant]
    return generate.go_build(tc.go, tc.env(), program(prog).src, build_dir(tc, variant, prog), prog,
                             ["-ldflags=" + ldflags] if ldflags else [], {
                                 "toolchain": tc.label, "go_version": tc.version, "experiment": tc.experiment,
                                 "variant": variant, "source_hash": source_hash(prog)},
                             "%s %s %s" % (prog, tc.tag, variant))


@dataclass
class Entry(generate.EntryFiles):
    toolchain: str
    go_version: str
    variant: str
    scenario: str
    n: int
    mode: str
    dir: str
    exe: str
    core: str
    dump: str
    account: str
    meta: str
    heapdump: str = ""


def entry_dir(tc: Toolchain, variant: str, scenario: str, n: int, mode: str, prog: str = "leaks") -> str:
    name = ("%s-n%d-%s" % (scenario, n, mode)) if program(prog).scenarios else "n%d-%s" % (n, mode)
    return os.path.join(build_dir(tc, variant, prog), name)


def _entry_from_dir(d: str, prog: str = "leaks") -> Entry | None:
    meta = os.path.join(d, "meta.json")
    if not os.path.exists(meta):
        return None
    with open(meta) as f:
        m = json.load(f)
    return Entry(m["toolchain"], m["go_version"], m["variant"], m.get("scenario", ""), m["n"], m["mode"], d,
                 exe=os.path.join(os.path.dirname(d), prog), core=os.path.join(d, "core"),
                 dump=os.path.join(d, "dump.txt"), account=os.path.join(d, "account.json"), meta=meta,
                 heapdump=os.path.join(d, "heap.dump") if program(prog).heapdump else "")


def run(tc: Toolchain, variant: str, scenario: str = "all", n: int = DEFAULT_N, mode: str = "plain",
        force: bool = False, prog: str = "leaks") -> Entry:
    """Make (or reuse) one cache entry of the program and return it
    (scenario: leaks only)."""
    p = program(prog)
    if p.scenarios and scenario not in scenario_names():
        raise GenerateError("unknown leaks scenario %r (known: %s)" % (scenario, ", ".join(scenario_names())))
    if mode not in p.modes:
        raise GenerateError("unknown %s mode %r (known: %s)" % (prog, mode, ", ".join(p.modes)))
    if mode == "profile" and not tc.has_profile:
        raise Unavailable("Go %s has no goroutineleak profile" % tc.label)
    if mode == "gcore" and not shutil.which("gcore"):
        raise Unavailable("no gcore (gdb) on this machine")
    d = entry_dir(tc, variant, scenario, n, mode, prog)
    e = None if force else _entry_from_dir(d, prog)
    if e is not None:
        return e
    pattern = generate.check_core_pattern()
    exe = build(tc, variant, prog)
    with generate._lock_for(d):
        e = None if force else _entry_from_dir(d, prog)
        if e is not None:
            return e
        _make(tc, variant, scenario, n, mode, p, exe, d, pattern, force)
    e = _entry_from_dir(d, prog)
    assert e is not None
    return e


def _make(tc: Toolchain, variant: str, scenario: str, n: int, mode: str, p: Program, exe: str, d: str,
          pattern: str, force: bool = False) -> None:
    tmp = tempfile.mkdtemp(prefix=".tmp-%s-n%d-%s-" % (scenario or p.name, n, mode), dir=os.path.dirname(d))
    try:
        acc = os.path.join(tmp, "account.json")
        dump = os.path.join(tmp, "dump.txt")
        env = generate.program_env()
        cmd = [exe] + (["-scenario", scenario] if p.scenarios else []) + \
            ["-n", str(n), "-account", acc, "-leakprofile=%s" % ("true" if mode == "profile" else "false")]
        if p.heapdump and mode == "plain":
            # the runtime's heap dump refuses _Gleaked goroutines (dumpgs
            # throws "bad status" in 1.26 and 1.27): plain cores only
            cmd += ["-heapdump", os.path.join(tmp, "heap.dump")]
        t0 = time.monotonic()
        if mode == "gcore":
            rc, out, t_ready = generate.run_until_ready(cmd, tmp, env, dump, 180 + n / 1000.0,
                                                        lambda proc: _gcore_then_quit(proc, tmp), core_limit=False)
        else:
            rc, out, t_ready = generate.run_until_ready(cmd, tmp, env, dump, 180 + n / 1000.0, _quit)
            generate.take_core(tmp, generate.ARCH_RUN["amd64"][0], cmd, rc, "SIGQUIT", dump, pattern)
        t_end = time.monotonic()
        with open(acc) as f:
            account = json.load(f)
        prof = account.get("runtime_leak_profile") or {}
        if mode == "profile" and not prof.get("available"):
            raise GenerateError("%s: the leak profile was expected in %s: %s" % (cmd, tc.tag, prof.get("reason")))
        meta = {
            "schema": 1, "program": p.name, "toolchain": tc.label, "go_version": tc.version,
            "experiment": tc.experiment, "account_go_version": account["go_version"], "variant": variant,
            "n": n, "mode": mode, "source_hash": source_hash(p.name), "cmd": cmd,
            "env": {"GOTRACEBACK": "crash"}, "pid": account["pid"], "returncode": rc, "core_pattern": pattern,
            "stdout": out, "core_bytes": os.path.getsize(os.path.join(tmp, "core")),
            "seconds_to_ready": round(t_ready - t0, 3), "seconds_to_core": round(t_end - t_ready, 3),
            "created_unix": time.time(),
        }
        if p.scenarios:
            meta["scenario"] = scenario
        generate._write_json_atomic(os.path.join(tmp, "meta.json"), meta)
        generate.commit_entry(tmp, d, replace=force)
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _quit(proc) -> int:
    proc.send_signal(signal.SIGQUIT)
    return proc.wait(timeout=300)


def _gcore_then_quit(proc, cwd: str) -> int:
    """gcore the live process (threads stopped by ptrace wherever they were:
    a running goroutine's registers are the thread's), then SIGQUIT for the
    runtime's dump; the gcore becomes cwd/core, in place of any core the
    kernel wrote of the SIGABRT."""
    g = subprocess.run(["gcore", "-o", os.path.join(cwd, "gcore"), str(proc.pid)], capture_output=True,
                       text=True, timeout=300)
    path = os.path.join(cwd, "gcore.%d" % proc.pid)
    if g.returncode != 0 or not os.path.exists(path):
        raise GenerateError("gcore failed (rc %s): %s" % (g.returncode, (g.stderr or g.stdout)[-500:]))
    rc = _quit(proc)
    for f in os.listdir(cwd):
        if f.startswith("core"):
            os.unlink(os.path.join(cwd, f))
    os.rename(path, os.path.join(cwd, "core"))
    return rc


def default_matrix() -> list[tuple[str, str, str]]:
    """(toolchain, variant, mode) of the `all` scenario that CI must have:
    the oracle runs on both toolchains with a detector, plain cores on every
    toolchain with DWARF and on the oldest and newest stripped."""
    cells = [("1.27", "dwarf", "profile"), ("1.26x", "dwarf", "profile")]
    for t in TOOLCHAINS:
        if t != "1.26x":
            cells.append((t, "dwarf", "plain"))
    cells += [("1.19", "stripped", "plain"), ("1.26", "stripped", "plain"), ("1.27", "stripped", "plain")]
    return cells


def ensure(toolchain: str, variant: str, mode: str = "plain", scenario: str = "all", n: int = DEFAULT_N,
           prog: str = "leaks") -> Entry:
    """The cache entry, generated if missing. Raises Unavailable / GenerateError."""
    return run(probe(toolchain), variant, scenario, n, mode, prog=prog)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--program", default="leaks", choices=sorted(PROGRAMS))
    ap.add_argument("--toolchains", default="all", help="all or a list (known: %s)" % ",".join(TOOLCHAINS))
    ap.add_argument("--variants", default="dwarf,stripped")
    ap.add_argument("--modes", default="plain,profile", help="all or a list (leaks: %s; reach: %s)"
                    % (",".join(PROGRAMS["leaks"].modes), ",".join(PROGRAMS["reach"].modes)))
    ap.add_argument("--scenario", default="all", help="leaks only")
    ap.add_argument("--matrix", choices=("default",), help="leaks: the CI cells (ignores --toolchains/--variants/--modes)")
    ap.add_argument("--n", type=int, default=DEFAULT_N)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--list", action="store_true", help="only print entries already in the cache")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: generate._STOP.set())
    prog = a.program
    if a.matrix:
        if prog != "leaks":
            ap.error("--matrix default is the leaks program's")
        cells = default_matrix()
    else:
        split = lambda s, every: list(every) if s == "all" else [x for x in s.split(",") if x]  # noqa: E731
        cells = [(t, v, m) for t in split(a.toolchains, TOOLCHAINS) for v in split(a.variants, VARIANTS)
                 for m in split(a.modes, PROGRAMS[prog].modes) if m != "profile" or TOOLCHAINS[t][3]]
    errors = 0
    for t, v, m in cells:
        try:
            tc = probe(t)
            e = _entry_from_dir(entry_dir(tc, v, a.scenario, a.n, m, prog), prog) if a.list else \
                run(tc, v, a.scenario, a.n, m, a.force, prog)
        except Unavailable as ex:
            print("skip: %s %s %s: %s" % (t, v, m, ex), file=sys.stderr)
            continue
        except GenerateError as ex:
            print("error: %s %s %s: %s" % (t, v, m, ex), file=sys.stderr)
            errors += 1
            continue
        if e is not None:
            print(e.dir)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
