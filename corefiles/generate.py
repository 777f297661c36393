#!/usr/bin/env python3
"""Build the goparked fixture with every available Go toolchain and make cores.

For each (toolchain, variant, scenario, N) the cache holds one entry directory:

    $GOPARKED_CACHE/corefiles/<go version>-<source hash>/<variant>/fixture
    $GOPARKED_CACHE/corefiles/<go version>-<source hash>/<variant>/<scenario>-n<N>/
        core          the core dump (GOTRACEBACK=crash, SIGQUIT -> SIGABRT): the
                      kernel's, or for arm64 the one qemu-aarch64 writes of its guest
        dump.txt      the runtime's own goroutine dump (the process's stderr)
        stacks.txt    (fixture program) the runtime's user-facing dump just
                      before READY: pprof goroutine debug=2 at GOTRACEBACK=single
        account.json  what the fixture says it parked (see corefiles/README.rst)
        meta.json     toolchain, go version, variant, scenario, N, paths, timings

Scenarios of the cgo program (corefiles/cgo: cgo, cgo_crash) live under
<go version>-cgo-<source hash>/ the same way, with the executable "cgo".

A variant names the build: [arm64-][pie-]dwarf|stripped. "dwarf" and
"stripped" are linux/amd64 executables (-ldflags=-s -w for stripped);
"pie-" adds -buildmode=pie; "arm64-" builds GOARCH=arm64 and runs the
program under qemu-aarch64 (apt qemu-user; cgo also needs
gcc-aarch64-linux-gnu and its libc, run with -L /usr/aarch64-linux-gnu).

($GOPARKED_CACHE defaults to ~/.cache/goparked.) Entries are made in a
temporary directory next to the final one and renamed into place, so an
interrupted run never leaves a half entry. Python 3 stdlib only; importable by
tests (see tests/fixtures.py).

    python3 corefiles/generate.py --toolchains all --variants dwarf,stripped \\
        --scenarios all --n 3          # print the entry directories made
    python3 corefiles/generate.py --matrix default   # the CI slice
    python3 corefiles/generate.py --matrix full      # every cell (see corefiles/README.rst)
    python3 corefiles/generate.py --list    # what exists in the cache, no work
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fcntl
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
CGO_DIR = os.path.join(HERE, "cgo")
DEFAULT_N = 3
SETTLE_SECONDS = 0.3
# The linux/amd64, non-PIE builds every test has used from the start.
VARIANTS = ("dwarf", "stripped")
FLAVOURS = ("dwarf", "stripped")
LDFLAGS = {"dwarf": None, "stripped": "-s -w"}
ARCHES = ("amd64", "arm64")
# arch -> (ELF e_machine of its cores, how to run a program of it here, cross C compiler, its libc root)
ARCH_RUN = {
    "amd64": (62, [], "gcc", None),
    "arm64": (183, ["qemu-aarch64"], "aarch64-linux-gnu-gcc", "/usr/aarch64-linux-gnu"),
}


@dataclass(frozen=True)
class Variant:
    """How the program is built and run: see the module's docstring."""
    arch: str = "amd64"
    pie: bool = False
    flavour: str = "dwarf"

    @property
    def name(self) -> str:
        return "-".join(([self.arch] if self.arch != "amd64" else []) + (["pie"] if self.pie else [])
                        + [self.flavour])

    @property
    def stripped(self) -> bool:
        return self.flavour == "stripped"


def parse_variant(name: str) -> Variant:
    parts = name.split("-")
    arch = parts.pop(0) if parts and parts[0] in ARCHES else "amd64"
    pie = bool(parts) and parts[0] == "pie"
    if pie:
        parts.pop(0)
    if len(parts) != 1 or parts[0] not in FLAVOURS:
        raise GenerateError("unknown variant %r ([arm64-][pie-]dwarf|stripped)" % name)
    return Variant(arch, pie, parts[0])


ALL_VARIANTS = tuple(Variant(a, p, f).name for a in ARCHES for p in (False, True) for f in FLAVOURS)

