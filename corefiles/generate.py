#!/usr/bin/env python3
"""Build the goparked fixture with every available Go toolchain and make cores.

For each (toolchain, variant, scenario, N) the cache holds one entry directory:

    $GOPARKED_CACHE/corefiles/<go version>-<source hash>/<variant>/fixture
    $GOPARKED_CACHE/corefiles/<go version>-<source hash>/<variant>/<scenario>-n<N>/
        core          the kernel core dump (GOTRACEBACK=crash, SIGQUIT -> SIGABRT)
        dump.txt      the runtime's own goroutine dump (the process's stderr)
        account.json  what the fixture says it parked (see corefiles/README.rst)
        meta.json     toolchain, go version, variant, scenario, N, paths, timings

($GOPARKED_CACHE defaults to ~/.cache/goparked.) Entries are made in a
temporary directory next to the final one and renamed into place, so an
interrupted run never leaves a half entry. Python 3 stdlib only; importable by
tests (see tests/fixtures.py).

    python3 corefiles/generate.py --toolchains all --variants dwarf,stripped \\
        --scenarios all --n 3          # print the entry directories made
    python3 corefiles/generate.py --matrix default
    python3 corefiles/generate.py --list    # what exists in the cache, no work
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE_DIR = os.path.join(HERE, "fixture")
DEFAULT_N = 3
SETTLE_SECONDS = 0.3
VARIANTS = ("dwarf", "stripped")
LDFLAGS = {"dwarf": None, "stripped": "-s -w"}

GO_LOCAL = "/usr/local/go/bin/go"
GO_119 = "/usr/lib/go-1.19/bin/go"
# Without /usr/local/go (a fresh machine has only Debian's Go 1.19, which
# knows no GOTOOLCHAIN), this release stands in for it: fetched once by Go
# 1.19 through the module proxy, see fetched_go().
GO_LOCAL_FETCHED = "go1.26.8"

# label -> (go command, GOTOOLCHAIN value). Ordered oldest first.
TOOLCHAINS = {
    "1.19": (GO_119, "local"),
    "1.20": (GO_LOCAL, "go1.20.14"),
    "1.21": (GO_LOCAL, "go1.21.13"),
    "1.22": (GO_LOCAL, "go1.22.12"),
    "1.23": (GO_LOCAL, "go1.23.12"),
    "1.24": (GO_LOCAL, "go1.24.11"),
    "1.25": (GO_LOCAL, "go1.25.5"),
    "1.26": (GO_LOCAL, "local"),
    "1.27": (GO_LOCAL, "go1.27.3"),
}

RUN_ENV = {"GOTRACEBACK": "crash"}


def run_godebug(tc) -> dict:
    """What a main module at the toolchain's own go version gets by default
    and the fixture's go.mod (go 1.19) does not: from 1.27 the runtime's
    dump prints pprof labels in each goroutine header (tracebacklabels=1),
    which tests/oracle.py compares with goparked's labels."""
    minor = int(tc.version.split(".")[1])
    return {"GODEBUG": "tracebacklabels=1"} if minor >= 27 else {}


# Default matrix (CI): every scenario on the newest and the oldest toolchain,
# the `all` scenario on every toolchain x both variants.
DEFAULT_EVERY_SCENARIO_TOOLCHAINS = (list(TOOLCHAINS)[-1], list(TOOLCHAINS)[0])  # newest, oldest


_STOP = threading.Event()  # set by SIGINT/SIGTERM in the CLI: workers kill their fixture and clean up


class Unavailable(Exception):
    """A toolchain cannot be used on this machine (not installed, no download)."""


class GenerateError(Exception):
    """Building or running the fixture failed."""


# ------------------------------------------------------------------ utilities


