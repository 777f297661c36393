#!/usr/bin/env python3
"""Cores of corefiles/leaks: the facts the leak verdict and the mutex holders
are checked against.

corefiles/leaks is a Go program (module goparked.test/leaks) that parks
goroutines whose fate it knows: leaked, leaked with no waker, lingering or
blocked, and holds mutexes in a dozen shapes with their true holders. Its
account (account.json, see corefiles/leaks/README.rst) says which goroutine
ids it parked where and what it expects of each. Where the runtime has a
goroutine leak detector (Go 1.27; 1.26 built with
GOEXPERIMENT=goroutineleakprofile, toolchain label "1.26x") and the mode is
"profile", the program asks it just before READY and records its answer:
the oracle of "leaked (proven)" is the runtime's. Asking leaves the leaked
goroutines in status _Gleaked in the core, so "plain" cores (the detector
not asked) are made too: a verdict must be computed on those.

    $GOPARKED_CACHE/corefiles/leaks-<go version>[-<experiment>]-<source hash>/<variant>/leaks
    .../<variant>/<scenario>-n<N>-<mode>/{core, dump.txt, account.json, heap.dump, meta.json}

heap.dump (plain cores) is the runtime's own heap dump (debug.WriteHeapDump),
written just before READY with the collector off, so that it describes the
heap of the core: every allocated object and its pointer words, the
globals, the goroutines' frames (tests/heapdump.py reads it). After the
leak profile the runtime cannot write one (dumpgs throws on _Gleaked).

    python3 corefiles/leakgen.py --toolchains 1.27,1.19 --modes plain,profile
    python3 corefiles/leakgen.py --matrix default --list

Toolchains, core pattern checks and process handling come from generate.py.
"""

from __future__ import annotations

import argparse
import hashlib
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
DEFAULT_N = 2
MODES = ("plain", "profile")


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