# program -> its source directory, the executable's name; scenarios come
# from the fixture's TABLE (scenarios.go) or are listed here.
PROGRAMS = {"fixture": (FIXTURE_DIR, "fixture"), "cgo": (CGO_DIR, "cgo")}
# Scenarios the fixture's "all" leaves out (corefiles/fixture/main.go):
# hostile_labels' strings would be in every view of the demo core.
NOT_IN_ALL = frozenset({"hostile_labels"})
CGO_SCENARIOS = {
    "cgo": "goroutines blocked inside C calls, LockOSThread callbacks from C into Go, "
           "goroutines of threads C made",
    "cgo_crash": "the same, then (SIGUSR1) a goroutine stores through NULL in C: the crash is in C",
}
# Scenarios whose program dies by a signal of its own making, sent this signal.
TRIGGER = {"cgo_crash": signal.SIGUSR1}

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
# The fixture starts at the default level, writes stacks.txt (what users see:
# no wrapper or runtime-internal frames, runtime/traceback.go showfuncinfo)
# and raises itself to crash (debug.SetTraceback) before READY: the dump and
# the core are the same as with GOTRACEBACK=crash from the start (the level
# is 2|1 = 3, and the runtime tests only level > 1 and >= 2).
FIXTURE_RUN_ENV = {"GOTRACEBACK": "single"}
FIXTURE_STACKS_ARGS = ["-stacks", "stacks.txt", "-traceback", "crash"]


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


# The files of a program's folder that go build compiles (Go, assembly, cgo's
# C) and its module files: what a cached build's key covers.
SOURCE_SUFFIXES = (".go", ".s", ".c", ".h")


