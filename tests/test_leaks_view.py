"""The leak verdict's surfaces against corefiles/leaks' own account: the
--leaks / --deadlocks view, its JSON ("goparked/leaks"), --verdict on a
grouping, `goparked check --max-leaked`, the pprof labels and the Python
API. Every expectation is the account's (which goroutine ids the fixture
parked where and what it expects of each), never goparked's own output.
"""

from __future__ import annotations

import collections
import json
import re

import expect
import pytest
from conftest import run_goparked_cmd
from fixtures import NEWEST, core_for
from leak_fixtures import leak_core, leak_params

import goparked
from goparked import verdict as V

CELLS = leak_params([("1.27", "dwarf", "plain"), ("1.19", "stripped", "plain")])
WORDS = {"leaked": "leaked (proven)", "no_waker": "leaked (no waker)",
         "lingering": "lingering", "blocked": "blocked"}


def _cli(e, *args, rc=0):
    r = run_goparked_cmd([e.core, "--exe", e.exe] + list(args))
    assert r.returncode == rc, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def _expected(acc):
    return {g["goid"]: g["expect"] for g in acc["goroutines"]}


@pytest.mark.parametrize("toolchain,variant,mode", CELLS)
def test_leaks_text_sections_equal_account(toolchain, variant, mode):
    """Each accounted goroutine is listed in the section of the verdict the
    account expects, and the summary's counts are the sections' sizes."""
    e = leak_core(toolchain, variant, mode)
    acc = e.load_account()
    out = _cli(e, "--leaks", "--ids", "100000")
    heads = {v: k for k, v in V._HEADINGS.items()}
    section, where = None, {}
    sizes = collections.Counter()
    for line in out.splitlines():
        if line in heads.values() or any(line.startswith(h + "  [") for h in heads):
            section = next(k for h, k in heads.items() if line.startswith(h))
            continue
        if line.startswith("wait cycles"):
            section = None
        m = re.match(r"^ {9}goroutine ([\d ]+)$", line)
        if section and m:
            for goid in map(int, m.group(1).split()):
                assert goid not in where, goid
                where[goid] = section
                sizes[section] += 1
    want = _expected(acc)
    bad = {g: (x, where.get(g)) for g, x in want.items() if where.get(g) != x}
    assert not bad, sorted(bad.items())
    first = out.splitlines()[0]
    for k, n in sizes.items():
        # every verdict's total is its section's: the runtime's own
        # goroutines (not listed) are not counted either
        assert "%d %s" % (n, WORDS[k]) in first, (first, k, n)
    # the proof's causes and the cycles come with it
    assert "why: a full buffered channel" in out
    assert re.search(r"^cycle \d+:$", out, re.M)


@pytest.mark.parametrize("toolchain,variant,mode", CELLS)
def test_leaks_json_rows_equal_account(toolchain, variant, mode):
    e = leak_core(toolchain, variant, mode)
    acc = e.load_account()
    doc = json.loads(_cli(e, "--leaks", "--json"))
    assert list(doc) == V.LEAKS_KEYS and doc["schema"] == "goparked/leaks"
    assert list(doc["counts"]) == V.LEAKS_COUNT_KEYS
    assert list(doc["heap"]) == V.LEAKS_HEAP_KEYS
    got = {}
    for r in doc["rows"]:
        assert list(r) == V.LEAKS_ROW_KEYS
        assert len(r["goids"]) == r["count"]
        for s in r["path"]:
            assert list(s) == V.PATH_STEP_KEYS
        for g in r["goids"]:
            got[g] = r["verdict"]
    want = _expected(acc)
    assert {g: got.get(g) for g in want} == want
    # the lingering monitors: their count and their creator, per the account
    creators = collections.Counter(g["creator"] for g in acc["goroutines"]
                                   if g["expect"] == "lingering")
    rows = collections.Counter()
    for r in doc["rows"]:
        if r["verdict"] == "lingering":
            rows[r["created_by"]] += r["count"]
    assert rows == creators
    # a blocked receiver on a global channel: the path starts at the global
    gjobs = [r for r in doc["rows"] if r["verdict"] == "blocked" and
             set(r["goids"]) & {g["goid"] for g in acc["goroutines"]
                                if g["case"] == "no_false_global_chan"}]
    assert gjobs and gjobs[0]["path"][0]["kind"] == "global"
    # (a stripped binary has no symbol table to name it)
    assert gjobs[0]["path"][0]["name"] == ("main.gJobs" if variant == "dwarf" else None)
    # --deadlocks --verdict --json keeps its document and carries the same
    # verdict; --deadlocks alone is the wait-for graph, without it
    d = json.loads(_cli(e, "--deadlocks", "--verdict", "--json"))
    assert d["schema"] == "goparked/deadlocks" and d["leaks"]["counts"] == doc["counts"]
    assert list(d["leaks"]) == V.DEADLOCKS_LEAKS_KEYS
    plain = json.loads(_cli(e, "--deadlocks", "--json"))
    assert plain["leaks"] is None
    assert (plain["cycles"], plain["stuck"]) == (d["cycles"], d["stuck"])
    # and its text names no verdict, but where the proof is
    text = _cli(e, "--deadlocks")
    assert "leaked (proven)" not in text and "--leaks" in text


