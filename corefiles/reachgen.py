#!/usr/bin/env python3
"""Cores of corefiles/reach: subtle reachability, checked against the
runtime's goroutine leak detector and the program's own account.

corefiles/reach parks goroutines whose wait objects are reachable only
through a finalizer, a cleanup, a timer, the netpoller, os/signal,
sync.Pool, a sync.Map, a channel's buffer, another parked goroutine's
stack, a running goroutine's registers, a defer record, reflect.Select...,
next to the same shapes with the last reference dropped, and the lock
patterns. Its account (account.json) says for each goroutine id whether the
runtime's detector must find it leaked; in mode "profile" (toolchains with
the detector) it also records what the detector reported just before the
core.

    $GOPARKED_CACHE/corefiles/reach-<go version>-<source hash>/<variant>/reach
    .../<variant>/n<N>-<mode>/{core, dump.txt, account.json, meta.json}

Modes: plain (the core of GOTRACEBACK=crash after SIGQUIT: every thread in
a signal handler), profile (the same, after the runtime's goroutineleak
profile) and gcore (gdb's gcore of the live process after READY, threads
stopped where they ran; then SIGQUIT for the runtime's dump).

Toolchains come from leakgen.py (1.19 ... 1.27), process handling from
generate.py.

    python3 corefiles/reachgen.py --toolchains 1.27,1.26,1.19 --variants dwarf,stripped
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
REACH_DIR = os.path.join(HERE, "reach")
DEFAULT_N = 2


def _load_leakgen():
    name = "goparked_corefiles_leakgen"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "leakgen.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


leakgen = _load_leakgen()
generate = leakgen.generate
GenerateError = generate.GenerateError
Unavailable = generate.Unavailable
TOOLCHAINS = tuple(leakgen.TOOLCHAINS)
VARIANTS = generate.VARIANTS


def source_hash() -> str:
    h = hashlib.sha256()
    for name in sorted(os.listdir(REACH_DIR)):
        if name.endswith(".go") or name in ("go.mod", "go.sum"):
            with open(os.path.join(REACH_DIR, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()[:12]


def build_dir(tc, variant: str) -> str:
    return os.path.join(generate.cache_root(), "reach-%s-%s" % (tc.tag, source_hash()), variant)


def build(tc, variant: str) -> str:
    if variant not in VARIANTS:
        raise GenerateError("unknown variant %r" % variant)
    d = build_dir(tc, variant)
    exe = os.path.join(d, "reach")
    with generate._lock_for(exe):
        if os.path.exists(exe):
            return exe
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, ".reach.tmp%d.%d" % (os.getpid(), threading.get_ident()))
        cmd = [tc.go, "build", "-o", tmp]
        if generate.LDFLAGS[variant]:
            cmd.append("-ldflags=" + generate.LDFLAGS[variant])
        cmd.append(".")
        p = subprocess.run(cmd, env=tc.env(), cwd=REACH_DIR, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            generate._unlink(tmp)
            raise GenerateError("reach build failed (%s %s): %s\n%s" % (tc.tag, variant, " ".join(cmd), p.stderr))
        os.replace(tmp, exe)
        return exe


@dataclass
class Entry:
    toolchain: str
    go_version: str
    variant: str
    mode: str
    dir: str
    exe: str
    core: str
    dump: str
    account: str

    def load_account(self) -> dict:
        with open(self.account) as f:
            return json.load(f)


def _entry(tc, variant: str, mode: str, d: str) -> Entry | None:
    if not os.path.exists(os.path.join(d, "meta.json")):
        return None
    return Entry(tc.label, tc.version, variant, mode, d, os.path.join(os.path.dirname(d), "reach"),
                 os.path.join(d, "core"), os.path.join(d, "dump.txt"), os.path.join(d, "account.json"))


MODES = leakgen.MODES + ("gcore",)


def _run_gcore(cmd, cwd, env, dump, ready_timeout):
    """Run until READY, gcore the live process (threads stopped by ptrace
    wherever they were: a running goroutine's registers are the thread's),
    then SIGQUIT for the runtime's dump; keep the gcore as cwd/core."""
    with open(dump, "wb") as errf:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=errf, start_new_session=True)
        try:
            out = generate._wait_ready(proc, ready_timeout)
            time.sleep(generate.SETTLE_SECONDS)
            g = subprocess.run(["gcore", "-o", os.path.join(cwd, "gcore"), str(proc.pid)], capture_output=True,
                               text=True, timeout=300)
            path = os.path.join(cwd, "gcore.%d" % proc.pid)
            if g.returncode != 0 or not os.path.exists(path):
                raise GenerateError("gcore failed (rc %s): %s" % (g.returncode, (g.stderr or g.stdout)[-500:]))
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
    for f in os.listdir(cwd):
        if f.startswith("core"):
            os.unlink(os.path.join(cwd, f))
    os.rename(path, os.path.join(cwd, "core"))
    return rc, out, None


