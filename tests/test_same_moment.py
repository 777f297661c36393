"""Same moment, same answers: a live process read with --pid and a gcore of
the same parked process give the same conclusions (issue 11).

corefiles/leaks parks goroutines whose fate it knows (mutex holders as a
struct field and as a global, channel receivers whose senders hold the
channel, Cond waiters...), prints READY and stays parked. The live
conclusions (goparked.attach, and `goparked --pid --leaks --json`) are
taken first, then a gcore of the same process, read as a core. Every
channel's waiters and wakers, every sync object's holders, waiters and
state, the wait-for graph's cycles and stuck objects and every parked
goroutine's leak verdict must be equal; only timing fields (ages, clocks)
and stack-slot addresses may differ. The core is deleted afterwards.
"""
import json
import os
import subprocess

import pytest

from conftest import gcore, run_goparked_cmd
from debugger_helpers import gdb, lldb
from leak_fixtures import leakgen

# Timing fields and the places a value was seen on a stack (the stack may
# be copied between the two reads; the object it names may not).
VOLATILE = {"age", "age_ns", "waitsince", "wait_since", "since", "clock",
            "now", "slot", "slots", "program", "pause_ns", "schema",
            "version"}


def normal(doc):
    """doc without its volatile fields, lists of records in a stable
    order."""
    if isinstance(doc, dict):
        return {k: normal(v) for k, v in doc.items()
                if k not in VOLATILE and not k.startswith("age")}
    if isinstance(doc, list):
        items = [normal(v) for v in doc]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return doc


def show(a, b):
    return "live %s\ncore %s" % (json.dumps(a, sort_keys=True),
                                  json.dumps(b, sort_keys=True))


def conclusions(snap, goids):
    """What goparked concludes about the parked program: per object and
    per goroutine the account names."""
    from goparked import analysis, schema
    chans = {c.address: normal(schema.chan_json(c))
             for c in analysis.chans(snap)}
    syncs = {s.address: normal(schema.sync_json(s))
             for s in analysis.syncs(snap)}
    d = analysis.Deadlocks(snap)
    graph = normal(schema.deadlocks_doc(snap, d))
    v = snap.verdicts()
    verdicts = {}
    for i, goid in enumerate(snap.goid_array()):
        if goid in goids:
            x = v.of(i)
            verdicts[goid] = (x.key, x.reason, x.object, x.holder_goid)
    return {"chans": chans, "syncs": syncs, "graph": graph,
            "verdicts": verdicts}


def documents(text):
    """The JSON documents a debugger printed, one after another (its own
    lines between them skipped)."""
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        i = text.find("{\n", i)
        if i < 0:
            return out
        doc, i = dec.raw_decode(text, i)
        out.append(doc)


def debugger_conclusions(text):
    """chans, syncs and the wait-for graph from the `go chan/mutex
    ADDR --json` and `go deadlocks --json` documents of one session."""
    chans, syncs, graph, rows = {}, {}, None, None
    for doc in documents(text):
        if isinstance(doc.get("chan"), dict):
            chans[int(doc["chan"]["address"] or "0", 16)] = \
                normal(doc["chan"])
        elif isinstance(doc.get("sync"), dict):
            syncs[int(doc["sync"]["address"] or "0", 16)] = \
                normal(doc["sync"])
        elif "stuck" in doc:
            graph = normal({k: doc[k] for k in ("cycles", "stuck",
                                                 "truncated")})
        elif "rows" in doc:
            rows = verdict_rows(doc)
    return {"chans": chans, "syncs": syncs, "graph": graph, "rows": rows}


def verdict_rows(leaks_doc):
    """The leak verdict's rows but those of goroutines still running, each
    retention path reduced to its root. Where the two reads are not one
    moment (the debugger attaches after the core was taken), the program
    ran in between, and the objects on a path through the runtime's own
    structures may legitimately differ (seen: one of 128 bytes, then of 64,
    between runtime.allp and a P); the root they are held from does
    not."""
    rows = [r for r in normal(leaks_doc["rows"]) if r["verdict"] != "live"]
    for r in rows:
        r["path"] = [{k: v for k, v in r["path"][-1].items()
                      if k in ("kind", "name", "goid", "local")}
                     ] if r["path"] else []
    return rows


def object_commands(c):
    return (["go chan 0x%x --json" % a for a in sorted(c["chans"])] +
            ["go mutex 0x%x --json" % a for a in sorted(c["syncs"])] +
            ["go deadlocks --json", "go leaks --json"])