def dir_hash(src: str) -> str:
    """The cache key of the program in folder src: its SOURCE_SUFFIXES files,
    go.mod and go.sum, names and bytes."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(src)):
        if name.endswith(SOURCE_SUFFIXES) or name in ("go.mod", "go.sum"):
            h.update(name.encode() + b"\0")
            with open(os.path.join(src, name), "rb") as f:
                h.update(f.read())
            h.update(b"\0")
    return h.hexdigest()[:12]


def source_hash(program: str = "fixture") -> str:
    return dir_hash(PROGRAMS[program][0])


def program_of(scenario: str) -> str:
    return "cgo" if scenario in CGO_SCENARIOS else "fixture"


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
    """The fixture program's scenarios (not the cgo program's)."""
    return [r["name"] for r in scenarios()]


def all_scenario_names() -> list[str]:
    return scenario_names() + list(CGO_SCENARIOS)


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

    def env(self, arch: str = "amd64", cgo: bool = False) -> dict:
        env = dict(os.environ)
        env.update(GOTOOLCHAIN=self.gotoolchain, CGO_ENABLED="1" if cgo else "0", GOFLAGS="", GOWORK="off",
                   GO111MODULE="on", GOOS="linux", GOARCH=arch)
        if cgo:
            env["CC"] = ARCH_RUN[arch][2]
        for k in ("GOROOT", "GOPATH_IGNORED", "GOARM64"):
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


def build_dir(tc: Toolchain, variant: str, program: str = "fixture") -> str:
    tag = "" if program == "fixture" else program + "-"
    return os.path.join(cache_root(), "%s-%s%s" % (tc.version, tag, source_hash(program)), variant)


def check_can_run(v: Variant, program: str) -> None:
    """Raise Unavailable when this machine cannot build or run the variant
    (scripts/setup-deps installs what it takes)."""
    _machine, runner, cc, libc = ARCH_RUN[v.arch]
    need = list(runner) + ([cc] if program == "cgo" else [])
    for tool in need:
        if shutil.which(tool) is None:
            raise Unavailable("%s for %s: %s not installed (scripts/setup-deps installs it)"
                              % (v.name, program, tool))
    if (program == "cgo" or v.pie) and runner and not os.path.isdir(libc):
        raise Unavailable("%s for %s: no %s loader and libc in %s" % (v.name, program, v.arch, libc))


_build_locks: dict[str, threading.Lock] = {}
_build_locks_lock = threading.Lock()


class _Lock:
    """A lock on one cache path (an executable or an entry directory),
    held by one thread of one process at a time: a thread lock, then
    flock(2) on PATH.lock beside it. Separate processes (pytest runs in
    two checkouts, a benchmark) share the cache; with a thread lock alone
    two of them built the same executable at once and the second replaced
    the first's after a core had been taken of it (the binaries differ:
    each embeds its checkout's source path), leaving an entry whose core
    did not belong to its executable. The lock files live in
    $GOPARKED_CACHE/locks/."""

    def __init__(self, key: str):
        with _build_locks_lock:
            self._thread = _build_locks.setdefault(key, threading.Lock())
        # in one folder of the cache, not beside the entries
        self._path = os.path.join(os.path.dirname(cache_root()), "locks",
                                  hashlib.sha256(os.path.abspath(key).encode()).hexdigest()[:24] + ".lock")
        self._fd = -1

    def __enter__(self):
        self._thread.acquire()
        try:
            os.makedirs(os.path.dirname(self._path), exist_ok=True)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._thread.release()
            raise
        return self

    def __exit__(self, *exc):
        os.close(self._fd)  # releases the flock
        self._fd = -1
        self._thread.release()


def _lock_for(key: str) -> _Lock:
    return _Lock(key)


def build(tc: Toolchain, variant: str, program: str = "fixture") -> str:
    """Build (or reuse) the program's binary for the variant; returns its path."""
    v = parse_variant(variant)
    check_can_run(v, program)
    src, name = PROGRAMS[program]
    flags = (["-buildmode=pie"] if v.pie else []) + (["-ldflags=" + LDFLAGS[v.flavour]] if LDFLAGS[v.flavour] else [])
    env = tc.env(v.arch, cgo=program == "cgo")
    return go_build(tc.go, env, src, build_dir(tc, variant, program), name, flags, {
        "toolchain": tc.label, "go_version": tc.version, "go": tc.go, "gotoolchain": tc.gotoolchain,
        "program": program, "variant": variant, "arch": v.arch, "pie": v.pie,
        "env": {k: env[k] for k in ("CGO_ENABLED", "GOARCH", "CC") if k in env},
        "source_hash": source_hash(program)}, "%s %s %s" % (tc.version, program, variant))


def go_build(go: str, env: dict, src: str, d: str, name: str, flags: list, info: dict, what: str) -> str:
    """`go build` the module in src to d/name once (a thread lock per
    executable; the binary is renamed into place, so a reader never sees
    half of one) and write d/build.json: info, the command, the seconds.
    Returns the executable's path."""
    exe = os.path.join(d, name)
    with _lock_for(exe):
        if os.path.exists(exe):
            return exe
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, ".%s.tmp%d.%d" % (name, os.getpid(), threading.get_ident()))
        cmd = [go, "build", "-o", tmp] + list(flags) + ["."]
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, cwd=src, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            _unlink(tmp)
            raise GenerateError("build failed (%s): %s\n%s" % (what, " ".join(cmd), p.stderr))
        _write_json_atomic(os.path.join(d, "build.json"),
                           dict(info, cmd=cmd, seconds=round(time.monotonic() - t0, 2)))
        # never over an executable that exists: cores may have been taken of it
        try:
            os.link(tmp, exe)
        except FileExistsError:
            pass
        _unlink(tmp)
        return exe


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ------------------------------------------------------------------ cores


class EntryFiles:
    """What an entry's files say (an entry has account, meta and dump paths)."""

    def load_account(self) -> dict:
        with open(self.account) as f:
            return json.load(f)

    def load_meta(self) -> dict:
        with open(self.meta) as f:
            return json.load(f)

    def read_dump(self) -> str:
        with open(self.dump, errors="replace") as f:
            return f.read()