def run(tc, variant: str, mode: str, n: int = DEFAULT_N, force: bool = False) -> Entry:
    if mode not in MODES:
        raise GenerateError("unknown mode %r" % mode)
    if mode == "profile" and not tc.has_profile:
        raise Unavailable("Go %s has no goroutineleak profile" % tc.label)
    d = os.path.join(build_dir(tc, variant), "n%d-%s" % (n, mode))
    e = None if force else _entry(tc, variant, mode, d)
    if e is not None:
        return e
    pattern = generate.check_core_pattern()
    exe = build(tc, variant)
    with generate._lock_for(d):
        e = None if force else _entry(tc, variant, mode, d)
        if e is not None:
            return e
        tmp = tempfile.mkdtemp(prefix=".tmp-n%d-%s-" % (n, mode), dir=os.path.dirname(d))
        try:
            acc = os.path.join(tmp, "account.json")
            env = dict(os.environ, GOTRACEBACK="crash")
            for k in ("GODEBUG", "GOMAXPROCS", "GOGC", "GOMEMLIMIT"):
                env.pop(k, None)
            cmd = [exe, "-n", str(n), "-account", acc,
                   "-leakprofile=%s" % ("true" if mode == "profile" else "false")]
            if mode == "gcore":
                if not shutil.which("gcore"):
                    raise Unavailable("no gcore (gdb) on this machine")
                rc, out, _ = _run_gcore(cmd, tmp, env, os.path.join(tmp, "dump.txt"), 180)
            else:
                rc, out, _ = leakgen._run_until_core(cmd, tmp, env, os.path.join(tmp, "dump.txt"), 180)
            generate._write_json_atomic(os.path.join(tmp, "meta.json"), {
                "program": "reach", "toolchain": tc.label, "go_version": tc.version, "variant": variant,
                "mode": mode, "n": n, "cmd": cmd, "source_hash": source_hash(), "returncode": rc,
                "core_pattern": pattern, "stdout": out, "created_unix": time.time()})
            if os.path.exists(d):
                shutil.rmtree(d, ignore_errors=True)
            os.rename(tmp, d)
            tmp = None
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    e = _entry(tc, variant, mode, d)
    assert e is not None
    return e


def ensure(toolchain: str, variant: str, mode: str, n: int = DEFAULT_N) -> Entry:
    """The cache entry, generated if missing. Raises Unavailable / GenerateError."""
    return run(leakgen.probe(toolchain), variant, mode, n)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--toolchains", default="1.27,1.26,1.19")
    ap.add_argument("--variants", default="dwarf,stripped")
    ap.add_argument("--modes", default="plain,profile")
    ap.add_argument("--n", type=int, default=DEFAULT_N)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    errors = 0
    for t in a.toolchains.split(","):
        for v in a.variants.split(","):
            for m in a.modes.split(","):
                try:
                    print(run(leakgen.probe(t), v, m, a.n, a.force).dir)
                except Unavailable as ex:
                    print("skip: %s %s %s: %s" % (t, v, m, ex), file=sys.stderr)
                except GenerateError as ex:
                    print("error: %s %s %s: %s" % (t, v, m, ex), file=sys.stderr)
                    errors += 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