def assert_same(live, dead):
    for k in ("chans", "syncs"):
        assert sorted(live[k]) == sorted(dead[k]), k
        for addr in live[k]:
            assert live[k][addr] == dead[k][addr], \
                show(live[k][addr], dead[k][addr])
    assert live["graph"] == dead["graph"], show(live["graph"], dead["graph"])


@pytest.fixture(scope="module")
def leaks_exe():
    try:
        tc = leakgen.probe("1.26")
        return leakgen.build(tc, "dwarf")
    except leakgen.Unavailable as exc:
        pytest.skip("Go 1.26 unavailable: %s" % exc)


@pytest.fixture
def parked(leaks_exe, tmp_path):
    """The leaks program, every case parked, and its account."""
    acc = tmp_path / "account.json"
    p = subprocess.Popen([leaks_exe, "-scenario", "all",
                          "-leakprofile=false", "-account", str(acc)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, universal_newlines=True)
    try:
        for line in p.stdout:
            if "READY" in line:
                break
        else:
            pytest.fail("leaks exited before READY")
        yield p, json.loads(acc.read_text())
    finally:
        p.kill()
        p.wait()


def account_goids(account):
    return {g["goid"] for g in account["goroutines"]}


def test_live_and_core_conclude_the_same(parked, leaks_exe, tmp_path):
    import goparked
    from goparked.live import snapshot_pid
    p, account = parked
    goids = account_goids(account)
    prog, snap = snapshot_pid(p.pid)
    with prog:
        live = conclusions(snap, goids)
    cli_live = run_goparked_cmd(["--pid", p.pid, "--leaks", "--json"])
    assert cli_live.returncode == 0, cli_live.stderr
    core = gcore(p.pid, tmp_path / "core")
    try:
        with goparked.open(core, leaks_exe) as cprog:
            dead = conclusions(cprog.snapshot(), goids)
        cli_core = run_goparked_cmd([core, "--exe", leaks_exe, "--leaks",
                                     "--json"])
        assert cli_core.returncode == 0, cli_core.stderr
    finally:
        os.unlink(core)
    # what the account says must be there, so that equality means
    # something: every parked goroutine has a verdict, the mutexes and
    # channels it waits on are seen
    assert set(live["verdicts"]) == set(dead["verdicts"])
    assert len(live["verdicts"]) >= len(goids) - 2
    assert live["chans"] and live["syncs"]
    assert_same(live, dead)
    for goid in live["verdicts"]:
        assert live["verdicts"][goid] == dead["verdicts"][goid], \
            (goid, live["verdicts"][goid], dead["verdicts"][goid])
    a, b = json.loads(cli_live.stdout), json.loads(cli_core.stdout)
    assert verdict_rows(a) == verdict_rows(b)
    assert normal(a["cycles"]) == normal(b["cycles"])


@pytest.mark.gdb
@pytest.mark.lldb
def test_gdb_live_and_lldb_core_conclude_the_same(parked, leaks_exe,
                                                  tmp_path):
    """GDB attached to the live process and LLDB on a gcore of it give
    the conclusions the engine gives on the core."""
    import goparked
    p, account = parked
    core = gcore(p.pid, tmp_path / "core")
    try:
        with goparked.open(core, leaks_exe) as cprog:
            dead = conclusions(cprog.snapshot(), account_goids(account))
        cli_core = run_goparked_cmd([core, "--exe", leaks_exe, "--leaks",
                                     "--json"])
        assert cli_core.returncode == 0, cli_core.stderr
        dead["rows"] = verdict_rows(json.loads(cli_core.stdout))
        cmds = object_commands(dead)
        r = lldb(["--core", core, leaks_exe], cmds)
        assert r.returncode == 0, r.stderr[-3000:]
        in_lldb = debugger_conclusions(r.stdout)
    finally:
        os.unlink(core)
    r = gdb(["-p", p.pid], cmds)
    in_gdb = debugger_conclusions(r.stdout)
    assert r.returncode == 0, r.stderr[-3000:]
    assert dead["chans"] and dead["syncs"]
    assert_same(in_gdb, dead)
    assert_same(in_lldb, dead)
    assert dead["rows"]
    assert in_gdb["rows"] == dead["rows"]
    assert in_lldb["rows"] == dead["rows"]
