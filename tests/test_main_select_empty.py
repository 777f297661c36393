"""The main goroutine parked in select {} is not leaked, as Go's detector says.

Found on caddy 2.11.9 (`caddy file-server` ends its main goroutine with
select {}, notes: realsvc): --leaks called the healthy server's goroutine 1
"leaked (proven)". Go's goroutine leak detector (1.26's experiment, 1.27)
does not scan main's stack then, but never reports it either (mgc.go
findGoroutineLeaks sets goroutine 1 in select {} back to waiting), and
still reports what only main's frame could have woken.

The program is the runtime's own SelectNoCasesMain case: main makes a
channel, a goroutine receives on it, main parks in select {}. The facts
are the runtime's goroutineleak profile, taken in the program while main
is in select {}: the receiver leaked, goroutine 1 not.
"""

import os
import re
import subprocess

import pytest

from conftest import gcore
from fixtures import generate
from goparked.model import Program

pytestmark = pytest.mark.engine

PROGRAM = r'''
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

//go:noinline
func recvForever(ch chan int) { <-ch }

//go:noinline
func sleeper() {
	for {
		time.Sleep(time.Hour)
	}
}

// parked: goroutine 1 is parked in select {} and the receiver on its
// channel (runtime.Stack's headers).
func parked() bool {
	buf := make([]byte, 1<<16)
	n := runtime.Stack(buf, true)
	return bytes.Contains(buf[:n], []byte("\ngoroutine 1 [select (no cases)")) &&
		bytes.Contains(buf[:n], []byte("[chan receive]:\nmain.recvForever("))
}

// profile waits until both are parked, then asks the
// runtime's detector and prints its debug=2 text, then READY.
func profile() {
	for !parked() {
		time.Sleep(time.Millisecond)
	}
	var b bytes.Buffer
	pprof.Lookup("goroutineleak").WriteTo(&b, 2)
	os.Stdout.Write(b.Bytes())
	fmt.Println("READY")
	os.Stdout.Sync()
	sleeper()
}

func main() {
	ch := make(chan int)
	go recvForever(ch)
	go profile()
	select {}
}
'''


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    try:
        tc = generate.probe("1.27")
    except generate.Unavailable as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("mainselect")
    (d / "main.go").write_text(PROGRAM)
    (d / "go.mod").write_text("module mainselect\n\ngo 1.26\n")
    r = subprocess.run([tc.go, "build", "-o", "mainselect", "."], cwd=str(d), env=tc.env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert r.returncode == 0, r.stdout
    p = subprocess.Popen([str(d / "mainselect")], cwd=str(d), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True)
    try:
        out = []
        for line in p.stdout:
            if line.startswith("READY"):
                break
            out.append(line)
        else:
            pytest.fail("no READY: %s" % p.stderr.read()[-2000:])
        path = gcore(p.pid, d / "core.mainselect")
    finally:
        p.kill()
        p.wait()
    text = "".join(out)
    # "goroutine 7 gp=... m=nil [chan receive (leaked)]:" (traceback.go goroutineheader)
    headers = re.findall(r"^goroutine (\d+) [^\[]*\[([^\]]*)\]", text, re.M)
    assert headers, text[:2000]
    return path, d / "mainselect", headers


def test_main_in_select_empty_is_not_leaked(core):
    path, exe, headers = core
    leaked = {int(g) for g, st in headers if "(leaked)" in st}
    status = {int(g): st for g, st in headers}
    # the runtime's facts: the receiver leaked; main, in select {}, did not
    assert status.get(1, "").startswith("select (no cases)") and 1 not in leaked, status
    assert len(leaked) == 1, status
    with Program.from_core(str(path), str(exe)) as prog:
        snap = prog.snapshot()
        v = snap.verdicts()
        assert v.heap_model, v.heap_error
        goids = snap.goid_array()
        mine = {goids[i] for i in range(len(goids)) if v.of(i).key == "leaked"}
        assert mine == leaked, "goparked: %s; runtime: %s" % (sorted(mine), sorted(leaked))
        main = v.of(snap.find(1))
        assert main.key == "blocked", (main.key, main.reason)
