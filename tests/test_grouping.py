"""Grouping and ages, against what each fixture scenario knows about itself.

The fixture writes an account of every group it parked: the exact
goroutine ids, the function they wait in, the labels it set, and the
runtime's nanotime when it parked them and around each forced GC. Those
are the expectations; nothing here comes from goparked's own output.
"""

import collections

import pytest

import expect
from fixtures import TOOLCHAINS, core_for

from goparked import _native as N
from goparked.model import Filter, Program

pytestmark = pytest.mark.engine

ALL_TOOLCHAINS = [pytest.param(t, id="go" + t) for t in TOOLCHAINS]


def _open(toolchain, scenario="all"):
    fc = core_for(toolchain, "dwarf", scenario)
    prog = Program.from_core(fc.core, fc.exe)
    return fc, prog, prog.snapshot()


def _group_of(grouping):
    """goid -> the group that holds it."""
    out = {}
    for grp in grouping:
        for goid in grp.goids():
            out[goid] = grp
    return out


@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_site_groups_are_the_scenarios_groups(toolchain):
    fc, prog, snap = _open(toolchain)
    with prog:
        acct = fc.load_account()
        grouping = snap.group("site")
        where = _group_of(grouping)
        # Account groups that share a wait function and state land together.
        # A spinning goroutine's state is the one the runtime's dump printed
        # (running or runnable, as the load decided), not the account's.
        expected = collections.defaultdict(set)
        for g in acct["groups"]:
            for goid in g["goids"]:
                expected[(g["wait_func"], fc.state_at_core(goid))].add(goid)
        for (wait_func, state), goids in expected.items():
            groups = {id(where[goid]) for goid in goids if goid in where}
            assert len(groups) == 1, "%s: goroutines %s split over %d groups" % (
                wait_func, sorted(goids), len(groups))
            grp = where[next(iter(goids))]
            assert grp.site.func == wait_func
            assert set(grp.goids()) == goids
            assert set(grp.states) == {state}
        # Biggest first, then oldest: the documented order.
        counts = [grp.count for grp in grouping]
        assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_labels_are_the_ones_the_fixture_set(toolchain):
    fc, prog, snap = _open(toolchain)
    with prog:
        acct = fc.load_account()
        labelled = [g for g in acct["groups"] if g.get("labels")]
        assert labelled
        for g in labelled:
            for goid in g["goids"]:
                assert snap.goroutine(goid).labels == g["labels"]
        unlabelled = [goid for g in acct["groups"] if not g.get("labels")
                      for goid in g["goids"]]
        assert all(not snap.goroutine(goid).labels for goid in unlabelled)
        by_label = {grp.key: set(grp.goids()) for grp in snap.group("label")}
        for g in labelled:
            key = " ".join("%s=%s" % kv for kv in sorted(g["labels"].items()))
            assert set(g["goids"]) <= by_label[key]
        # --label k=v selects exactly the goroutines that carry it.
        flt = Filter(label=("via", "pprof.Do"))
        got = {goid for grp in snap.group("site", flt) for goid in grp.goids()}
        want = {goid for g in labelled if g["labels"].get("via") == "pprof.Do"
                for goid in g["goids"]}
        assert got == want


@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_creators_are_the_scenarios_creators(toolchain):
    fc, prog, snap = _open(toolchain)
    with prog:
        for g in fc.load_account()["groups"]:
            for goid in g["goids"]:
                cf = snap.goroutine(goid).creator_frames
                assert cf and cf[0].func == g["creator_func"], goid
        where = _group_of(snap.group("creator"))
        for g in fc.load_account()["groups"]:
            assert where[g["goids"][0]].key == g["creator_func"]


@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_creator_groups_are_the_dumps_created_by(toolchain):
    """--by creator names each goroutine's group by the function its
    runtime dump says created it; one the dump prints no creator for (the
    main goroutine: the runtime never names its creator) is in the group
    of no known creator, not under a runtime function."""
    fc, prog, snap = _open(toolchain)
    dump = fc.parsed_dump().goroutines
    with prog:
        where = _group_of(snap.group("creator", Filter(include_system=True)))
    checked = 0
    for goid, g in dump.items():
        if goid not in where:
            continue
        want = g.created_by.func if g.created_by else None
        assert (where[goid].key or None) == want, (goid, where[goid].key, want)
        checked += 1
    assert 1 in where and not where[1].key
    assert checked >= len(fc.load_account()["groups"])


@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_wait_since_and_now_agree_with_the_fixtures_clock(toolchain):
    """waitsince is stamped by the second GC after parking with the first
    GC's time (GO_RUNTIME.md G): parked_ns <= waitsince <= first GC's end.
    The core was written after READY, so "now" is after the last GC and
    not long after READY."""
    fc, prog, snap = _open(toolchain)
    with prog:
        acct = fc.load_account()
        gcs = acct["gcs"]
        assert len(gcs) >= 2
        clock = snap.clock
        assert clock.known
        assert clock.now >= gcs[-1]["after_ns"] - 1
        assert clock.now <= acct["ready_ns"] + 120 * 10**9
        checked = 0
        for g in acct["groups"]:
            if g["state"] != "waiting":
                continue
            for goid in g["goids"]:
                gr = snap.goroutine(goid)
                assert gr.waitsince, "goroutine %d never stamped" % goid
                assert g["parked_ns"] <= gr.waitsince <= gcs[0]["after_ns"], goid
                age = gr.age_ns
                assert age is not None and 0 <= age <= clock.now - g["parked_ns"]
                checked += 1
        assert checked > 20