@pytest.mark.parametrize("toolchain,variant,mode", CELLS[:1])
def test_by_site_verdict_counts(toolchain, variant, mode):
    """--verdict: each group's counts add up to the group, and a group's
    counts are the account's for its goroutines."""
    e = leak_core(toolchain, variant, mode)
    want = _expected(e.load_account())
    out = _cli(e, "--verdict", "--ids", "100000").splitlines()
    checked = 0
    for i, line in enumerate(out):
        m = re.match(r"^ {9}goroutine ([\d ]+)$", line)
        if not m or not out[i + 1].lstrip().startswith("verdict: "):
            continue
        goids = [int(x) for x in m.group(1).split()]
        counts = collections.Counter()
        for part in out[i + 1].split("verdict: ", 1)[1].split(", "):
            n, words = part.split(" ", 1)
            counts[words] += int(n)
        assert sum(counts.values()) == len(goids), (line, out[i + 1])
        if all(g in want for g in goids):
            assert counts == collections.Counter(WORDS[want[g]] for g in goids), out[i + 1]
            checked += 1
    assert checked > 20
    # the same counts in --json, per group
    doc = json.loads(_cli(e, "--verdict", "--json"))
    checked = 0
    from goparked import schema
    for g in doc["groups"]:
        assert list(g) == schema.GROUP_KEYS + schema.GROUP_VERDICT_KEYS
        assert list(g["verdicts"]) == schema.VERDICT_KEYS
        assert sum(g["verdicts"].values()) == g["count"], g
        if all(x in want for x in g["goids"]) and len(g["goids"]) == g["count"]:
            assert {k: n for k, n in g["verdicts"].items() if n} == \
                dict(collections.Counter(want[x] for x in g["goids"])), g
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("toolchain,variant,mode", CELLS[:1])
def test_check_max_leaked(toolchain, variant, mode, tmp_path):
    """The exit status follows the account's number of leaked goroutines
    (proven and no waker), from the core and from a saved --leaks --json."""
    e = leak_core(toolchain, variant, mode)
    n = sum(1 for x in _expected(e.load_account()).values() if x in V.LEAKED)
    assert n > 40
    base = ["check", e.core, "--exe", e.exe, "--max-leaked"]
    assert run_goparked_cmd(base + [str(n)]).returncode == 0
    r = run_goparked_cmd(base + [str(n - 1)])
    assert r.returncode == 1 and "(--max-leaked)" in r.stdout, r.stdout
    # in the verdict's words, with the account's numbers
    for k in V.LEAKED:
        assert "%d %s" % (sum(1 for x in _expected(e.load_account()).values()
                              if x == k), WORDS[k]) in r.stdout, r.stdout
    saved = tmp_path / "leaks.json"
    saved.write_text(_cli(e, "--leaks", "--json"))
    assert run_goparked_cmd(["check", str(saved), "--max-leaked", str(n)]).returncode == 0
    assert run_goparked_cmd(["check", str(saved), "--max-leaked", str(n - 1)]).returncode == 1
    r = run_goparked_cmd(["check", str(saved), "--max-parked", "1"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("toolchain,variant,mode", CELLS[:1])
def test_pprof_leaked_label_and_api(toolchain, variant, mode):
    e = leak_core(toolchain, variant, mode)
    want = _expected(e.load_account())
    from goparked import pprof
    from goparked.model import Filter
    with goparked.open(e.core, e.exe) as prog, prog.snapshot() as snap:
        grouping = snap.group("stack", Filter())
        view = snap.verdict()
        assert "leaked (proven)" in type(snap).verdict.__doc__
        leaked = sum(n for _, labels, _, _, _, n in pprof.samples(snap, grouping, view)
                     if labels.get("leaked") == "true")
        assert leaked == sum(1 for x in want.values() if x in V.LEAKED)
        for _, labels, _, _, _, n in pprof.samples(snap, grouping):
            assert "leaked" not in labels and "verdict" not in labels
        # the API's counts are the account's, where the account speaks
        for row in view.rows():
            for goid in view.goids(row):
                if goid in want:
                    assert row.verdict == want[goid], (goid, row.verdict)


DEBUGGER_COMMANDS = ["go leaks --ids 100000", "go leaks --json",
                     "go goroutines --verdict --ids 100000"]


def _same_in_debugger(e, out):
    """A debugger's `go leaks` (text and JSON) and `go goroutines
    --verdict` say what the CLI says (one shared code), and its rows give
    each accounted goroutine the verdict the account expects."""
    assert _cli(e, "--leaks", "--ids", "100000").strip() in out
    assert _cli(e, "--verdict", "--ids", "100000").strip() in out
    start = out.index('{\n "schema": "goparked/leaks"')
    doc, _ = json.JSONDecoder().raw_decode(out, start)
    cli = json.loads(_cli(e, "--leaks", "--json"))
    assert doc["rows"] == cli["rows"] and doc["counts"] == cli["counts"]
    assert doc["shown"] == cli["shown"]
    got = {g: r["verdict"] for r in doc["rows"] for g in r["goids"]}
    want = _expected(e.load_account())
    assert {g: got.get(g) for g in want} == want


@pytest.mark.gdb
@pytest.mark.parametrize("toolchain,variant,mode", CELLS[:1])
def test_go_leaks_in_gdb(toolchain, variant, mode):
    """`go leaks` in GDB prints the CLI's --leaks view (one shared code)."""
    from debugger_helpers import gdb
    e = leak_core(toolchain, variant, mode)
    r = gdb([e.exe, e.core], DEBUGGER_COMMANDS)
    assert r.returncode == 0, r.stderr
    _same_in_debugger(e, r.stdout)


@pytest.mark.lldb
@pytest.mark.parametrize("toolchain,variant,mode", CELLS[:1])
def test_go_leaks_in_lldb(toolchain, variant, mode):
    from debugger_helpers import lldb
    e = leak_core(toolchain, variant, mode)
    r = lldb([e.exe, "-c", e.core], DEBUGGER_COMMANDS)
    assert r.returncode == 0, r.stderr
    _same_in_debugger(e, r.stdout)


@pytest.mark.parametrize("toolchain,variant,mode", CELLS[:1])
def test_verdict_same_when_core_pages_are_let_go(toolchain, variant, mode):
    """The mark lets the core's pages go now and then to bound its resident
    size (gp_memory_trim); letting them go as often as it can changes no
    verdict (a mapping that lost its pages reads the same bytes again)."""
    e = leak_core(toolchain, variant, mode)
    normal = json.loads(_cli(e, "--leaks", "--json"))
    r = run_goparked_cmd([e.core, "--exe", e.exe, "--leaks", "--json"],
                         env={"GOPARKED_MARK_RESIDENT_MB": "0"})
    assert r.returncode == 0, r.stderr
    trimmed = json.loads(r.stdout)
    assert trimmed["rows"] == normal["rows"] and trimmed["counts"] == normal["counts"]


@pytest.mark.parametrize("toolchain,variant,mode", CELLS[:1])
def test_report_leak_verdict(toolchain, variant, mode, tmp_path):
    """The report (HTML and Markdown) gives the account's counts of leaked
    (proven), leaked (no waker) and lingering goroutines."""
    e = leak_core(toolchain, variant, mode)
    want = collections.Counter(_expected(e.load_account()).values())
    md, page = tmp_path / "r.md", tmp_path / "r.html"
    for out in (md, page):
        r = run_goparked_cmd(["report", e.core, "--exe", e.exe, "-o", str(out)])
        assert r.returncode == 0, r.stderr
    text = md.read_text()
    line = text.split("## Leak verdict\n\n", 1)[1].splitlines()[0]
    for k in ("leaked", "no_waker", "lingering"):
        assert "%d %s" % (want[k], WORDS[k]) in line, (line, k)
    html = page.read_text()
    for k in ("leaked", "no_waker", "lingering"):
        m = re.search(r'data-stat="%s">(\d+)<' % k, html)
        assert m and int(m.group(1)) == want[k], k


@pytest.mark.parametrize("toolchain,variant,mode", CELLS[:1])
def test_plain_by_site_ends_with_the_verdict_hint(toolchain, variant, mode):
    """A plain --by site listing of parked goroutines ends with one line
    naming --verdict and --leaks and the verdict's words; not with
    --verdict (the counts are there), not in JSON, not when the filter
    leaves no parked goroutine, not for another grouping."""
    e = leak_core(toolchain, variant, mode)
    parked = [g["goid"] for g in e.load_account()["goroutines"]]
    assert parked
    last = _cli(e).splitlines()[-1]
    assert "--verdict" in last and "--leaks" in last, last
    for k in ("leaked", "no_waker", "lingering", "blocked"):
        assert WORDS[k] in last, (k, last)
    assert _cli(e, "--by", "site", "--func", "main\\.").splitlines()[-1] == last
    assert last not in _cli(e, "--verdict")
    assert last not in _cli(e, "--by", "stack")
    assert last not in _cli(e, "--state", "running,runnable,syscall")
    out = _cli(e, "--json")
    json.loads(out)  # the whole output is the document, nothing after it
    out = _cli(e, "--jsonl")
    assert all(json.loads(line) for line in out.splitlines())


_TOTALS = re.compile(r"^leak verdict of (\d+) goroutines?: (.*?)(?:  \((.*)\))?$")


def _totals(line):
    """(goroutines, {words: n}, left-out note or None) of a totals line."""
    m = _TOTALS.match(line)
    assert m, line
    parts = {}
    for part in m.group(2).split(", "):
        n, words = part.split(" ", 1)
        parts[words] = int(n)
    return int(m.group(1)), parts, m.group(3)


def _section_sizes(out):
    """{verdict words: [n]} of the --leaks sections, and every goid listed."""
    sizes, goids = {}, set()
    for line in out.splitlines():
        for k, h in V._HEADINGS.items():
            m = re.match(re.escape(h) + r"  \[(\d+)\]$", line)
            if m:
                sizes[WORDS.get(k, k)] = int(m.group(1))
        m = re.match(r"^ {9}goroutine ([\d ]+)$", line)
        if m:
            goids |= set(map(int, m.group(1).split()))
    return sizes, goids


def test_verdict_totals_count_what_the_view_shows(tmp_path):
    """The --leaks header, --by site --verdict, the report, the JSON's
    "shown" and the JSONL snapshot record count the goroutines the view
    lists, the account's (its groups and main): the runtime's own are left
    out and said so as the grouping's header says it (with --system they
    are counted), those that can still run are counted as what they are
    (running), and a filter's drops are said. JSON's "counts" keep their
    version-1 meaning (every goroutine), and the proven count is the
    same in both."""
    fc = core_for(NEWEST, "dwarf", "all")
    acc = fc.load_account()
    users = expect.user_goids(fc)
    every = set(fc.parsed_dump().goroutines)
    nsys = len(every - users)
    live = collections.Counter()
    for g in acc["groups"]:
        if g["state"] != "waiting":
            live[g["state"]] += len(g["goids"])
    assert nsys and live
    note = "%d runtime goroutines not grouped; --system" % nsys
    base = ["--leaks", "--ids", "100000"]

    out = _cli(fc, *base)
    n, parts, left = _totals(out.splitlines()[0])
    sizes, listed = _section_sizes(out)
    shown_sizes = sizes
    assert (n, left) == (len(users), note)
    assert listed <= users
    assert parts == dict(sizes, **live), (parts, sizes, live)
    assert sum(parts.values()) == len(users)

    out = _cli(fc, *base, "--system")
    n, parts, left = _totals(out.splitlines()[0])
    sizes, listed = _section_sizes(out)
    assert (n, left) == (len(every), None) and listed - users
    assert parts == dict(sizes, **live) and sum(parts.values()) == len(every)

    out = _cli(fc, *base, "--state", "waiting")
    n, parts, left = _totals(out.splitlines()[0])
    nlive = sum(live.values())
    assert n == len(users) - nlive and not set(parts) & set(live)
    assert left == "%s; %d goroutine%s the filter leaves out" % (
        note, nlive, "" if nlive == 1 else "s")

    # --by site --verdict: the same totals (its header says what is left out)
    head = _cli(fc, *base).splitlines()[0]
    grouped = _cli(fc, "--verdict").splitlines()
    assert head.split("  (")[0] in grouped
    assert grouped[-1].startswith("%d goroutines in " % len(users))

    # JSON: "shown" is the text's; "counts" every goroutine's
    doc = json.loads(_cli(fc, "--leaks", "--json"))
    shown = doc["shown"]
    assert list(shown) == V.SHOWN_KEYS
    assert shown["goroutines"] == len(users)
    assert shown["live_by_state"] == dict(live)
    assert (shown["system_left_out"], shown["filter_left_out"]) == (nsys, 0)
    assert {V.WORDS[k]: c for k, c in shown["counts"].items()
            if c and k != "live"} == shown_sizes
    assert shown["counts"]["live"] == sum(live.values())
    assert sum(doc["counts"].values()) == len(every)
    assert doc["counts"]["leaked"] == shown["counts"]["leaked"] > 0
    d = json.loads(_cli(fc, "--deadlocks", "--verdict", "--json"))
    assert d["leaks"]["shown"] == shown
    rec = json.loads(_cli(fc, "--jsonl", "--verdict").splitlines()[0])
    assert rec["shown"] == shown and rec["verdicts"] == doc["counts"]

    # the report's Markdown: the same line
    md = tmp_path / "r.md"
    r = run_goparked_cmd(["report", fc.core, "--exe", fc.exe, "-o", str(md)])
    assert r.returncode == 0, r.stderr
    assert head in md.read_text().replace("\\", "")