@dataclass
class Entry(EntryFiles):
    toolchain: str
    go_version: str
    variant: str
    scenario: str
    n: int
    dir: str
    exe: str
    core: str = ""
    dump: str = ""
    stacks: str = ""
    account: str = ""
    meta: str = ""
    extra: dict = field(default_factory=dict)
    arch: str = "amd64"
    pie: bool = False
    program: str = "fixture"


def entry_dir(tc: Toolchain, variant: str, scenario: str, n: int, hold: int = 0) -> str:
    suffix = "-hold%d" % hold if hold else ""
    return os.path.join(build_dir(tc, variant, program_of(scenario)), "%s-n%d%s" % (scenario, n, suffix))


def _entry_from_dir(d: str) -> Entry | None:
    meta = os.path.join(d, "meta.json")
    if not os.path.exists(meta):
        return None
    with open(meta) as f:
        m = json.load(f)
    v = parse_variant(m["variant"])
    program = m.get("program", "fixture")
    return Entry(m["toolchain"], m["go_version"], m["variant"], m["scenario"], m["n"], d,
                 exe=os.path.join(os.path.dirname(d), PROGRAMS[program][1]), core=os.path.join(d, "core"),
                 dump=os.path.join(d, "dump.txt"), account=os.path.join(d, "account.json"), meta=meta,
                 arch=v.arch, pie=v.pie, program=program,
                 stacks=os.path.join(d, "stacks.txt") if os.path.exists(os.path.join(d, "stacks.txt")) else "")


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


def _elf_core_machine(path: str) -> int | None:
    """e_machine of an ELF core file, None if path is not one."""
    try:
        with open(path, "rb") as f:
            h = f.read(20)
    except OSError:
        return None
    if len(h) == 20 and h[:4] == b"\x7fELF" and int.from_bytes(h[16:18], "little") == 4:  # ET_CORE
        return int.from_bytes(h[18:20], "little")
    return None


def _is_elf_core(path: str) -> bool:
    return _elf_core_machine(path) is not None


def _shrink_host_core(pid: int) -> None:
    """qemu-user writes the guest's core itself, then dies of the same
    signal with RLIMIT_CORE still raised, so the kernel dumps qemu too
    (about 200 MB; ../shared/ARM64.md). Dump no mapping of it: the
    guest's core is written by qemu from its own bookkeeping and does not
    read coredump_filter (qemu 7.2 linux-user/elfload.c)."""
    try:
        with open("/proc/%d/coredump_filter" % pid, "w") as f:
            f.write("0")
    except OSError:
        pass


def _make_sparse(path: str, block: int = 1 << 16) -> None:
    """Rewrite a core with its zero blocks as holes, the same bytes read
    back. qemu-user writes every page of the guest's mappings, the untouched
    ones too (a 55 MB arm64 core is 93% zeros, a cgo one 99%), where the
    kernel leaves holes: the full matrix's arm64 half would take about 35 GB
    of disk instead of about 3."""
    zero = bytes(block)
    tmp = path + ".sparse"
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        size = 0
        while True:
            buf = src.read(block)
            if not buf:
                break
            size += len(buf)
            if buf == zero[:len(buf)]:
                dst.seek(len(buf), os.SEEK_CUR)
            else:
                dst.write(buf)
        dst.truncate(size)
    os.replace(tmp, path)


