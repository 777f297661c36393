"""Shared set-up for the goparked tests.

- Builds the engine once per session (make), unless GOPARKED_LIB names a
  library to test (the sanitizer pass of `make test` does that).
- Markers: engine, cli, gdb, lldb, slow (see pytest_configure).
- With CI=true a skipped test is a failure: CI never passes by not testing.
  Expected failures are strict (pyproject.toml: an unexpected pass fails),
  and with CI=true an xfail must name the open issue that will fix it
  ("issue N" in its reason): a known, tracked defect is listed (-rx) and
  does not block; an untracked one fails.
- Under the sanitizer pass (GOPARKED_SANITIZED=1) the ASan runtime is in
  this python through LD_PRELOAD; the preload is taken out of os.environ so
  that go, gcc and gdb run as usual, and run_goparked gives it back to the
  goparked children, which load the sanitized engine too.
- Small programs of our own (tiny_go): a Go program, stripped and not, and
  cores of it made with gcore, plus a core of a non-Go program, for the
  error-path tests. The fixture corpus with accounts is tests/fixtures.py.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SANITIZED = os.environ.get("GOPARKED_SANITIZED", "") not in ("", "0")
SANITIZER_PRELOAD = os.environ.get("GOPARKED_LD_PRELOAD", "")
if SANITIZER_PRELOAD:
    # Already loaded into this process; children get it only on purpose.
    os.environ.pop("LD_PRELOAD", None)

# The fixture corpus (cores + runtime dumps + accounts): its fixtures
# (fixture_core, demo_core, ...) become available to every test.
sys.path.insert(0, str(ROOT / "tests"))
from fixtures import *  # noqa: E402,F401,F403

MARKERS = {
    "engine": "runs the C engine in this process through the binding",
    "cli": "runs the goparked command as a child process",
    "gdb": "runs gdb (not part of the sanitizer pass)",
    "lldb": "runs lldb (not part of the sanitizer pass)",
    "slow": "takes more than a few seconds",
}


def pytest_configure(config):
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", "%s: %s" % (name, doc))
    if getattr(config, "workerinput", None) is not None:
        return  # xdist worker: the controller built it
    if config.getoption("collectonly", False):
        return
    _ensure_engine()


def _ensure_engine():
    lib = os.environ.get("GOPARKED_LIB")
    if lib:
        if not Path(lib).is_file():
            pytest.exit("GOPARKED_LIB=%s does not exist" % lib, returncode=3)
        return
    if os.environ.get("GOPARKED_NO_BUILD"):
        return
    r = subprocess.run(["make", "-s", "all"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode != 0:
        tail = "\n".join(r.stdout.splitlines()[-30:])
        pytest.exit("building the engine failed (make all):\n" + tail,
                    returncode=3)


XFAIL_ISSUE = re.compile(r"\bissue \d+\b")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if CI and hasattr(rep, "wasxfail"):
        if rep.passed:   # a non-strict xfail that passed
            rep.outcome = "failed"
            rep.longrepr = ("passed, but marked xfail (%s): under CI=true "
                            "remove the marker" % rep.wasxfail)
        elif rep.skipped and not XFAIL_ISSUE.search(rep.wasxfail or ""):
            rep.outcome = "failed"
            rep.longrepr = ("xfail under CI=true names no open issue "
                            "(\"issue N\" in its reason): %s" % rep.wasxfail)
        return
    if CI and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) \
            else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = ("skipped under CI=true, and CI does not skip: %s"
                        % reason)


def pytest_sessionfinish(session, exitstatus):
    # Skips outside a test (collection, module-level) are failures in CI too.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if CI and reporter is not None and reporter.stats.get("skipped") \
            and session.exitstatus == 0:
        session.exitstatus = 1


# ------------------------------------------------------------ the command

def goparked_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    env.pop("GOPARKED_DEBUG", None)
    if SANITIZER_PRELOAD:
        env["LD_PRELOAD"] = SANITIZER_PRELOAD
    if extra:
        env.update(extra)
    return env


def run_goparked_cmd(args, timeout=300, env=None):
    """Run `python -m goparked ARGS`; returns the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "goparked"] + [str(a) for a in args],
        cwd=str(ROOT), env=goparked_env(env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)


@pytest.fixture
def run_goparked():
    return run_goparked_cmd


# --------------------------------------------------- small programs of ours

TINY_GO = """\
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

var mu sync.Mutex

func recvForever(c chan int) { <-c }

func lockForever() { mu.Lock() }

func main() {
	c := make(chan int)
	for i := 0; i < 3; i++ {
		go recvForever(c)
	}
	mu.Lock()
	go lockForever()
	time.Sleep(100 * time.Millisecond)
	fmt.Println("READY")
	os.Stdout.Sync()
	time.Sleep(time.Hour)
}
"""


def find_go():
    for go in (shutil.which("go"), "/usr/local/go/bin/go",
               "/usr/lib/go-1.19/bin/go"):
        if go and os.access(go, os.X_OK):
            return go
    return None


