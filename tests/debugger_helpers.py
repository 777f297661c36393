"""Helpers for test_gdb.py and test_lldb.py: run a debugger in batch mode,
parse `go goroutines` text into groups, start a live Go process."""

import os
import re
import shutil
import subprocess
import tempfile
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
    # What GDB says while it loads (a core's frame #0, missing sources)
    # comes before this mark on stderr; the commands' own words after it.
    argv += ["-ex", "python import sys; sys.stderr.write(%r); "
             "sys.stderr.flush()" % (COMMANDS_MARK + "\n")]
    for c in cmds:
        argv += ["-ex", c]
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout, env=env(), stdin=subprocess.DEVNULL)


def lldb(args, cmds, timeout=300, batch=True, keep_going=False):
    """`lldb -b` with goparked imported before the target is made.
    keep_going: every command runs even after one fails (lldb -b stops at
    the first failing -o command): they are sourced from a file with
    `command source -e false`."""
    if LLDB is None:
        pytest.skip("no lldb-16 (scripts/setup-deps installs it)")
    argv = [LLDB, "--no-lldbinit"] + (["-b"] if batch else []) + [
        "-O", "command script import %s" % LLDB_SCRIPT] + \
        [str(a) for a in args]
    with tempfile.TemporaryDirectory() as d:
        if keep_going:
            path = os.path.join(d, "commands")
            with open(path, "w") as f:
                f.write("".join(c + "\n" for c in cmds))
            cmds = ["command source -e false %s" % path]
        for c in cmds:
            argv += ["-o", c]
        return subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=timeout, env=env(),
                              stdin=subprocess.DEVNULL)


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


COMMANDS_MARK = "-- goparked tests: the commands start here --"


def commands_stderr(text):
    """The part of a debugger's stderr written by the commands given."""
    return text.split(COMMANDS_MARK + "\n", 1)[-1]


def one_line_error(text, *needles):
    """The debugger's stderr holds goparked's error as exactly one line
    (beside the debugger's own "warning: " lines), naming the needles."""
    assert "Traceback" not in text, text
    lines = [l for l in text.splitlines()
             if l.strip() and not l.startswith("warning: ")]
    assert len(lines) == 1, text
    assert all(n in lines[0] for n in needles), (needles, text)
    return lines[0]


def _block(text, header):
    """The lines of the block that starts with `header` (its first line
    and the indented ones after it)."""
    lines = text.splitlines()
    i = next(i for i, l in enumerate(lines) if l.startswith(header))
    out = [lines[i]]
    for l in lines[i + 1:]:
        if not l.startswith("  "):
            break
        out.append(l)
    return out


def assert_sync_text(text, members):
    """`go mutex ADDR` / `--mutex ADDR` text of one object against the
    account's [(goid, object)] for it: decoded state, every waiter by role,
    and the holder ranked first."""
    kind, a = members[0][1]["kind"], int(members[0][1]["addr"], 16)
    head, *rest = _block(text, "%s 0x%x " % (kind, a))
    roles = {}
    for goid, o in members:
        roles.setdefault(o["role"], set()).add(goid)
    if kind == "mutex":
        assert "locked" in head and "unlocked" not in head, head
    elif kind == "rwmutex":
        assert "readers %d" % len(roles.get("rholds", ())) in head, head
        assert ("writer pending" in head) == ("lock" in roles), head
    elif kind == "waitgroup":
        assert "counter %d," % members[0][1]["counter"] in head, head
    for role in ("lock", "rlock", "wait"):
        line = [l for l in rest if l.startswith("  waiting (%s):" % role)]
        if role not in roles:
            assert not line, rest
            continue
        assert len(line) == 1, rest
        n, *ids = [int(x) for x in line[0].split(":", 1)[1].split()]
        assert n == len(ids) and set(ids) == roles[role], (role, line)
    holders = roles.get("holds", set()) | roles.get("rholds", set())
    if holders:
        first = [l for l in rest if "(rank 1): goroutine " in l]
        assert first, rest
        got = {int(l.split("(rank 1): goroutine ")[1].split()[0])
               for l in first}
        assert got == holders, (got, holders, rest)


def assert_deadlocks_text(text, fc):
    """`go deadlocks` / `--deadlocks` text against the account: exactly its
    cycles, and the goroutines it parked where nothing can ever wake them
    (a nil channel, select {})."""
    acc = fc.load_account()

    def canon(goids):
        i = goids.index(min(goids))
        return tuple(goids[i:] + goids[:i])
    cycles, cur = [], None
    for line in text.splitlines():
        if re.match(r"^cycle \d+:$", line):
            cur = []
            cycles.append(cur)
        elif cur is not None and line.startswith("  goroutine "):
            cur.append(int(line.split()[1]))
        elif not line.startswith("  "):
            cur = None
    want = {canon([e["goid"] for e in c["edges"]]) for c in acc["cycles"]}
    assert want and {canon(c) for c in cycles} == want, cycles

    def stuck(what):
        line = next(l for l in text.splitlines()
                    if l.startswith("nobody can wake %s (" % what))
        n, ids = re.search(r": (\d+) goroutines ([\d ]+)$", line).groups()
        ids = {int(x) for x in ids.split()}
        assert int(n) == len(ids), line
        return ids
    groups = acc["groups"]
    assert stuck("nil channel") == {i for g in groups if g["wait_reason"]
                                    .endswith("(nil chan)") for i in g["goids"]}
    assert stuck("select {}") == {i for g in groups if g["wait_reason"] ==
                                  "select (no cases)" for i in g["goids"]}


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
