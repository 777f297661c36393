"""One JSON family: every --json document carries schema and version,
exactly the keys goparked/schema.py lists (the README documents the same
lists), addresses as "0x..." strings and unknown as null. Values are
checked against the fixture's own account of what it built."""

import collections
import json
import re

import pytest

from goparked import schema
from fixtures import TOOLCHAINS, core_for

pytestmark = pytest.mark.cli

HEX = re.compile(r"^0x[0-9a-f]+$")
# Keys whose values are addresses (or bit words) wherever they appear.
ADDRESS_KEYS = {"address", "gopc", "startpc", "pc", "sp", "stack_lo",
                "stack_hi", "m", "wait_address", "object", "sudog", "entry",
                "key_address", "sema", "state_word", "slot", "value", "site_pc"}


def _run(fc, *args):
    from conftest import run_goparked_cmd
    r = run_goparked_cmd([fc.core, "--exe", fc.exe] + list(args))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _addresses_are_strings(node, path="$"):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ADDRESS_KEYS and not isinstance(v, (dict, list)):
                assert v is None or (isinstance(v, str) and HEX.match(v)), \
                    "%s.%s = %r" % (path, k, v)
            _addresses_are_strings(v, "%s.%s" % (path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _addresses_are_strings(v, "%s[%d]" % (path, i))


def _head(doc, name, keys):
    assert list(doc) == keys
    assert doc["schema"] == name and doc["version"] == schema.SCHEMA_VERSION
    assert list(doc["program"]) == schema.PROGRAM_KEYS
    assert list(doc["clock"]) == schema.CLOCK_KEYS
    _addresses_are_strings(doc)


FC = [pytest.param(t, id="go" + t) for t in (TOOLCHAINS[0], TOOLCHAINS[-1])]


@pytest.mark.parametrize("toolchain", FC)
def test_snapshot_every_key(toolchain):
    fc = core_for(toolchain, "dwarf", "all")
    doc = _run(fc, "--json")
    _head(doc, schema.SNAPSHOT_SCHEMA, schema.SNAPSHOT_KEYS)
    assert list(doc["summary"]) == schema.SUMMARY_KEYS
    assert list(doc["grouping"]) == schema.GROUPING_KEYS
    assert list(doc["grouping"]["filter"]) == schema.FILTER_KEYS
    for t in doc["threads"]:
        assert list(t) == schema.THREAD_KEYS
    for g in doc["goroutines"]:
        assert list(g) == schema.GOROUTINE_KEYS
        for w in g["waiting_on"]:
            assert list(w) == schema.WAITING_ON_KEYS
    for gr in doc["groups"]:
        assert list(gr) == schema.GROUP_KEYS
    acct = fc.load_account()
    assert doc["program"]["go_version"] == acct["go_version"]
    one = _run(fc, "--goroutine", str(acct["main_goid"]), "--json")
    _head(one, schema.GOROUTINE_SCHEMA, schema.ONE_GOROUTINE_KEYS)
    g = one["goroutine"]
    assert g["goid"] == acct["main_goid"]
    assert list(g) == [k for k in schema.GOROUTINE_KEYS
                       if not k.endswith("stack_id")] + \
        ["frames", "creator_frames"]
    for f in g["frames"] + g["creator_frames"]:
        assert list(f) == schema.FRAME_KEYS


def _objects(fc, kinds):
    for g in fc.load_account()["groups"]:
        for o in g.get("objects") or []:
            if o["kind"] in kinds and o["role"] not in ("holds", "rholds"):
                yield g, o


@pytest.mark.parametrize("toolchain", FC)
def test_chan_documents(toolchain):
    fc = core_for(toolchain, "dwarf", "all")
    checked = 0
    for g, o in _objects(fc, ("chan",)):
        if o.get("nil"):
            continue
        doc = _run(fc, "--chan", o["addr"], "--json")
        _head(doc, schema.CHAN_SCHEMA, schema.CHAN_DOC_KEYS)
        c = doc["chan"]
        assert list(c) == schema.CHAN_KEYS
        assert int(c["address"], 16) == int(o["addr"], 16)
        assert (c["elem_type"], c["len"], c["cap"]) == \
            (o["elem_type"], o["len"], o["cap"])
        assert set(g["goids"]) <= {w["goid"] for w in c["waiters"]}, o
        for w in c["waiters"]:
            assert list(w) == schema.WAITER_KEYS
        for h in c["wakers"]:
            assert list(h) == schema.HOLDER_KEYS
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("toolchain", FC)
def test_sync_documents(toolchain):
    fc = core_for(toolchain, "dwarf", "all")
    checked = 0
    for g, o in _objects(fc, ("mutex", "rwmutex", "waitgroup")):
        doc = _run(fc, "--mutex", o["addr"], "--json")
        _head(doc, schema.SYNC_SCHEMA, schema.SYNC_DOC_KEYS)
        s = doc["sync"]
        assert list(s) == schema.SYNC_KEYS
        assert int(s["address"], 16) == int(o["addr"], 16)
        assert s["kind"] == o["kind"]
        if o["kind"] == "waitgroup":
            assert s["counter"] == o["counter"]
            assert s["locked"] is None  # a WaitGroup has no lock
        else:
            assert s["locked"] is True
        if o.get("holder_via") == "local":
            best = [h["goid"] for h in s["holders"] if h["rank"] == 1]
            assert best == [o["holder_goid"]], (o, s["holders"])
        for h in s["holders"]:
            assert list(h) == schema.HOLDER_KEYS
        for w in s["waiters"]:
            assert list(w) == schema.WAITER_KEYS
        assert set(g["goids"]) <= {w["goid"] for w in s["waiters"]}, o
        checked += 1
    assert checked >= 4


def _canon(goids):
    i = goids.index(min(goids))
    return tuple(goids[i:] + goids[:i])


@pytest.mark.parametrize("toolchain", FC)
def test_deadlocks_document(toolchain):
    fc = core_for(toolchain, "dwarf", "all")
    doc = _run(fc, "--deadlocks", "--json")
    _head(doc, schema.DEADLOCKS_SCHEMA, schema.DEADLOCKS_KEYS)
    assert doc["leaks"] is None  # the verdict only with --verdict
    acct = fc.load_account()
    want = {_canon([e["goid"] for e in c["edges"]]) for c in acct["cycles"]}
    assert {_canon([e["goid"] for e in c["edges"]])
            for c in doc["cycles"]} == want
    for c in doc["cycles"]:
        assert list(c) == schema.CYCLE_KEYS
        for e in c["edges"]:
            assert list(e) == schema.EDGE_KEYS
    want_edges = {(e["goid"], int(e["waits_on"]["addr"], 16),
                   e["waits_for"]) for c in acct["cycles"]
                  for e in c["edges"]}
    assert {(e["goid"], int(e["waits_on"]["address"], 16), e["waits_for"])
            for c in doc["cycles"] for e in c["edges"]} == want_edges
    groups = {g["group"]: set(g["goids"]) for g in acct["groups"]}
    stuck = doc["stuck"]
    for s in stuck:
        assert list(s) == schema.STUCK_KEYS
    nil = [s for s in stuck if s["reason"] == "nil channel"]
    assert nil and all(s["object"] is None and s["provable"] for s in nil)
    assert groups["nil_send"] | groups["nil_recv"] <= \
        {i for s in nil for i in s["goids"]}
    empty = [s for s in stuck if s["reason"] == "select {}"]
    assert groups["select_empty"] <= {i for s in empty for i in s["goids"]}
    assert all(s["kind"] is None for s in empty)


def test_diff_document():
    from conftest import run_goparked_cmd
    fc = core_for(TOOLCHAINS[-1], "dwarf", "all")
    r = run_goparked_cmd(["diff", fc.core, fc.core, "--exe", fc.exe,
                          "--json"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == schema.DIFF_KEYS
    assert doc["schema"] == schema.DIFF_SCHEMA
    assert doc["version"] == schema.SCHEMA_VERSION
    assert not any(doc[w] for w in ("grew", "shrank", "appeared",
                                    "vanished"))


@pytest.mark.parametrize("option,name", [
    (["--leaks", "--json"], "goparked/leaks"),
    (["--deadlocks", "--json"], "goparked/deadlocks"),
    (["--jsonl"], "goparked/record")])
def test_diff_refuses_what_is_not_a_grouping(option, name, tmp_path):
    """diff compares groups: a saved verdict (--leaks/--deadlocks --json)
    or a --jsonl stream, on either side, is refused in one line naming
    what it is and what diff needs; a saved --json of the same core is
    taken (nothing changed between a core and itself)."""
    from conftest import run_goparked_cmd
    fc = core_for(TOOLCHAINS[-1], "dwarf", "all")
    saved = tmp_path / "saved.json"
    saved.write_text(_run_text(fc, *option))
    for pair in ([saved, fc.core], [fc.core, saved]):
        r = run_goparked_cmd(["diff"] + pair + ["--exe", fc.exe])
        assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1, r.stderr
        line = r.stderr
        assert line.startswith("goparked: error: %s is a %s document (%s)"
                               % (saved, name, " ".join(option))), line
        assert "goparked/snapshot" in line and "Traceback" not in line
    grouping = tmp_path / "grouping.json"
    grouping.write_text(_run_text(fc, "--json"))
    r = run_goparked_cmd(["diff", grouping, fc.core, "--exe", fc.exe,
                          "--json"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert not any(doc[w] for w in ("grew", "shrank", "appeared",
                                    "vanished")), doc


def _run_text(fc, *args):
    from conftest import run_goparked_cmd
    r = run_goparked_cmd([fc.core, "--exe", fc.exe] + list(args))
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("toolchain", FC)
@pytest.mark.parametrize("scenario", ["all", "labels"])
def test_streams_equal_the_snapshot(toolchain, scenario):
    """--json (written as a stream from the engine's arrays) and --jsonl
    --detail parse, and equal the in-memory snapshot's objects goroutine
    by goroutine (schema.snapshot_json builds them from model.Goroutine)."""
    from goparked import api
    from goparked.model import Filter
    fc = core_for(toolchain, "dwarf", scenario)
    with api.open(fc.core, fc.exe) as prog:
        with prog.snapshot() as snap:
            want = json.loads(json.dumps(schema.snapshot_json(
                snap, snap.group("site", Filter()))))
    doc = _run(fc, "--json")
    assert doc == want
    from conftest import run_goparked_cmd
    r = run_goparked_cmd([fc.core, "--exe", fc.exe, "--jsonl", "--detail",
                          "--ids", "100000"])
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    head = schema.RECORD_HEAD_KEYS
    for x in recs:
        assert list(x)[:4] == head and x["schema"] == schema.RECORD_SCHEMA
        assert x["version"] == schema.SCHEMA_VERSION
        assert x["target"] == want["program"]["target"]
    kinds = [x["record"] for x in recs]
    assert kinds[0] == "snapshot"
    assert list(recs[0]) == schema.RECORD_SNAPSHOT_KEYS
    last_g = max(i for i, k in enumerate(kinds) if k == "goroutine")
    assert all(k in ("stack", "goroutine") for k in kinds[1:last_g + 1])
    assert all(k in ("group", "signature") for k in kinds[last_g + 1:])
    strip = lambda x: {k: v for k, v in x.items() if k not in head}  # noqa
    assert [strip(x) for x in recs if x["record"] == "goroutine"] == \
        want["goroutines"]
    assert [strip(x) for x in recs if x["record"] == "group"] == \
        want["groups"]
    stacks = {str(x["stack_id"]): x["frames"] for x in recs
              if x["record"] == "stack"}
    for sid, frames in want["stacks"].items():
        assert stacks[sid] == frames
    sigs = [x for x in recs if x["record"] == "signature"]
    for x in sigs:
        assert list(x) == head + schema.SIGNATURE_KEYS
    # every non-system goroutine counted once, under its own signature
    per = {}
    for g in want["goroutines"]:
        if not g["system"]:
            per[g["signature"]] = per.get(g["signature"], 0) + 1
    assert {x["signature"]: x["count"] for x in sigs} == per


def _jsonl(e, *args):
    from conftest import run_goparked_cmd
    r = run_goparked_cmd([e.core, "--exe", e.exe, "--jsonl"] + list(args))
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


VERDICT_CELLS = [("1.27", "dwarf", "plain"), ("1.27", "dwarf", "profile")]


def _goroutine_verdicts(gs, keys, acc, cell):
    """{goid: verdict key} of goroutine records gs, each with exactly
    keys; held to the fixture's account (corefiles/leaks: each
    goroutine's expected verdict) and, on a core taken after the runtime's
    own detector ran, to its goroutineleak profile (the leaked (proven)
    goids)."""
    want = {g["goid"]: g["expect"] for g in acc["goroutines"]}
    verdict_of = {}
    for g in gs:
        assert list(g) == keys
        assert g["verdict"] in ["live"] + schema.VERDICT_KEYS
        assert (g["verdict_reason"] in schema.VERDICT_REASON_KEYS or
                g["verdict_reason"] is None and g["verdict"] == "live"), g
        verdict_of[g["goid"]] = g["verdict"]
    assert {k: verdict_of.get(k) for k in want} == want
    prof = acc.get("runtime_leak_profile") or {}
    if prof.get("available"):
        mine = {goid for goid, v in verdict_of.items() if v == "leaked"}
        assert mine == set(prof["leaked_goids"])
    elif cell[2] == "profile":
        pytest.fail("a profile core without the runtime's profile: %r" % prof)
    return verdict_of


@pytest.mark.parametrize("cell", VERDICT_CELLS, ids=lambda c: "go%s-%s-%s" % c)
def test_jsonl_verdict_round_trip(cell):
    """--jsonl --verdict: the snapshot record's "verdicts", every
    goroutine record's "verdict"/"verdict_reason" and every group
    record's "verdicts" have exactly the keys schema.py lists, and their
    values are the fixture's account and the runtime's goroutineleak
    profile (_goroutine_verdicts). Without --verdict the records are as
    before: no verdict key."""
    from leak_fixtures import leak_core
    e = leak_core(*cell)
    acc = e.load_account()
    want = {g["goid"]: g["expect"] for g in acc["goroutines"]}
    recs = _jsonl(e, "--detail", "--verdict", "--ids", "100000")
    head = schema.RECORD_HEAD_KEYS
    snap = recs[0]
    assert list(snap) == (schema.RECORD_SNAPSHOT_KEYS +
                          schema.RECORD_SNAPSHOT_VERDICT_KEYS)
    assert list(snap["verdicts"]) == ["live"] + schema.VERDICT_KEYS
    gs = [x for x in recs if x["record"] == "goroutine"]
    groups = [x for x in recs if x["record"] == "group"]
    assert gs and groups
    verdict_of = _goroutine_verdicts(
        gs, head + schema.GOROUTINE_KEYS + schema.GOROUTINE_VERDICT_KEYS,
        acc, cell)
    # the snapshot's counts are the goroutines', every one of them
    assert snap["verdicts"] == {k: sum(1 for v in verdict_of.values()
                                       if v == k) for k in snap["verdicts"]}
    for k in ("leaked", "no_waker", "lingering"):
        assert snap["verdicts"][k] == sum(1 for v in want.values() if v == k)
    checked = 0
    for gr in groups:
        assert list(gr) == head + schema.GROUP_KEYS + schema.GROUP_VERDICT_KEYS
        assert list(gr["verdicts"]) == schema.VERDICT_KEYS
        assert sum(gr["verdicts"].values()) == gr["count"] == len(gr["goids"])
        if all(x in want for x in gr["goids"]):
            assert {k: n for k, n in gr["verdicts"].items() if n} == dict(
                collections.Counter(want[x] for x in gr["goids"])), gr
            checked += 1
    assert checked > 20
    # without --verdict: not a key more
    for x in _jsonl(e, "--detail"):
        extra = {"snapshot": schema.RECORD_SNAPSHOT_KEYS,
                 "goroutine": head + schema.GOROUTINE_KEYS,
                 "group": head + schema.GROUP_KEYS}.get(x["record"])
        if extra is not None:
            assert list(x) == extra, x["record"]


@pytest.mark.parametrize("cell", VERDICT_CELLS, ids=lambda c: "go%s-%s-%s" % c)
def test_json_verdict_goroutines(cell):
    """--json --verdict: every goroutine (the engine's JSON writer) has
    "verdict" and "verdict_reason" after its other keys, as --jsonl
    --detail's records, held to the account and the runtime's
    goroutineleak profile (_goroutine_verdicts); each group's "verdicts"
    are its goroutines'. Without --verdict: no verdict key."""
    from leak_fixtures import leak_core
    e = leak_core(*cell)
    doc = _run(e, "--verdict", "--json")
    _head(doc, schema.SNAPSHOT_SCHEMA, schema.SNAPSHOT_KEYS)
    verdict_of = _goroutine_verdicts(
        doc["goroutines"], schema.GOROUTINE_KEYS + schema.GOROUTINE_VERDICT_KEYS,
        e.load_account(), cell)
    assert len(verdict_of) == doc["summary"]["goroutines"]
    for gr in doc["groups"]:
        assert gr["verdicts"] == {k: sum(1 for x in gr["goids"] if verdict_of[x] == k)
                                  for k in schema.VERDICT_KEYS}, gr
    for g in _run(e, "--json")["goroutines"]:
        assert list(g) == schema.GOROUTINE_KEYS


def test_readme_documents_every_key_and_verdict_word():
    """Every key list of schema.py and verdict.py (what the documents'
    tests hold each document to) is in README.rst, each key as a literal;
    the verdict's keys, words and reasons are the engine's (the binding's
    enums, which test_binding holds to the C header), README pairs each
    word with its key as schema.VERDICT_WORDS does, and every surface's
    words come from that one table."""
    import os
    from goparked import _native as N
    from goparked import verdict as V
    with open(os.path.join(os.path.dirname(__file__), "..", "README.rst"),
              encoding="utf-8") as f:
        readme = f.read()
    literals = set(re.findall(r"``([^`]+)``", readme))
    lists = [(m.__name__, name, getattr(m, name)) for m in (schema, V)
             for name in dir(m) if name.endswith("_KEYS")
             and isinstance(getattr(m, name), list)]
    assert len(lists) > 40
    missing = ["%s.%s: %s" % (mod, name, k) for mod, name, keys in lists
               for k in keys if k not in literals]
    assert not missing, missing
    # the engine's verdicts and reasons, every one documented
    assert list(N.VERDICT_KEYS.values()) == ["live"] + schema.VERDICT_KEYS
    assert list(V.ORDER) == schema.VERDICT_KEYS
    assert {v for v in N.VERDICT_REASON_KEYS.values() if v} == \
        set(schema.VERDICT_REASON_KEYS)
    assert {k: V.WORDS[k] for k in schema.VERDICT_KEYS} == \
        schema.VERDICT_WORDS
    for key, words in schema.VERDICT_WORDS.items():
        assert "``%s`` [``%s``]" % (words, key) in readme, (key, words)
        assert V.counts_words({key: 3}) == "3 " + words
        assert V._HEADINGS[key].startswith(words)
    for reason in schema.VERDICT_REASON_KEYS:
        assert reason in literals, reason


def _family_faults(doc, where):
    """How doc breaks the family's conventions, one line each: an address
    that is not a "0x..." string, an integer too big to be anything but an
    address or a clock (only *_ns keys may hold those), a sentinel where
    unknown is null ("" or -1)."""
    bad = []

    def walk(node, path, key):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, "%s.%s" % (path, k), k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s[%d]" % (path, i), key)
        elif key in ADDRESS_KEYS and not (
                node is None or isinstance(node, str) and HEX.match(node)):
            bad.append("%s %s = %r: an address is a \"0x...\" string or "
                       "null" % (where, path, node))
        elif isinstance(node, str) and node.startswith("0x") and \
                not HEX.match(node):
            bad.append("%s %s = %r" % (where, path, node))
        elif isinstance(node, int) and not isinstance(node, bool) and \
                abs(node) >= 2**32 and not (key or "").endswith("_ns"):
            bad.append("%s %s = %d: an integer address?" % (where, path, node))
        elif node in ("", "?") or (node == -1 and
                                     not isinstance(node, bool)):
            bad.append("%s %s = %r: unknown is null" % (where, path, node))
    walk(doc, "$", None)
    return bad


def test_the_family_check_can_fail():
    doc = {"schema": "goparked/x", "version": 1,
           "chan": {"address": 0x7f0000001000, "sudog": "0xZZ",
                    "elem_type": "", "len": -1, "object": None, "file": "?",
                    "waitsince_ns": 2**40, "frames": [{"pc": "0x4a1"}]}}
    bad = _family_faults(doc, "x")
    assert len(bad) == 5, bad
    for k in ("address", "sudog", "elem_type", "len", "file"):
        assert any("$.chan.%s " % k in b for b in bad), (k, bad)


def test_every_document_is_of_the_family(tmp_path):
    """Every JSON output of every command, on one core of the leaks
    program (channels, every kind of sync object, cycles, the verdict):
    schema ("goparked/...") and version first, addresses as "0x..."
    strings, unknown as null. Each document's own keys are held to
    schema.py by the tests above; this is what they all share."""
    from conftest import run_goparked_cmd
    from leak_fixtures import leak_core
    e = leak_core("1.26", "dwarf", "plain")
    acc = e.load_account()
    held = [m for m in acc["mutexes"] if m["holder_goid"]]
    with __import__("goparked").open(e.core, e.exe) as prog:
        from goparked import analysis
        chans = [c for c in analysis.chans(prog.snapshot())
                 if c.address and c.waiters]
    assert held and chans
    views = [["--json"], ["--json", "--by", "chan"], ["--json", "--by",
             "mutex"], ["--json", "--verdict"], ["--threads", "--json"],
             ["--goroutine", str(acc["main_goid"]), "--json"],
             ["--chan", "0x%x" % chans[0].address, "--json"],
             ["--mutex", held[0]["addr"], "--json"],
             ["--deadlocks", "--json"], ["--deadlocks", "--verdict", "--json"],
             ["--leaks", "--json"]]
    docs = []
    for v in views:
        docs.append((" ".join(v), json.loads(_run_text(e, *v))))
    for v in (["--jsonl"], ["--jsonl", "--detail", "--verdict"]):
        docs += [(" ".join(v), json.loads(x))
                 for x in _run_text(e, *v).splitlines()]
    r = run_goparked_cmd(["diff", e.core, e.core, "--exe", e.exe, "--json"])
    assert r.returncode == 0, r.stderr
    docs.append(("diff --json", json.loads(r.stdout)))
    r = run_goparked_cmd(["triage", e.core, "--exe", e.exe, "--jsonl", "-",
                          "--jobs", "1"])
    assert r.returncode == 0, r.stderr
    docs += [("triage --jsonl", json.loads(x)) for x in r.stdout.splitlines()]
    assert len(docs) > len(views) + 10
    faults = []
    for where, doc in docs:
        assert list(doc)[:2] == ["schema", "version"], (where, list(doc))
        assert doc["schema"].startswith("goparked/"), where
        assert doc["version"] == schema.SCHEMA_VERSION, where
        faults += _family_faults(doc, where)
    assert not faults, faults[:20]