def run_scenario(tc: Toolchain, variant: str, scenario: str, n: int = DEFAULT_N, force: bool = False,
                 ready_timeout: float | None = None, hold: int = 0) -> Entry:
    """Make (or reuse) one cache entry and return it.

    hold: seconds to wait after READY before the dump, so that goroutines
    have been parked (and stamped by the forced GCs) long enough for the
    runtime to print "N minutes" in its dump."""
    if scenario not in all_scenario_names():
        raise GenerateError("unknown scenario %r (known: %s)" % (scenario, ", ".join(all_scenario_names())))
    v = parse_variant(variant)
    program = program_of(scenario)
    machine, runner, _cc, libc = ARCH_RUN[v.arch]
    if _STOP.is_set():
        raise GenerateError("interrupted")
    d = entry_dir(tc, variant, scenario, n, hold)
    if not force:
        e = _entry_from_dir(d)
        if e is not None:
            return e
    pattern = check_core_pattern()
    exe = build(tc, variant, program)
    with _lock_for(d):
        if not force:
            e = _entry_from_dir(d)
            if e is not None:
                return e
        tmp = tempfile.mkdtemp(prefix=".tmp-%s-n%d-" % (scenario, n), dir=os.path.dirname(d))
        try:
            acc = os.path.join(tmp, "account.json")
            dump = os.path.join(tmp, "dump.txt")
            env = program_env()
            run_env = dict(FIXTURE_RUN_ENV if program == "fixture" else RUN_ENV, **run_godebug(tc))
            env.update(run_env)
            # the guest's dynamic loader and libc (a PIE asks for ld.so, cgo for libc)
            cmd = list(runner) + (["-L", libc] if runner and libc else []) + \
                [exe, "-scenario", scenario, "-n", str(n), "-account", acc] + \
                (FIXTURE_STACKS_ARGS if program == "fixture" else [])
            trigger = TRIGGER.get(scenario, signal.SIGQUIT)
            if ready_timeout is None:
                ready_timeout = 120 + n / 2000.0
            t0 = time.monotonic()

            def signal_it(proc):
                proc.send_signal(trigger)
                return proc.wait(timeout=300 + n / 1000.0)

            # main prints READY and then parks in main.blockForever; the settle
            # time lets it get out of the write syscall, or the dump shows main
            # in [syscall] / running.
            rc, out, t_ready = run_until_ready(cmd, tmp, env, dump, ready_timeout, signal_it,
                                               settle=SETTLE_SECONDS + hold, shrink_host=bool(runner))
            t_end = time.monotonic()
            take_core(tmp, machine, cmd, rc, trigger.name, dump, pattern)
            if runner:
                _make_sparse(os.path.join(tmp, "core"))
            with open(acc) as f:
                account = json.load(f)
            meta = {
                "schema": 1, "toolchain": tc.label, "go_version": tc.version, "account_go_version": account["go_version"],
                "program": program, "arch": v.arch, "pie": v.pie, "trigger": trigger.name,
                "go": tc.go, "gotoolchain": tc.gotoolchain, "variant": variant, "scenario": scenario, "n": n,
                "source_hash": source_hash(program), "cmd": cmd, "hold_seconds": hold, "env": run_env, "pid": account["pid"],
                "returncode": rc, "core_pattern": pattern, "stdout": out,
                "core_bytes": os.path.getsize(os.path.join(tmp, "core")),
                "seconds_to_ready": round(t_ready - t0, 3), "seconds_to_core": round(t_end - t_ready, 3),
                "created_unix": time.time(),
                "paths": {"exe": exe, "core": os.path.join(d, "core"), "dump": os.path.join(d, "dump.txt"),
                          "stacks": os.path.join(d, "stacks.txt") if program == "fixture" else None,
                          "account": os.path.join(d, "account.json"), "dir": d},
            }
            _write_json_atomic(os.path.join(tmp, "meta.json"), meta)
            commit_entry(tmp, d, replace=force)
            tmp = None
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    e = _entry_from_dir(d)
    assert e is not None
    return e


def program_env() -> dict:
    """The environment a program runs in: GOTRACEBACK=crash, and none of
    the caller's GODEBUG, GOMAXPROCS, GOGC or GOMEMLIMIT."""
    env = dict(os.environ, GOTRACEBACK="crash")
    for k in ("GODEBUG", "GOMAXPROCS", "GOGC", "GOMEMLIMIT"):
        env.pop(k, None)
    return env


