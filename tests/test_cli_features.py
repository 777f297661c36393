"""README features of the goparked command, each against the runtime's own
dump or the fixture's account (tests/expect.py), never against goparked's
own output: --limit, --mutex ADDR, --min-age, --by age, --system, check on
a core, diff, and the Markdown report chosen by -o's name.
"""

import json
import re

import pytest

import expect
from conftest import run_goparked_cmd
from debugger_helpers import assert_sync_text
from fixtures import NEWEST, core_for

pytestmark = pytest.mark.cli

# Parked for over a minute (tests/test_grouping.py makes the same core):
# the runtime's dump says "N minutes" for the ones it had stamped.
HOLD_SECONDS = 65


def run(*args):
    r = run_goparked_cmd([str(a) for a in args])
    assert r.returncode in (0, 1), r.stderr
    return r


def doc(fc, *args):
    r = run(fc.core, "--exe", fc.exe, "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def grouped(d):
    return {frozenset(g["goids"]) for g in d["groups"]}


@pytest.fixture(scope="module")
def held():
    """sleep_long with goroutines parked > 1 minute, and the goids the
    runtime's dump printed with "N minutes" (N >= 1)."""
    fc = core_for(NEWEST, "dwarf", "sleep_long", hold=HOLD_SECONDS)
    minutes = {goid: g.minutes for goid, g in
               fc.parsed_dump().goroutines.items()
               if goid in expect.user_goids(fc)}
    return fc, {goid for goid, m in minutes.items() if m >= 1}, minutes


def test_limit(demo_core):
    """--limit N: the N biggest of the groups the account makes, and a
    line saying how many more groups and goroutines are not shown."""
    sizes = sorted((len(p) for p in expect.site_partition(demo_core)),
                   reverse=True)
    users = len(expect.user_goids(demo_core))
    r = run(demo_core.core, "--exe", demo_core.exe, "--limit", 4)
    counts = [int(m) for m in re.findall(r"^\s+(\d+)  \S", r.stdout, re.M)]
    assert counts == sizes[:4]
    assert ("%d goroutines in %d groups; %d more groups (%d goroutines) not "
            "shown" % (users, len(sizes), len(sizes) - 4, users - sum(sizes[:4]))
            ) in r.stdout


def test_mutex_by_address(demo_core):
    """--mutex ADDR for each Mutex, RWMutex and WaitGroup the fixture
    made: decoded state, waiters by role and the holder it names (the
    global mutex's too)."""
    objs = {}
    for goid, o in expect.objects(demo_core):
        if o["kind"] in ("mutex", "rwmutex", "waitgroup"):
            objs.setdefault(o["addr"], []).append((goid, o))
    assert len(objs) >= 4
    for a, members in objs.items():
        r = run(demo_core.core, "--exe", demo_core.exe, "--mutex", a)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert_sync_text(r.stdout, members)


def test_min_age(held):
    """--min-age 1m selects exactly the goroutines the runtime saw parked
    for a minute or more; nothing is parked for 3 minutes (the core is
    written seconds after the dump)."""
    fc, over_a_minute, _ = held
    assert over_a_minute
    got = set().union(*grouped(doc(fc, "--min-age", "1m")))
    assert got == over_a_minute
    assert doc(fc, "--min-age", "3m")["groups"] == []


def test_by_age_buckets(held, demo_core):
    """--by age: one group per bucket. Held core: the runtime's "1
    minutes" are the 1m-10m bucket. Fixture core (made a moment after its
    goroutines parked and the GCs stamped them): every goroutine the
    account parked is "< 1m"; the rest (main, parked after the last GC,
    and the spinner) "age unknown"."""
    fc, over_a_minute, minutes = held
    by = {g["key"]: set(g["goids"]) for g in doc(fc, "--by", "age")["groups"]}
    assert by.get("1m-10m") == {g for g, m in minutes.items() if 1 <= m < 10}
    assert set().union(*by.values()) == expect.user_goids(fc)

    acc = demo_core.load_account()
    parked = {i for g in acc["groups"] if g["state"] == "waiting"
              for i in g["goids"]}
    by = {g["key"]: set(g["goids"])
          for g in doc(demo_core, "--by", "age")["groups"]}
    assert by == {"< 1m": parked,
                  "age unknown": expect.user_goids(demo_core) - parked}


def test_system(demo_core):
    """--system adds the runtime's own goroutines: then every goroutine
    the dump printed is grouped; without it, the program's own."""
    every = set(demo_core.parsed_dump().goroutines)
    d = doc(demo_core, "--system")
    assert set().union(*grouped(d)) == every
    assert d["grouping"]["goroutines"] == len(every)
    d = doc(demo_core)
    assert set().union(*grouped(d)) == expect.user_goids(demo_core)
    assert len(every) > len(expect.user_goids(demo_core))


def test_check_on_a_core(demo_core, held):
    """check CORE: exit 0 when the limits hold, 1 naming each one broken:
    parked goroutines and group sizes from the account and the dump, ages
    from the runtime's minutes."""
    fc = demo_core
    users = expect.user_goids(fc)
    parked = sum(1 for g in users if fc.state_at_core(g) == "waiting")
    sizes = sorted((len(p) for p in expect.site_partition(fc)), reverse=True)
    core = [fc.core, "--exe", fc.exe]
    r = run("check", *core, "--max-parked", parked, "--max-group", sizes[0],
            "--max-age", "1m")
    assert (r.returncode, r.stdout) == (0, ""), r.stdout + r.stderr
    r = run("check", *core, "--max-parked", parked - 1)
    assert r.returncode == 1
    assert "  parked goroutines: %d > %d (--max-parked)\n" % (
        parked, parked - 1) in r.stdout
    r = run("check", *core, "--max-group", sizes[0] - 1)
    assert r.returncode == 1
    lines = re.findall(r"^  group of (\d+) > %d \(--max-group\)" %
                       (sizes[0] - 1), r.stdout, re.M)
    assert [int(n) for n in lines] == [s for s in sizes if s > sizes[0] - 1]

    hfc, over_a_minute, _ = held
    core = [hfc.core, "--exe", hfc.exe]
    r = run("check", *core, "--max-age", "1m")
    assert r.returncode == 1
    assert re.search(r"^  oldest parked goroutine: 1m\S* > 1m \(--max-age\)$",
                     r.stdout, re.M), r.stdout
    assert run("check", *core, "--max-age", "3m").returncode == 0


def _sites(fc):
    acc = fc.load_account()
    out = {acc["main_wait_func"]: 1}
    for g in acc["groups"]:
        out[g["wait_func"]] = out.get(g["wait_func"], 0) + len(g["goids"])
    return out


def _diff(a, b):
    r = run("diff", a.core, b.core, "--exe", a.exe, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    funcs = set(_sites(a)) | set(_sites(b))
    out = {}
    for what in ("grew", "shrank", "appeared", "vanished"):
        rows = set()
        for row in d[what]:
            (func,) = [f for f in funcs if f in row["key"].split()]
            rows.add((func, row["a"], row["b"]))
        out[what] = rows
    return out


def _expected_diff(a, b):
    sa, sb = _sites(a), _sites(b)
    out = {"grew": set(), "shrank": set(), "appeared": set(),
           "vanished": set()}
    for f in set(sa) | set(sb):
        ca, cb = sa.get(f, 0), sb.get(f, 0)
        what = ("appeared" if not ca else "vanished" if not cb else
                "grew" if cb > ca else "shrank" if cb < ca else None)
        if what:
            out[what].add((f, ca, cb))
    return out


def test_diff_appeared_vanished_shrank():
    """diff of two cores of the same program: the changes the accounts of
    the two runs give, site by site."""
    five = core_for(NEWEST, "dwarf", "chan_recv", n=5)
    three = core_for(NEWEST, "dwarf", "chan_recv", n=3)
    other = core_for(NEWEST, "dwarf", "mutex_local", n=3)
    d = _diff(five, three)
    assert d["shrank"] and d == _expected_diff(five, three)
    d = _diff(three, other)
    assert d["appeared"] and d["vanished"]
    assert d == _expected_diff(three, other)


def test_markdown_report_from_the_file_name(demo_core, tmp_path):
    """report -o NAME.md writes Markdown (what --format md prints), -o
    NAME.html the page; the Markdown's states are the dump's."""
    core = [demo_core.core, "--exe", demo_core.exe]
    out = tmp_path / "notes.md"
    r = run("report", *core, "-o", out)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    md = run("report", *core, "--format", "md")

    def made(text):   # the last line says when it was made
        return re.sub(r"\n_Made with goparked [^\n]*_\n$", "\n", text)
    assert made(out.read_text()) == made(md.stdout)
    assert made(md.stdout) != md.stdout
    table = md.stdout.split("\n| State |", 1)[1].split("\n\n", 1)[0]
    states = dict(re.findall(r"^\| (\w+) \| (\d+) \|$", table, re.M))
    assert {k: int(v) for k, v in states.items()} == \
        dict(expect.states(demo_core))
    page = tmp_path / "page.html"
    assert run("report", *core, "-o", page).returncode == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