def gcore(pid, prefix):
    """A core of a running process via gdb's gcore (no core_pattern
    needed); returns its path."""
    r = subprocess.run(["gcore", "-o", str(prefix), str(pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    path = Path("%s.%d" % (prefix, pid))
    if r.returncode != 0 or not path.exists():
        raise RuntimeError("gcore failed: %s" % r.stdout[-2000:])
    # gcore writes every reserved page, zeros included: a Go program's
    # core is 1.2 GB of mostly zeros. Punching holes keeps the bytes
    # (reads see zeros) and frees the disk; without fallocate, keep it.
    if shutil.which("fallocate"):
        subprocess.run(["fallocate", "--dig-holes", str(path)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def _core_of(argv, prefix, ready=None):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True)
    try:
        if ready:
            line = p.stdout.readline()
            if ready not in line:
                raise RuntimeError("%s did not start: %r" % (argv[0], line))
        else:
            time.sleep(0.2)
        return gcore(p.pid, prefix)
    finally:
        p.kill()
        p.wait()


@pytest.fixture(scope="session")
def tiny_go(tmp_path_factory):
    """A small Go program (3 goroutines on a channel, 1 on a mutex), built
    with and without DWARF, cores of both, and a core of /bin/sleep."""
    go = find_go()
    if go is None:
        pytest.skip("no Go toolchain (scripts/setup-deps installs one)")
    if shutil.which("gcore") is None:
        pytest.skip("no gcore (gdb; scripts/setup-deps installs it)")
    d = tmp_path_factory.mktemp("tiny")
    (d / "main.go").write_text(TINY_GO)
    (d / "go.mod").write_text("module tiny\n\ngo 1.19\n")
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local",
               GOFLAGS="-mod=mod")
    # Another program: same shape, other code (for "core of another
    # executable").
    (d / "other").mkdir()
    (d / "other" / "main.go").write_text(TINY_GO.replace(
        "for i := 0; i < 3; i++", "for i := 0; i < 5; i++").replace(
        "100 * time.Millisecond", "200 * time.Millisecond"))
    ns = SimpleNamespace(dir=d)
    for name, flags in (("tiny", []), ("tiny-stripped", ["-ldflags=-s -w"]),
                        ("other-tiny", [])):
        pkg = "./other" if name == "other-tiny" else "."
        r = subprocess.run([go, "build", "-o", name] + flags + [pkg],
                           cwd=str(d), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if r.returncode != 0:
            raise RuntimeError("go build failed: " + r.stdout)
    ns.exe = d / "tiny"
    ns.exe_stripped = d / "tiny-stripped"
    ns.other_exe = d / "other-tiny"
    ns.core = _core_of([str(ns.exe)], d / "core.tiny", "READY")
    ns.core_stripped = _core_of([str(ns.exe_stripped)],
                                d / "core.tiny-stripped", "READY")
    sleep = shutil.which("sleep")
    ns.sleep_exe = Path(sleep)
    ns.sleep_core = _core_of([sleep, "600"], d / "core.sleep")
    ns.go_version = subprocess.run(
        [go, "env", "GOVERSION"], env=env, stdout=subprocess.PIPE,
        universal_newlines=True).stdout.strip()
    # What TINY_GO parks, as the runtime names it: the wait reason of
    # Mutex.Lock is "sync.Mutex.Lock" from Go 1.20 (runtime2.go).
    lock = "sync.Mutex.Lock" if int(ns.go_version.split(".")[1]) >= 20 \
        else "semacquire"
    ns.parked = {("main.recvForever", "chan receive"): 3,
                 ("main.lockForever", lock): 1}
    return ns


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory, tiny_go):
    """Files that are not what goparked wants, by name."""
    d = tmp_path_factory.mktemp("bad")
    files = {}
    files["empty"] = d / "empty"
    files["empty"].write_bytes(b"")
    files["text"] = d / "notes.txt"
    files["text"].write_text("this is not an ELF file\n" * 100)
    files["random"] = d / "random.bin"
    # Fixed seed: a failure reproduces byte for byte.
    import random
    rnd = random.Random(1234)
    files["random"].write_bytes(bytes(rnd.getrandbits(8)
                                      for _ in range(1 << 16)))
    # ELF magic followed by garbage: gets past the first check.
    files["elf_garbage"] = d / "elf-garbage"
    files["elf_garbage"].write_bytes(b"\x7fELF\x02\x01\x01" +
                                     bytes(rnd.getrandbits(8)
                                           for _ in range(4096)))
    data = tiny_go.core.read_bytes()
    files["core_half"] = d / "core.half"
    files["core_half"].write_bytes(data[:len(data) // 2])
    files["core_header"] = d / "core.header"
    files["core_header"].write_bytes(data[:100])
    files["missing"] = d / "does-not-exist"
    return files