def run_until_ready(cmd, cwd: str, env: dict, stderr_path: str, ready_timeout: float, then,
                    settle: float = SETTLE_SECONDS, core_limit: bool = True, shrink_host: bool = False):
    """Start cmd in cwd (its own session, stderr to stderr_path: the
    runtime's dump), wait until it prints READY, let it settle, then call
    then(proc), which makes it dump and returns its returncode. The process
    is killed if anything fails or is interrupted. core_limit: raise its
    RLIMIT_CORE (the kernel writes the core); shrink_host: it is qemu-user,
    whose own core is not wanted. Returns (returncode, stdout, monotonic
    time of READY)."""
    with open(stderr_path, "wb") as errf:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=errf, start_new_session=True)
        try:
            if core_limit:
                _raise_core_limit(proc.pid)
            if shrink_host:
                _shrink_host_core(proc.pid)
            out = _wait_ready(proc, ready_timeout)
            t_ready = time.monotonic()
            time.sleep(settle)
            rc = then(proc)
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        finally:
            if proc.stdout:
                proc.stdout.close()
    return rc, out, t_ready


def take_core(cwd: str, machine: int, cmd, rc, trigger: str, dump: str, pattern: str) -> None:
    """Check that the program died by SIGABRT (GOTRACEBACK=crash) and leave
    its core as cwd/core: the kernel's ("core*"; of qemu itself for arm64,
    removed) or qemu's of its guest ("qemu_<prog>_<date>-<time>_<pid>.core"),
    the one whose ELF machine is the program's."""
    if rc != -signal.SIGABRT:
        raise GenerateError("%s: expected death by SIGABRT after %s, got returncode %s; stderr tail:\n%s"
                            % (" ".join(cmd), trigger, rc, _tail(dump)))
    cores = []
    for f in sorted(os.listdir(cwd)):
        path = os.path.join(cwd, f)
        if not (f.startswith("core") or f.startswith("qemu_")):
            continue
        m = _elf_core_machine(path)
        if m == machine:
            cores.append(f)
        elif m is not None:
            os.unlink(path)
    if len(cores) > 1:
        raise GenerateError("%d cores of the program in %s: %s" % (len(cores), cwd, cores))
    if not cores:
        raise GenerateError("no core file in %s (core_pattern %r, RLIMIT_CORE %r). Is the filesystem "
                            "writable and kernel.core_pattern = core?" % (cwd, pattern, resource.getrlimit(resource.RLIMIT_CORE)))
    if cores[0] != "core":
        os.rename(os.path.join(cwd, cores[0]), os.path.join(cwd, "core"))