def cache_root() -> str:
    base = os.environ.get("GOPARKED_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "goparked")
    return os.path.join(base, "corefiles")


def source_hash() -> str:
    h = hashlib.sha256()
    for name in sorted(os.listdir(FIXTURE_DIR)):
        if name.endswith(".go") or name in ("go.mod", "go.sum"):
            h.update(name.encode() + b"\0")
            with open(os.path.join(FIXTURE_DIR, name), "rb") as f:
                h.update(f.read())
            h.update(b"\0")
    return h.hexdigest()[:12]


def scenarios() -> list[dict]:
    """The fixture's TABLE, parsed from scenarios.go (no build needed)."""
    with open(os.path.join(FIXTURE_DIR, "scenarios.go")) as f:
        src = f.read()
    body = src[src.index("var TABLE = []Scenario{"):]
    body = body[: body.index("\n}\n")]
    rows = []
    for m in re.finditer(r'^\s*\{"([a-z0-9_]+)", "([^"]*)", "([^"]*)", (\w+)\},$', body, re.M):
        rows.append({"name": m.group(1), "pattern": m.group(2), "description": m.group(3)})
    return rows


def scenario_names() -> list[str]:
    return [r["name"] for r in scenarios()]


def _write_json_atomic(path: str, obj) -> None:
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def check_core_pattern(path: str = "/proc/sys/kernel/core_pattern") -> str:
    """Cores must land in the process's cwd. Returns the pattern."""
    try:
        with open(path) as f:
            pat = f.read().strip()
    except OSError as e:
        raise GenerateError("cannot read /proc/sys/kernel/core_pattern: %s" % e)
    if pat.startswith("|"):
        raise GenerateError(
            "kernel.core_pattern is a pipe (%r): cores go to a helper (systemd-coredump, apport), "
            "not to a file. Run: sudo sysctl -w kernel.core_pattern=core" % pat)
    if "/" in pat:
        raise GenerateError(
            "kernel.core_pattern %r is not relative to the cwd; this generator looks for the core in "
            "the fixture's working directory. Run: sudo sysctl -w kernel.core_pattern=core" % pat)
    return pat


# ------------------------------------------------------------------ toolchains


@dataclass
class Toolchain:
    label: str
    go: str
    gotoolchain: str
    version: str = ""  # e.g. go1.26.8, filled by probe()

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(GOTOOLCHAIN=self.gotoolchain, CGO_ENABLED="0", GOFLAGS="", GOWORK="off",
                   GO111MODULE="on", GOOS="linux", GOARCH="amd64")
        for k in ("GOROOT", "GOPATH_IGNORED"):
            env.pop(k, None)
        return env


_probe_lock = threading.Lock()
_probe_cache: dict[str, object] = {}


def probe(label: str, timeout: float = 600) -> Toolchain:
    """Return the toolchain with its exact version, or raise Unavailable.

    With GOTOOLCHAIN=goX.Y.Z the go command downloads the toolchain through
    the module proxy on first use (that is what the long timeout is for)."""
    if label not in TOOLCHAINS:
        raise Unavailable("unknown toolchain %r (known: %s)" % (label, ", ".join(TOOLCHAINS)))
    with _probe_lock:
        hit = _probe_cache.get(label)
        if isinstance(hit, Toolchain):
            return hit
        if isinstance(hit, Unavailable):
            raise hit
        go, gotc = TOOLCHAINS[label]
        tc = Toolchain(label, go, gotc)
        try:
            if go == GO_LOCAL and not os.access(go, os.X_OK):
                tc.go = go = fetched_go(timeout)
            if not os.access(go, os.X_OK):
                raise Unavailable("Go %s: %s not installed" % (label, go))
            try:
                p = subprocess.run([go, "version"], env=tc.env(), cwd=FIXTURE_DIR, capture_output=True,
                                   text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise Unavailable("Go %s: `%s version` (GOTOOLCHAIN=%s) timed out" % (label, go, gotc))
            m = re.search(r"go version (go1\.\d+(?:\.\d+)?)\S* ", p.stdout)
            if p.returncode != 0 or not m:
                raise Unavailable("Go %s: `%s version` with GOTOOLCHAIN=%s failed: %s"
                                  % (label, go, gotc, (p.stderr or p.stdout).strip()[-500:]))
            tc.version = m.group(1)
            if not (tc.version == "go" + label or tc.version.startswith("go" + label + ".")):
                raise Unavailable("Go %s: got %s instead" % (label, tc.version))
        except Unavailable as e:
            _probe_cache[label] = e
            raise
        _probe_cache[label] = tc
        return tc


def fetched_go(timeout: float = 600) -> str:
    """The go command of GO_LOCAL_FETCHED, fetched on first use by Go 1.19.

    This is what GOTOOLCHAIN does (cmd/go/internal/toolchain): the module
    golang.org/toolchain@v0.0.1-<version>.<goos>-<goarch> from the module
    proxy, checked against sum.golang.org, unpacked in the module cache;
    the zip keeps no executable bits, so they are set again."""
    mod = "golang.org/toolchain@v0.0.1-%s.linux-amd64" % GO_LOCAL_FETCHED
    if not os.access(GO_119, os.X_OK):
        raise Unavailable("neither %s nor %s is installed (scripts/setup-deps installs Go 1.19)"
                          % (GO_LOCAL, GO_119))
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="", GO111MODULE="on", GOWORK="off")
    try:
        # cwd "/": outside any module, so that no go.mod or go.sum is touched.
        p = subprocess.run([GO_119, "mod", "download", "-json", mod], env=env, cwd="/",
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Unavailable("fetching %s with Go 1.19 timed out" % mod)
    try:
        d = json.loads(p.stdout)["Dir"]
    except (ValueError, KeyError):
        raise Unavailable("no %s, and Go 1.19 could not fetch %s: %s"
                          % (GO_LOCAL, mod, (p.stderr or p.stdout).strip()[-500:]))
    tools = os.path.join(d, "pkg", "tool", "linux_amd64")
    for f in [os.path.join(d, "bin", n) for n in os.listdir(os.path.join(d, "bin"))] + \
            [os.path.join(tools, n) for n in os.listdir(tools)]:
        os.chmod(f, os.stat(f).st_mode | 0o111)
    return os.path.join(d, "bin", "go")


def available_toolchains(labels=None) -> tuple[list[Toolchain], dict[str, str]]:
    ok, skipped = [], {}
    for label in labels or TOOLCHAINS:
        try:
            ok.append(probe(label))
        except Unavailable as e:
            skipped[label] = str(e)
    return ok, skipped


# ------------------------------------------------------------------ building


def build_dir(tc: Toolchain, variant: str) -> str:
    return os.path.join(cache_root(), "%s-%s" % (tc.version, source_hash()), variant)


_build_locks: dict[str, threading.Lock] = {}
_build_locks_lock = threading.Lock()


def _lock_for(key: str) -> threading.Lock:
    with _build_locks_lock:
        return _build_locks.setdefault(key, threading.Lock())


def build(tc: Toolchain, variant: str) -> str:
    """Build (or reuse) the fixture binary; returns its path."""
    if variant not in VARIANTS:
        raise GenerateError("unknown variant %r" % variant)
    d = build_dir(tc, variant)
    exe = os.path.join(d, "fixture")
    with _lock_for(exe):
        if os.path.exists(exe):
            return exe
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, ".fixture.tmp%d.%d" % (os.getpid(), threading.get_ident()))
        cmd = [tc.go, "build", "-o", tmp]
        if LDFLAGS[variant]:
            cmd.append("-ldflags=" + LDFLAGS[variant])
        cmd.append(".")
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=tc.env(), cwd=FIXTURE_DIR, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            _unlink(tmp)
            raise GenerateError("build failed (%s %s): %s\n%s" % (tc.version, variant, " ".join(cmd), p.stderr))
        _write_json_atomic(os.path.join(d, "build.json"), {
            "toolchain": tc.label, "go_version": tc.version, "go": tc.go, "gotoolchain": tc.gotoolchain,
            "variant": variant, "cmd": cmd, "env": {"CGO_ENABLED": "0"}, "source_hash": source_hash(),
            "seconds": round(time.monotonic() - t0, 2)})
        os.replace(tmp, exe)
        return exe


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ------------------------------------------------------------------ cores


@dataclass
class Entry:
    toolchain: str
    go_version: str
    variant: str
    scenario: str
    n: int
    dir: str
    exe: str
    core: str = ""
    dump: str = ""
    account: str = ""
    meta: str = ""
    extra: dict = field(default_factory=dict)

    def load_account(self) -> dict:
        with open(self.account) as f:
            return json.load(f)

    def load_meta(self) -> dict:
        with open(self.meta) as f:
            return json.load(f)

    def read_dump(self) -> str:
        with open(self.dump, errors="replace") as f:
            return f.read()


def entry_dir(tc: Toolchain, variant: str, scenario: str, n: int, hold: int = 0) -> str:
    suffix = "-hold%d" % hold if hold else ""
    return os.path.join(build_dir(tc, variant), "%s-n%d%s" % (scenario, n, suffix))


def _entry_from_dir(d: str) -> Entry | None:
    meta = os.path.join(d, "meta.json")
    if not os.path.exists(meta):
        return None
    with open(meta) as f:
        m = json.load(f)
    return Entry(m["toolchain"], m["go_version"], m["variant"], m["scenario"], m["n"], d,
                 exe=os.path.join(os.path.dirname(d), "fixture"), core=os.path.join(d, "core"),
                 dump=os.path.join(d, "dump.txt"), account=os.path.join(d, "account.json"), meta=meta)


def _raise_core_limit(pid: int) -> None:
    """Raise RLIMIT_CORE of the fixture process.

    Done with prlimit(2) on the child after it started rather than setrlimit in
    preexec_fn: generate() runs fixtures from threads, where preexec_fn is not
    safe. There is no race: the fixture can only dump core after our SIGQUIT,
    which is sent after READY."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        resource.prlimit(pid, resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        resource.prlimit(pid, resource.RLIMIT_CORE, (hard, hard))


def _is_elf_core(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            h = f.read(18)
    except OSError:
        return False
    return len(h) == 18 and h[:4] == b"\x7fELF" and int.from_bytes(h[16:18], "little") == 4  # ET_CORE


def run_scenario(tc: Toolchain, variant: str, scenario: str, n: int = DEFAULT_N, force: bool = False,
                 ready_timeout: float | None = None, hold: int = 0) -> Entry:
    """Make (or reuse) one cache entry and return it.

    hold: seconds to wait after READY before the dump, so that goroutines
    have been parked (and stamped by the forced GCs) long enough for the
    runtime to print "N minutes" in its dump."""
    if scenario not in scenario_names():
        raise GenerateError("unknown scenario %r (known: %s)" % (scenario, ", ".join(scenario_names())))
    if _STOP.is_set():
        raise GenerateError("interrupted")
    d = entry_dir(tc, variant, scenario, n, hold)
    if not force:
        e = _entry_from_dir(d)
        if e is not None:
            return e
    pattern = check_core_pattern()
    exe = build(tc, variant)
    tmp = tempfile.mkdtemp(prefix=".tmp-%s-n%d-" % (scenario, n), dir=os.path.dirname(d))
    try:
        acc = os.path.join(tmp, "account.json")
        dump = os.path.join(tmp, "dump.txt")
        env = dict(os.environ, GOTRACEBACK="crash")
        for k in ("GODEBUG", "GOMAXPROCS", "GOGC", "GOMEMLIMIT"):
            env.pop(k, None)
        run_env = dict(RUN_ENV, **run_godebug(tc))
        env.update(run_env)
        cmd = [exe, "-scenario", scenario, "-n", str(n), "-account", acc]
        if ready_timeout is None:
            ready_timeout = 120 + n / 2000.0
        t0 = time.monotonic()
        with open(dump, "wb") as errf:
            proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=errf, start_new_session=True)
            try:
                _raise_core_limit(proc.pid)
                out = _wait_ready(proc, ready_timeout)
                t_ready = time.monotonic()
                # main prints READY and then parks in main.blockForever; give it
                # time to get out of the write syscall, or the dump shows main
                # in [syscall] / running.
                time.sleep(SETTLE_SECONDS + hold)
                proc.send_signal(signal.SIGQUIT)
                rc = proc.wait(timeout=300 + n / 1000.0)
            except BaseException:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                raise
            finally:
                if proc.stdout:
                    proc.stdout.close()
        t_end = time.monotonic()
        if rc != -signal.SIGABRT:
            raise GenerateError("%s: expected death by SIGABRT after SIGQUIT, got returncode %s; stderr tail:\n%s"
                                % (" ".join(cmd), rc, _tail(dump)))
        cores = [f for f in os.listdir(tmp) if f.startswith("core") and _is_elf_core(os.path.join(tmp, f))]
        if not cores:
            raise GenerateError("no core file in %s (core_pattern %r, RLIMIT_CORE %r). Is the filesystem "
                                "writable and kernel.core_pattern = core?" % (tmp, pattern, resource.getrlimit(resource.RLIMIT_CORE)))
        if cores[0] != "core":
            os.rename(os.path.join(tmp, cores[0]), os.path.join(tmp, "core"))
        with open(acc) as f:
            account = json.load(f)
        meta = {
            "schema": 1, "toolchain": tc.label, "go_version": tc.version, "account_go_version": account["go_version"],
            "go": tc.go, "gotoolchain": tc.gotoolchain, "variant": variant, "scenario": scenario, "n": n,
            "source_hash": source_hash(), "cmd": cmd, "hold_seconds": hold, "env": run_env, "pid": account["pid"],
            "returncode": rc, "core_pattern": pattern, "stdout": out,
            "core_bytes": os.path.getsize(os.path.join(tmp, "core")),
            "seconds_to_ready": round(t_ready - t0, 3), "seconds_to_core": round(t_end - t_ready, 3),
            "created_unix": time.time(),
            "paths": {"exe": exe, "core": os.path.join(d, "core"), "dump": os.path.join(d, "dump.txt"),
                      "account": os.path.join(d, "account.json"), "dir": d},
        }
        _write_json_atomic(os.path.join(tmp, "meta.json"), meta)
        if os.path.exists(d):
            # --force: move the old entry aside first, so readers never see a mix.
            old = d + ".old%d" % os.getpid()
            os.rename(d, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, d)
            tmp = None
        except OSError:
            if not os.path.exists(os.path.join(d, "meta.json")):
                raise
            # another process (pytest-xdist worker) made the same entry first: keep theirs
        
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    e = _entry_from_dir(d)
    assert e is not None
    return e


def _tail(path, n=2000):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - n))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _wait_ready(proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while True:
        if _STOP.is_set():
            raise GenerateError("interrupted")
        left = deadline - time.monotonic()
        if left <= 0:
            raise GenerateError("fixture did not print READY within %.0fs" % timeout)
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise GenerateError("fixture exited before READY (rc=%s), stdout %r" % (proc.wait(), buf[-500:]))
            buf += chunk
            if b"READY\n" in buf:
                return buf.decode(errors="replace")
        elif proc.poll() is not None:
            raise GenerateError("fixture exited before READY (rc=%s)" % proc.returncode)


# ------------------------------------------------------------------ matrices


def expand(toolchains="all", variants="dwarf,stripped", scenarios_="all") -> list[tuple[str, str, str]]:
    tcs = list(TOOLCHAINS) if toolchains in ("all", None) else _split(toolchains)
    vs = list(VARIANTS) if variants in ("all", None) else _split(variants)
    ss = scenario_names() if scenarios_ in ("all", None) else _split(scenarios_)
    return [(t, v, s) for t in tcs for v in vs for s in ss]


def default_matrix() -> list[tuple[str, str, str]]:
    """Every scenario on the newest and the oldest toolchain (dwarf) + `all` on every toolchain x variant."""
    cells = []
    for t in DEFAULT_EVERY_SCENARIO_TOOLCHAINS:
        cells += [(t, "dwarf", s) for s in scenario_names()]
    for t in TOOLCHAINS:
        for v in VARIANTS:
            if (t, v, "all") not in cells:
                cells.append((t, v, "all"))
    return cells


def _split(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def generate(cells, n=DEFAULT_N, jobs=None, force=False, log=None):
    """Make every cell; returns (entries, skipped {toolchain: reason}, errors [(cell, msg)])."""
    log = log or (lambda msg: None)
    labels = list(dict.fromkeys(t for t, _, _ in cells))
    tcs, skipped = available_toolchains(labels)
    for label, why in skipped.items():
        log("skip: %s" % why)
    by_label = {tc.label: tc for tc in tcs}
    cells = [c for c in cells if c[0] in by_label]
    jobs = jobs or max(1, os.cpu_count() or 1)
    entries, errors = [], []
    # Builds first (one per toolchain x variant), then the runs.
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        # One task per toolchain building its variants in turn: the second
        # build reuses the first one's compiled packages (only the link differs),
        # instead of compiling the same std twice at the same time.
        per_tc: dict = {}
        for t, v, _ in cells:
            if v not in per_tc.setdefault(t, []):
                per_tc[t].append(v)

        def build_all(t):
            failed = []
            for v in per_tc[t]:
                try:
                    build(by_label[t], v)
                except Exception as e:  # noqa: BLE001 - report and go on with the rest
                    failed.append(((t, v), str(e)))
            return failed

        bad = set()
        for f in concurrent.futures.as_completed([ex.submit(build_all, t) for t in per_tc]):
            for cell, msg in f.result():
                bad.add(cell)
                errors.append((cell, msg))
                log("error: build %s: %s" % (cell, msg))
        futs = {ex.submit(run_scenario, by_label[t], v, s, n, force): (t, v, s)
                for t, v, s in cells if (t, v) not in bad}
        for f in concurrent.futures.as_completed(futs):
            try:
                entries.append(f.result())
            except Exception as e:  # noqa: BLE001
                errors.append((futs[f], str(e)))
                log("error: %s: %s" % (futs[f], e))
    entries.sort(key=lambda e: (list(TOOLCHAINS).index(e.toolchain), e.variant, e.scenario))
    return entries, skipped, errors


def find(toolchain: str, variant: str, scenario: str, n: int = DEFAULT_N) -> Entry | None:
    """An existing cache entry, or None (never builds)."""
    try:
        tc = probe(toolchain)
    except Unavailable:
        return None
    return _entry_from_dir(entry_dir(tc, variant, scenario, n))


def ensure(toolchain: str, variant: str, scenario: str, n: int = DEFAULT_N, hold: int = 0) -> Entry:
    """The cache entry, generated if missing. Raises Unavailable / GenerateError."""
    return run_scenario(probe(toolchain), variant, scenario, n, hold=hold)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--toolchains", default="all", help="all or a list like 1.26,1.19 (known: %s)" % ",".join(TOOLCHAINS))
    ap.add_argument("--variants", default="dwarf,stripped")
    ap.add_argument("--scenarios", default="all", help="all or a list of names (see --scenario-table)")
    ap.add_argument("--matrix", choices=("full", "default"), help="full = every cell; default = the CI matrix")
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="goroutines per group (default %d)" % DEFAULT_N)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--force", action="store_true", help="regenerate entries that exist")
    ap.add_argument("--list", action="store_true", help="only print entries already in the cache")
    ap.add_argument("--scenario-table", action="store_true", help="print the scenario table and exit")
    ap.add_argument("--json", action="store_true", help="print entries as JSON lines")
    a = ap.parse_args(argv)

    def _stop(signum, _frame):
        _STOP.set()  # running fixtures are killed, temporary directories removed
        signal.signal(signum, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if a.scenario_table:
        for r in scenarios():
            print("%-16s %-5s %s" % (r["name"], r["pattern"], r["description"]))
        return 0
    if a.matrix == "default":
        cells = default_matrix()
    else:
        cells = expand(a.toolchains, a.variants, a.scenarios)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if a.list:
        found = [e for e in (find(t, v, s, a.n) for t, v, s in cells) if e]
        for e in found:
            _print_entry(e, a.json)
        return 0
    t0 = time.monotonic()
    entries, skipped, errors = generate(cells, a.n, a.jobs, a.force, log)
    for e in entries:
        _print_entry(e, a.json)
    log("%d entries, %d toolchains skipped, %d errors, %.1fs" % (len(entries), len(skipped), len(errors),
                                                                time.monotonic() - t0))
    return 1 if errors else 0


def _print_entry(e: Entry, as_json: bool):
    if as_json:
        print(json.dumps({"toolchain": e.toolchain, "go_version": e.go_version, "variant": e.variant,
                          "scenario": e.scenario, "n": e.n, "dir": e.dir, "exe": e.exe, "core": e.core,
                          "dump": e.dump, "account": e.account, "meta": e.meta}))
    else:
        print(e.dir)


if __name__ == "__main__":
    sys.exit(main())