def source_hash() -> str:
    h = hashlib.sha256()
    for name in sorted(os.listdir(LEAKS_DIR)):
        if name.endswith(".go") or name in ("go.mod", "go.sum"):
            with open(os.path.join(LEAKS_DIR, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()[:12]


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


def build_dir(tc: Toolchain, variant: str) -> str:
    return os.path.join(generate.cache_root(), "leaks-%s-%s" % (tc.tag, source_hash()), variant)


def build(tc: Toolchain, variant: str) -> str:
    if variant not in VARIANTS:
        raise GenerateError("unknown variant %r" % variant)
    d = build_dir(tc, variant)
    exe = os.path.join(d, "leaks")
    with generate._lock_for(exe):
        if os.path.exists(exe):
            return exe
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, ".leaks.tmp%d.%d" % (os.getpid(), threading.get_ident()))
        cmd = [tc.go, "build", "-o", tmp]
        if generate.LDFLAGS[variant]:
            cmd.append("-ldflags=" + generate.LDFLAGS[variant])
        cmd.append(".")
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=tc.env(), cwd=LEAKS_DIR, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            generate._unlink(tmp)
            raise GenerateError("leaks build failed (%s %s): %s\n%s" % (tc.tag, variant, " ".join(cmd), p.stderr))
        generate._write_json_atomic(os.path.join(d, "build.json"), {
            "toolchain": tc.label, "go_version": tc.version, "experiment": tc.experiment, "variant": variant,
            "cmd": cmd, "source_hash": source_hash(), "seconds": round(time.monotonic() - t0, 2)})
        os.replace(tmp, exe)
        return exe


@dataclass
class Entry:
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

    def load_account(self) -> dict:
        with open(self.account) as f:
            return json.load(f)

    def load_meta(self) -> dict:
        with open(self.meta) as f:
            return json.load(f)

    def read_dump(self) -> str:
        with open(self.dump, errors="replace") as f:
            return f.read()


def entry_dir(tc: Toolchain, variant: str, scenario: str, n: int, mode: str) -> str:
    return os.path.join(build_dir(tc, variant), "%s-n%d-%s" % (scenario, n, mode))


def _entry_from_dir(d: str) -> Entry | None:
    meta = os.path.join(d, "meta.json")
    if not os.path.exists(meta):
        return None
    with open(meta) as f:
        m = json.load(f)
    return Entry(m["toolchain"], m["go_version"], m["variant"], m["scenario"], m["n"], m["mode"], d,
                 exe=os.path.join(os.path.dirname(d), "leaks"), core=os.path.join(d, "core"),
                 dump=os.path.join(d, "dump.txt"), account=os.path.join(d, "account.json"), meta=meta,
                 heapdump=os.path.join(d, "heap.dump"))


def run(tc: Toolchain, variant: str, scenario: str = "all", n: int = DEFAULT_N, mode: str = "plain",
        force: bool = False) -> Entry:
    """Make (or reuse) one cache entry and return it."""
    if scenario not in scenario_names():
        raise GenerateError("unknown leaks scenario %r (known: %s)" % (scenario, ", ".join(scenario_names())))
    if mode not in MODES:
        raise GenerateError("unknown mode %r (known: %s)" % (mode, ", ".join(MODES)))
    d = entry_dir(tc, variant, scenario, n, mode)
    if not force:
        e = _entry_from_dir(d)
        if e is not None:
            return e
    pattern = generate.check_core_pattern()
    exe = build(tc, variant)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-%s-n%d-%s-" % (scenario, n, mode), dir=os.path.dirname(d))
    try:
        acc = os.path.join(tmp, "account.json")
        dump = os.path.join(tmp, "dump.txt")
        env = dict(os.environ, GOTRACEBACK="crash")
        for k in ("GODEBUG", "GOMAXPROCS", "GOGC", "GOMEMLIMIT"):
            env.pop(k, None)
        cmd = [exe, "-scenario", scenario, "-n", str(n), "-account", acc,
               "-leakprofile=%s" % ("true" if mode == "profile" else "false")]
        if mode == "plain":
            # the runtime's heap dump refuses _Gleaked goroutines (dumpgs
            # throws "bad status" in 1.26 and 1.27): plain cores only
            cmd += ["-heapdump", os.path.join(tmp, "heap.dump")]
        t0 = time.monotonic()
        rc, out, t_ready = _run_until_core(cmd, tmp, env, dump, 180 + n / 1000.0)
        t_end = time.monotonic()
        with open(acc) as f:
            account = json.load(f)
        prof = account.get("runtime_leak_profile") or {}
        if mode == "profile" and tc.has_profile and not prof.get("available"):
            raise GenerateError("%s: the leak profile was expected in %s: %s" % (cmd, tc.tag, prof.get("reason")))
        meta = {
            "schema": 1, "program": "leaks", "toolchain": tc.label, "go_version": tc.version,
            "experiment": tc.experiment, "account_go_version": account["go_version"], "variant": variant,
            "scenario": scenario, "n": n, "mode": mode, "source_hash": source_hash(), "cmd": cmd,
            "env": {"GOTRACEBACK": "crash"}, "pid": account["pid"], "returncode": rc, "core_pattern": pattern,
            "stdout": out, "core_bytes": os.path.getsize(os.path.join(tmp, "core")),
            "seconds_to_ready": round(t_ready - t0, 3), "seconds_to_core": round(t_end - t_ready, 3),
            "created_unix": time.time(),
        }
        generate._write_json_atomic(os.path.join(tmp, "meta.json"), meta)
        if os.path.exists(d):
            old = d + ".old%d" % os.getpid()
            os.rename(d, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, d)
            tmp = None
        except OSError:
            if not os.path.exists(os.path.join(d, "meta.json")):
                raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    e = _entry_from_dir(d)
    assert e is not None
    return e


def _run_until_core(cmd, cwd, env, dump, ready_timeout):
    """Run until READY, SIGQUIT, wait for the SIGABRT; leave the core as cwd/core."""
    with open(dump, "wb") as errf:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=errf, start_new_session=True)
        try:
            generate._raise_core_limit(proc.pid)
            out = generate._wait_ready(proc, ready_timeout)
            t_ready = time.monotonic()
            time.sleep(generate.SETTLE_SECONDS)
            proc.send_signal(signal.SIGQUIT)
            rc = proc.wait(timeout=300)
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        finally:
            if proc.stdout:
                proc.stdout.close()
    if rc != -signal.SIGABRT:
        raise GenerateError("%s: expected death by SIGABRT after SIGQUIT, got returncode %s; stderr tail:\n%s"
                            % (" ".join(cmd), rc, generate._tail(dump)))
    cores = [f for f in os.listdir(cwd) if f.startswith("core") and generate._is_elf_core(os.path.join(cwd, f))]
    if not cores:
        raise GenerateError("no core file in %s (is kernel.core_pattern = core?)" % cwd)
    if cores[0] != "core":
        os.rename(os.path.join(cwd, cores[0]), os.path.join(cwd, "core"))
    return rc, out, t_ready


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


def ensure(toolchain: str, variant: str, mode: str = "plain", scenario: str = "all", n: int = DEFAULT_N) -> Entry:
    """The cache entry, generated if missing. Raises Unavailable / GenerateError."""
    return run(probe(toolchain), variant, scenario, n, mode)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--toolchains", default="all", help="all or a list (known: %s)" % ",".join(TOOLCHAINS))
    ap.add_argument("--variants", default="dwarf,stripped")
    ap.add_argument("--modes", default="plain,profile")
    ap.add_argument("--scenario", default="all")
    ap.add_argument("--matrix", choices=("default",), help="the CI cells (ignores --toolchains/--variants/--modes)")
    ap.add_argument("--n", type=int, default=DEFAULT_N)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--list", action="store_true", help="only print entries already in the cache")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: generate._STOP.set())
    if a.matrix:
        cells = default_matrix()
    else:
        split = lambda s, every: list(every) if s == "all" else [x for x in s.split(",") if x]  # noqa: E731
        cells = [(t, v, m) for t in split(a.toolchains, TOOLCHAINS) for v in split(a.variants, VARIANTS)
                 for m in split(a.modes, MODES) if m == "plain" or TOOLCHAINS[t][3]]
    errors = 0
    for t, v, m in cells:
        try:
            tc = probe(t)
            e = _entry_from_dir(entry_dir(tc, v, a.scenario, a.n, m)) if a.list else \
                run(tc, v, a.scenario, a.n, m, a.force)
        except Unavailable as ex:
            print("skip: %s" % ex, file=sys.stderr)
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