def commit_entry(tmp: str, d: str, replace: bool = False) -> None:
    """Rename the finished entry tmp to d. With replace (--force) an entry
    already at d is moved aside first, so readers never see a mix; without,
    an entry another process made first is kept and tmp removed (a reader
    may be using its files)."""
    if not replace and os.path.exists(os.path.join(d, "meta.json")):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    if os.path.exists(d):
        old = d + ".old%d" % os.getpid()
        os.rename(d, old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.rename(tmp, d)
    except OSError:
        if not os.path.exists(os.path.join(d, "meta.json")):
            raise
        shutil.rmtree(tmp, ignore_errors=True)


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
    """The product; "all" variants = every arch x PIE x flavour, "all"
    scenarios = the fixture's and the cgo program's."""
    tcs = list(TOOLCHAINS) if toolchains in ("all", None) else _split(toolchains)
    vs = list(ALL_VARIANTS) if variants in ("all", None) else _split(variants)
    ss = all_scenario_names() if scenarios_ in ("all", None) else _split(scenarios_)
    for v in vs:
        parse_variant(v)
    return [(t, v, s) for t in tcs for v in vs for s in ss]


def _newest_oldest():
    return [list(TOOLCHAINS)[-1], list(TOOLCHAINS)[0]]


# PIE is built on these releases only (the oldest, the last two): the
# loader's relocation does not change between releases in between.
PIE_TOOLCHAINS = ("1.19", "1.26", "1.27")


def default_matrix() -> list[tuple[str, str, str]]:
    """The CI slice. amd64: every scenario on the newest and the oldest
    toolchain (dwarf) + `all` on every toolchain x dwarf/stripped. Then one
    representative of each other dimension: arm64 (qemu) `all` on the
    newest and the oldest, with DWARF and stripped; PIE `all` on the newest
    and the oldest on amd64 (and stripped on the newest), the newest on
    arm64 (and stripped on the oldest: 1.19 makes arm64 PIE code its own
    way); the cgo program on the newest, both architectures."""
    cells = []
    for t in DEFAULT_EVERY_SCENARIO_TOOLCHAINS:
        cells += [(t, "dwarf", s) for s in scenario_names()]
    for t in TOOLCHAINS:
        for v in VARIANTS:
            if (t, v, "all") not in cells:
                cells.append((t, v, "all"))
    newest, oldest = _newest_oldest()
    for t in (newest, oldest):
        cells += [(t, "arm64-dwarf", "all"), (t, "arm64-stripped", "all"), (t, "pie-dwarf", "all")]
    cells += [(newest, "pie-stripped", "all"), (newest, "arm64-pie-dwarf", "all"),
              (oldest, "arm64-pie-stripped", "all")]
    for v in ("dwarf", "arm64-dwarf"):
        cells += [(newest, v, s) for s in CGO_SCENARIOS]
    return cells


def full_matrix() -> list[tuple[str, str, str]]:
    """Every scenario of both programs on every toolchain, both
    architectures, with DWARF and stripped; PIE on PIE_TOOLCHAINS."""
    plain = [v for v in ALL_VARIANTS if not parse_variant(v).pie]
    pie = [v for v in ALL_VARIANTS if parse_variant(v).pie]
    cells = expand("all", ",".join(plain), "all")
    cells += expand(",".join(t for t in PIE_TOOLCHAINS if t in TOOLCHAINS), ",".join(pie), "all")
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
        for t, v, s in cells:
            if (v, program_of(s)) not in per_tc.setdefault(t, []):
                per_tc[t].append((v, program_of(s)))

        def build_all(t):
            failed = []
            for v, prog in per_tc[t]:
                try:
                    build(by_label[t], v, prog)
                except Exception as e:  # noqa: BLE001 - report and go on with the rest
                    failed.append(((t, v, prog), str(e)))
            return failed

        bad = set()
        for f in concurrent.futures.as_completed([ex.submit(build_all, t) for t in per_tc]):
            for cell, msg in f.result():
                bad.add(cell)
                errors.append((cell, msg))
                log("error: build %s: %s" % (cell, msg))
        futs = {ex.submit(run_scenario, by_label[t], v, s, n, force): (t, v, s)
                for t, v, s in cells if (t, v, program_of(s)) not in bad}
        for f in concurrent.futures.as_completed(futs):
            try:
                entries.append(f.result())
            except Exception as e:  # noqa: BLE001
                errors.append((futs[f], str(e)))
                log("error: %s: %s" % (futs[f], e))
    entries.sort(key=lambda e: (list(TOOLCHAINS).index(e.toolchain), e.variant, e.program, e.scenario))
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
    ap.add_argument("--variants", default="dwarf,stripped",
                    help="all or a list of [arm64-][pie-]dwarf|stripped (default dwarf,stripped: amd64, not PIE)")
    ap.add_argument("--scenarios", default="all", help="all or a list of names (see --scenario-table)")
    ap.add_argument("--matrix", choices=("full", "default"),
                    help="full = every cell (every toolchain, arch, flavour, scenario; PIE on %s); "
                         "default = the CI slice" % ",".join(PIE_TOOLCHAINS))
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
        for name, desc in CGO_SCENARIOS.items():
            print("%-16s %-5s %s (program corefiles/cgo)" % (name, "cgo", desc))
        return 0
    if a.matrix == "default":
        cells = default_matrix()
    elif a.matrix == "full":
        cells = full_matrix()
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
                          "dump": e.dump, "stacks": e.stacks or None, "account": e.account, "meta": e.meta}))
    else:
        print(e.dir)


if __name__ == "__main__":
    sys.exit(main())
