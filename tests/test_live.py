"""Live processes: goparked --pid, --watch, diff and check, and the promise
that a target is never left stopped or traced.

The target is corefiles/live (parks -park goroutines in
main.parkedReceiver, leaks -leak-rate per second in main.leakySender).
Expectations come from what the target was told to do, from /proc (State,
TracerPid) and from gcore, never from goparked's own output.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, find_go, gcore, goparked_env, run_goparked_cmd

LIVE_SRC = ROOT / "corefiles" / "live"


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="session")
def live_bin(tmp_path_factory):
    go = find_go()
    if go is None:
        pytest.skip("no Go toolchain")
    out = tmp_path_factory.mktemp("live") / "live"
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod")
    env.pop("LD_PRELOAD", None)
    r = subprocess.run([go, "build", "-o", str(out), "."], cwd=str(LIVE_SRC),
                       env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout
    return out


class Target:
    def __init__(self, binary, *args):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        self.p = subprocess.Popen([str(binary)] + [str(a) for a in args],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL,
                                  universal_newlines=True, env=env)
        line = self.p.stdout.readline()
        assert "READY" in line, line
        self.pid = self.p.pid
        self.started = time.monotonic()

    def status(self):
        """(State letter, TracerPid), or (None, None) once it is gone."""
        try:
            text = Path("/proc/%d/status" % self.pid).read_text()
        except OSError:
            return None, None
        f = dict(l.split(":", 1) for l in text.splitlines() if ":" in l)
        return f["State"].split()[0], int(f["TracerPid"])

    def assert_free(self, timeout=3.0):
        """Running on (or gone on its own), not stopped, not traced."""
        deadline = time.monotonic() + timeout
        while True:
            state, tracer = self.status()
            if self.p.poll() is not None or state in (None, "Z"):
                return
            if state not in ("t", "T") and tracer == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError("pid %d left in state %s, TracerPid %d"
                                     % (self.pid, state, tracer))
            time.sleep(0.01)

    def wait_stopped(self, timeout=30.0):
        """Until goparked holds it (tracing stop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state, tracer = self.status()
            if state == "t" and tracer:
                return True
            time.sleep(0.0005)
        return False

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


@pytest.fixture
def target(live_bin):
    made = []

    def start(*args):
        t = Target(live_bin, *args)
        made.append(t)
        return t
    yield start
    for t in made:
        t.close()


def popen_goparked(args):
    return subprocess.Popen(
        [sys.executable, "-m", "goparked"] + [str(a) for a in args],
        cwd=str(ROOT), env=goparked_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True)


def count_at(counts, func):
    return sum(c for k, c in counts.items() if func in k)


# ------------------------------------------------------ the same as a core

def test_live_snapshot_matches_core_and_truth(target, live_bin, tmp_path):
    from goparked.live import snapshot_pid
    from goparked.compare import site_counts
    from goparked.model import Program
    t = target("-park", 500)
    before = time.monotonic_ns()
    prog, snap = snapshot_pid(t.pid)
    after = time.monotonic_ns()
    with prog, snap:
        t.assert_free()
        live = site_counts(snap).counts
        clock = snap.clock
        assert prog.is_live and prog.pause_ns > 0
        # the target's nanotime is our CLOCK_MONOTONIC, read at the stop
        assert clock.exact and before <= clock.now <= after
    core = gcore(t.pid, tmp_path / "core")
    with Program.from_core(str(core), str(live_bin)) as cprog:
        with cprog.snapshot() as csnap:
            from_core = site_counts(csnap).counts
    assert count_at(live, "main.parkedReceiver") == 500
    assert live == from_core


def test_cli_pid_prints_groups_and_pause(target):
    t = target("-park", 64)
    r = run_goparked_cmd(["--pid", t.pid, "--json"])
    assert r.returncode == 0, r.stderr
    t.assert_free()
    doc = json.loads(r.stdout)
    by_key = {g["key"]: g["count"] for g in doc["groups"]}
    assert count_at(by_key, "main.parkedReceiver") == 64
    assert "stopped for" in r.stderr and " ms" in r.stderr


# ------------------------------------- resuming before the walk (the pause)

def test_resume_early_lets_the_target_run_before_the_walk(target):
    """Parked, selecting and running goroutines need nothing beyond the
    copy: the engine lets the target go by itself (no resume() here), and
    the walk of the copy gives what an ordinary snapshot gives."""
    from goparked.compare import site_counts
    from goparked.model import Program
    t = target("-park", 300, "-busy", 1, "-selects", 40)
    ran = 0
    for _ in range(30):  # spin never parks: the first try catches it
        with Program.from_pid(t.pid, resume_early=True) as prog:
            with prog.snapshot() as snap:
                t.assert_free(timeout=0.5)
                early = site_counts(snap).counts
                states = snap.state_counts()[0]
                # every case of every select came with the copy
                selects = [g for g in snap.goroutines()
                           if any(f.func == "main.selectThree"
                                  for f in g.frames)]
                assert len(selects) == 40
                assert all(len(g.waiting) == 3 for g in selects), \
                    [len(g.waiting) for g in selects]
        ran += states.get("running", 0) + states.get("runnable", 0)
        if ran:
            break
    assert ran, "the spinning goroutine was never caught running"
    with Program.from_pid(t.pid) as prog:
        try:
            with prog.snapshot() as snap:
                state, tracer = t.status()
                assert state == "t" and tracer == os.getpid()
                held = site_counts(snap).counts
        finally:
            prog.resume()
    t.assert_free()
    assert count_at(early, "main.parkedReceiver") == 300
    assert count_at(early, "main.selectThree") == 40
    assert count_at(early, "main.spin") <= 1
    assert {k: v for k, v in early.items() if "main.spin" not in k} == \
        {k: v for k, v in held.items() if "main.spin" not in k}


def test_labels_outside_the_copy_mean_a_second_stop(target):
    """Label maps are not in the copy: the early snapshot refuses to mix
    moments (INCOMPLETE, target running), and the CLI takes it again with
    the target stopped throughout, labels and all."""
    from goparked._native import Error
    from goparked.model import Program
    t = target("-park", 10, "-labeled", 20)
    with Program.from_pid(t.pid, resume_early=True) as prog:
        with pytest.raises(Error) as e:
            prog.snapshot()
        assert e.value.code == Error.INCOMPLETE
        t.assert_free(timeout=0.5)
    r = run_goparked_cmd(["--pid", t.pid, "--by", "label", "--json"],
                         env={"GOPARKED_LIVE_DEBUG": "1"})
    assert r.returncode == 0, r.stderr
    t.assert_free()
    assert "stopping it again" in r.stderr
    doc = json.loads(r.stdout)
    by_key = {g["key"]: g["count"] for g in doc["groups"]}
    assert by_key.get("job=labeled") == 20, by_key


# ------------------------------------------------------------ growth

RATE = 20.0  # goroutines per second leaked by the target


def test_watch_names_the_leak_first_with_its_rate(target):
    t = target("-park", 50, "-leak-rate", RATE)
    r = run_goparked_cmd(["--pid", t.pid, "--watch", "1s", "--count", 5,
                          "--json"], timeout=120)
    assert r.returncode == 0, r.stderr
    t.assert_free()
    doc = json.loads(r.stdout)
    # one JSON family: schema and version first, the keys README lists
    from goparked import schema
    assert list(doc) == schema.WATCH_KEYS, list(doc)
    assert (doc["schema"], doc["version"], doc["pid"], doc["samples"]) == \
        (schema.WATCH_SCHEMA, schema.SCHEMA_VERSION, t.pid, 5)
    for g in doc["groups"]:
        assert list(g) == schema.WATCH_GROUP_KEYS, list(g)
    first = doc["groups"][0]
    assert "main.leakySender" in first["key"]
    truth = RATE * 60
    assert abs(first["rate_per_min"] - truth) <= 0.2 * truth, first
    still = [g for g in doc["groups"] if "parkedReceiver" in g["key"]][0]
    assert still["count"] == 50 and abs(still["rate_per_min"]) < 1


def test_diff_of_two_cores_names_the_leak(target, live_bin, tmp_path):
    t = target("-park", 30, "-leak-rate", RATE)
    # Core A may come before the first leak (a fast machine takes it within
    # the target's first 50 ms): then the leak "appeared" rather than "grew".
    # Both name it; what matters is that it is the biggest growth.
    a = gcore(t.pid, tmp_path / "a")
    time.sleep(2)
    b = gcore(t.pid, tmp_path / "b")
    r = run_goparked_cmd(["diff", a, b, "--exe", live_bin, "--json"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    up = sorted(d["grew"] + d["appeared"], key=lambda g: -g["change"])
    assert up and "main.leakySender" in up[0]["key"], d
    assert up[0]["change"] >= RATE  # at least 2 s of leaking
    changed = [g["key"] for w in ("grew", "shrank", "appeared", "vanished")
               for g in d[w]]
    assert not any("parkedReceiver" in k for k in changed)
    # one side a saved JSON report of core A: the same answer
    rep = run_goparked_cmd([a, "--exe", live_bin, "--json"])
    assert rep.returncode == 0, rep.stderr
    ja = tmp_path / "a.json"
    ja.write_text(rep.stdout)
    r2 = run_goparked_cmd(["diff", ja, b, "--exe", live_bin, "--json"])
    assert r2.returncode == 0, r2.stderr
    d2 = json.loads(r2.stdout)
    assert (d2["grew"], d2["appeared"]) == (d["grew"], d["appeared"])


# ------------------------------------------------------------- check

def test_check_exit_codes(target):
    t = target("-park", 300)
    ok = run_goparked_cmd(["check", "--pid", t.pid, "--max-group", 300,
                           "--max-parked", 1000, "--max-age", "1h"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = run_goparked_cmd(["check", "--pid", t.pid, "--max-group", 299])
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "300 > 299" in bad.stdout and "parkedReceiver" in bad.stdout
    bad = run_goparked_cmd(["check", "--pid", t.pid, "--max-parked", 10])
    assert bad.returncode == 1 and "--max-parked" in bad.stdout
    t.assert_free()
    err = run_goparked_cmd(["check", "--pid", 999999999, "--max-group", 1])
    assert err.returncode == 2


# ------------------------------------------------------------- errors

def one_line(r):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    return lines[0]


def test_no_such_pid():
    assert "no process with pid 999999999" in one_line(
        run_goparked_cmd(["--pid", 999999999]))


def test_not_go():
    p = subprocess.Popen(["sleep", "30"])
    try:
        line = one_line(run_goparked_cmd(["--pid", p.pid]))
        assert "sleep" in line and "Go" in line
        assert Path("/proc/%d/status" % p.pid).read_text().count(
            "TracerPid:\t0") == 1
    finally:
        p.kill()
        p.wait()


def test_zombie():
    p = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while "State:\tZ" not in Path("/proc/%d/status" % p.pid).read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        assert "zombie" in one_line(run_goparked_cmd(["--pid", p.pid]))
    finally:
        p.wait()


def test_already_traced_names_the_tracer(target):
    t = target("-park", 5)
    tracer = subprocess.Popen(["strace", "-f", "-o", "/dev/null", "-p",
                               str(t.pid)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while t.status()[1] != tracer.pid:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        line = one_line(run_goparked_cmd(["--pid", t.pid]))
        assert "already traced by pid %d (strace)" % tracer.pid in line
    finally:
        tracer.terminate()
        tracer.wait()
    t.assert_free()


def test_other_user_is_refused_with_the_reason(target):
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    t = target("-park", 5)
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         "--inh-caps=-all", sys.executable, "-m", "goparked", "--pid",
         str(t.pid)], cwd=str(ROOT), env=goparked_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=60)
    line = one_line(r)
    assert "uid 0" in line and "CAP_SYS_PTRACE" in line, line
    t.assert_free()


# ----------------------------------------------------------- robustness

BIG = 150000  # enough goroutines that the stop lasts long enough to hit


def test_target_killed_during_the_snapshot(target):
    t = target("-park", BIG)
    gp = popen_goparked(["--pid", t.pid])
    assert t.wait_stopped(), "never saw the target stopped"
    os.kill(t.pid, signal.SIGKILL)
    out, err = gp.communicate(timeout=60)
    assert gp.returncode in (0, 2), err
    if gp.returncode == 2:
        assert "exited" in err and len(err.strip().splitlines()) == 1, err
    t.p.wait(timeout=10)


def test_signal_to_target_while_held_is_delivered(target):
    """A SIGTERM that arrives while goparked holds the target is handed
    back on detach: the target still dies of it."""
    t = target("-park", BIG)
    gp = popen_goparked(["--pid", t.pid])
    assert t.wait_stopped()
    os.kill(t.pid, signal.SIGTERM)
    gp.communicate(timeout=60)
    assert t.p.wait(timeout=10) == -signal.SIGTERM


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM,
                                 signal.SIGKILL])
def test_goparked_signalled_mid_snapshot_leaves_target_free(target, sig):
    t = target("-park", BIG)
    gp = popen_goparked(["--pid", t.pid])
    assert t.wait_stopped()
    gp.send_signal(sig)
    gp.communicate(timeout=60)
    t.assert_free()
    assert t.p.poll() is None, "the target died"
    # and it really runs: it can be snapshotted again
    r = run_goparked_cmd(["check", "--pid", t.pid, "--max-group", BIG])
    assert r.returncode == 0, r.stdout + r.stderr


def test_leak_verdict_holds_the_process_stopped(target):
    """The verdict reads the whole heap after the goroutines: attach(hold)
    keeps the process stopped until release(), so it never reads a heap
    that moves. The receivers on main.never (a package-level channel in
    corefiles/live) are blocked, held by that global."""
    import goparked
    t = target("-park", 20)
    with goparked.attach(t.pid, hold=True) as prog, prog.snapshot() as snap:
        assert t.status()[0] == "t", t.status()
        view = snap.verdict()
        rows = [r for r in view.rows() if r.group.site and
                r.group.site.func == "main.parkedReceiver"]
        assert [(r.verdict, r.count) for r in rows] == [("blocked", 20)]
        path = view.example(rows[0]).path
        assert path[0].kind == "global" and path[0].name == "main.never", path
        assert t.status()[0] == "t", t.status()
        prog.release()
        t.assert_free()
    r = run_goparked_cmd(["--pid", t.pid, "--leaks"])
    assert r.returncode == 0 and "20  chan receive  main.parkedReceiver" in r.stdout, r.stdout
    assert "process stopped for" in r.stderr
    t.assert_free()
