"""Helpers for test_gdb.py and test_lldb.py: run a debugger in batch mode,
parse `go goroutines` text into groups, start a live Go process."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GDB_SCRIPT = ROOT / "gdb" / "goparked-gdb.py"
LLDB_SCRIPT = ROOT / "lldb" / "goparked_lldb.py"
LLDB = shutil.which("lldb-16") or shutil.which("lldb")


def env():
    e = dict(os.environ)
    e.pop("GOPARKED_DEBUG", None)
    e.pop("LD_PRELOAD", None)
    return e


def gdb(args, cmds, timeout=300):
    """`gdb -nx -batch` with goparked sourced; cmds are -ex commands."""
    if shutil.which("gdb") is None:
        pytest.skip("no gdb (scripts/setup-deps installs it)")
    argv = ["gdb", "-nx", "-batch", "-iex", "set auto-load off",
            "-iex", "set pagination off", "-iex", "set confirm off",
            "-iex", "source %s" % GDB_SCRIPT] + [str(a) for a in args]
    for c in cmds:
        argv += ["-ex", c]
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout, env=env(), stdin=subprocess.DEVNULL)


def lldb(args, cmds, timeout=300, batch=True):
    """`lldb -b` with goparked imported before the target is made."""
    if LLDB is None:
        pytest.skip("no lldb-16 (scripts/setup-deps installs it)")
    argv = [LLDB, "--no-lldbinit"] + (["-b"] if batch else []) + [
        "-O", "command script import %s" % LLDB_SCRIPT] + \
        [str(a) for a in args]
    for c in cmds:
        argv += ["-o", c]
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout, env=env(), stdin=subprocess.DEVNULL)


_GROUP = re.compile(r"^\s+(\d+)\s{2}(.+?)\s{2,}(\S+)\s{2,}(\S+)\s{2,}(.*)$")
_IDS = re.compile(r"^\s+goroutine ([\d ]+)(?: \.\.\. \+\d+)?$")


def groups_of(text):
    """[(count, wait, site, [goids])] from `go goroutines --ids N` text."""
    out, cur = [], None
    for line in text.splitlines():
        m = _GROUP.match(line)
        if m and not line.lstrip().startswith("COUNT"):
            cur = [int(m.group(1)), m.group(2).strip(), m.group(5).strip(),
                   []]
            out.append(cur)
            continue
        m = _IDS.match(line)
        if m and cur is not None:
            cur[3] = [int(x) for x in m.group(1).split()]
    return out


def listing(text):
    """The part of `go goroutines` output from the header on (drops the
    debugger's own lines before it)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\d+ goroutines", line):
            return "\n".join(lines[i - 1:])
    return text


def assert_account_groups(groups, account):
    """Each group the fixture says it parked is inside one listed group
    whose site is its wait function: the fixture's truth, not goparked's."""
    by_goid = {}
    for count, wait, site, goids in groups:
        assert count == len(goids), (count, goids)
        for gid in goids:
            by_goid[gid] = (wait, site)
    for grp in account["groups"]:
        if grp["state"] != "waiting":
            continue
        for gid in grp["goids"]:
            assert gid in by_goid, (grp["group"], gid)
            wait, site = by_goid[gid]
            assert site.startswith(grp["wait_func"] + " ") or \
                grp["wait_func"] in site, (grp["group"], gid, site)


def one_line_error(text, *needles):
    lines = [l for l in text.splitlines() if l.strip()]
    errs = [l for l in lines if "error" in l.lower() or l.startswith("go ")]
    assert "Traceback" not in text, text
    found = [l for l in lines if all(n in l for n in needles)]
    assert found, (needles, text)
    return found[0]


LIVE_GO = """\
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

//go:noinline
func parkedReceiver(c chan int, wg *sync.WaitGroup) {
	wg.Done()
	<-c
}

func main() {
	c := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < 7; i++ {
		wg.Add(1)
		go parkedReceiver(c, &wg)
	}
	wg.Wait()
	fmt.Println("READY")
	os.Stdout.Sync()
	time.Sleep(time.Hour) // not select{}: the runtime would call that a deadlock
}
"""
LIVE_PARKED = 7


def build_live(tmp, go):
    d = Path(tmp)
    (d / "main.go").write_text(LIVE_GO)
    (d / "go.mod").write_text("module live\n\ngo 1.19\n")
    e = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local",
             GOFLAGS="-mod=mod")
    r = subprocess.run([go, "build", "-o", "live", "."], cwd=str(d), env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode != 0:
        raise RuntimeError(r.stdout)
    return d / "live"


class LiveProcess:
    def __init__(self, exe):
        self.exe = exe
        self.p = subprocess.Popen([str(exe)], stdout=subprocess.PIPE,
                                  universal_newlines=True)
        line = self.p.stdout.readline()
        if "READY" not in line:
            self.p.kill()
            raise RuntimeError("live process did not start: %r" % line)
        self.pid = self.p.pid

    def close(self):
        self.p.kill()
        self.p.wait()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    import socket
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gdbserver did not listen on %d" % port)