@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_stack_grouping_counts_identical_stacks(toolchain):
    fc, prog, snap = _open(toolchain)
    with prog:
        dump = fc.parsed_dump().goroutines
        # Identical stacks in the runtime's dump (functions, files, lines
        # and offsets) must be exactly our --by stack groups: the same
        # partition of every goroutine whose whole stack the dump printed.
        want = collections.defaultdict(set)
        for goid, dg in dump.items():
            if dg.frames and not dg.unavailable and dg.elided is None:
                want[tuple((f.func, f.file, f.line, f.offset) for f in dg.frames)].add(goid)
        comparable = set().union(*want.values())
        assert len(comparable) > len(dump) // 2
        got = [set(grp.goids()) for grp in snap.group("stack", Filter(include_system=True))]
        assert sum(len(g) for g in got) == len(snap)
        assert {frozenset(g & comparable) for g in got} - {frozenset()} == \
            {frozenset(g) for g in want.values()}
        # and the program's goroutines, grouped by default, the same way
        assert {frozenset(grp.goids()) for grp in snap.group("stack")} == \
            expect.stack_partition(fc)


@pytest.mark.parametrize("toolchain", [pytest.param(TOOLCHAINS[-1], id="go" + TOOLCHAINS[-1])])
def test_filters(toolchain):
    fc, prog, snap = _open(toolchain)
    with prog:
        acct = fc.load_account()
        # The spinner, in whichever state the dump caught it: each state
        # filter selects exactly the goroutines the dump printed in it.
        spinners = [goid for g in acct["groups"] if g["state"] == "running" for goid in g["goids"]]
        assert spinners
        for state in ("running", "runnable"):
            want = {goid for goid in spinners if fc.state_at_core(goid) == state}
            got = {goid for grp in snap.group("site", Filter(states=[state])) for goid in grp.goids()}
            assert got == want, state
        func = "main.recvForever"
        want = {goid for g in acct["groups"] if g["wait_func"] == func for goid in g["goids"]}
        got = {goid for grp in snap.group("site", Filter(func_regex=r"^main\.recvForever$"))
               for goid in grp.goids()}
        assert got == want
        with pytest.raises(N.Error):
            snap.group("site", Filter(func_regex="("))


HOLD_SECONDS = 65


@pytest.mark.slow
@pytest.mark.parametrize("toolchain", [pytest.param(t, id="go" + t) for t in (TOOLCHAINS[0], TOOLCHAINS[-1])])
def test_ages_agree_with_the_runtimes_minutes(toolchain):
    """Goroutines parked for over a minute: the runtime's dump says
    "[sleep, 1 minutes]" (now - waitsince, in whole minutes, computed by the
    runtime at the moment of the core); our age from the core must say the
    same."""
    fc = core_for(toolchain, "dwarf", "sleep_long", hold=HOLD_SECONDS)
    dump = fc.parsed_dump().goroutines
    with Program.from_core(fc.core, fc.exe) as prog:
        snap = prog.snapshot()
        assert snap.clock.known
        compared = 0
        for g in fc.load_account()["groups"]:
            for goid in g["goids"]:
                minutes = dump[goid].minutes
                assert minutes >= 1, "the runtime saw goroutine %d parked < 1 min" % goid
                age = snap.goroutine(goid).age_ns
                # The core is written just after the dump: our "now" can only
                # be later than the runtime's, by well under a minute.
                assert minutes <= age // (60 * 10**9) <= minutes + 1, (goid, age, minutes)
                compared += 1
        assert compared >= 3


def test_a_group_names_its_wait_reason_only_when_all_members_share_it():
    fc, prog, snap = _open(TOOLCHAINS[-1])
    with prog:
        for grp in snap.group("site"):
            # the wait reason is part of the site key
            reasons = {g.wait_reason for g in grp.goroutines()}
            assert reasons == {grp.wait_reason}
        mixed = [grp for grp in snap.group("age")
                 if len({g.wait_reason for g in grp.goroutines()}) > 1]
        assert mixed and all(grp.wait_reason == "(several)" for grp in mixed)


@pytest.mark.parametrize("toolchain,variant", [("1.26", "dwarf"),
                                               ("1.19", "stripped")])
def test_two_workers_read_what_one_reads(toolchain, variant, run_goparked):
    """Big snapshots are decoded on two threads (from 8192 goroutines),
    and the analyses read channels and pointed-to objects on two and scan
    the stack words the snapshot kept by blocks on two (one thread scans
    them in goroutine order); GOPARKED_PAR_MIN=1 makes this small core
    take those paths too, and every output must be the same as the one
    thread's, byte for byte."""
    fc = core_for(toolchain, variant, "all", n=300)
    outs = {}
    for par_min in ("1", "100000000"):
        for args in (["--by", "site", "--json"], ["--by", "stack", "--json"],
                     ["--by", "mutex", "--json"], ["--by", "chan", "--json"],
                     ["--deadlocks", "--json"], ["--leaks", "--json"]):
            r = run_goparked(
                [fc.core, "--exe", fc.exe] + args,
                env={"GOPARKED_PAR_MIN": par_min})
            assert r.returncode == 0, r.stderr
            outs[(par_min, tuple(args))] = r.stdout
    for key, text in outs.items():
        if key[0] == "1":
            assert text == outs[("100000000", key[1])], key[1]
