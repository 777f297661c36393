"""`goparked CORE --by chan` and `--by mutex` as a person reads them: each
channel's element type and len/cap, each mutex's probable holder and each
WaitGroup's counter, against the fixture's own account of what it built."""

import re

import pytest

from fixtures import TOOLCHAINS, core_for

pytestmark = pytest.mark.cli

ROW = re.compile(r"^\s+\d+\s+.*?\s(0x[0-9a-f]+)  (.*)$")


def _rows(fc, by):
    # conftest's runner: the right environment in the sanitizer pass too
    from conftest import run_goparked_cmd
    r = run_goparked_cmd([fc.core, "--exe", fc.exe, "--by", by])
    assert r.returncode == 0, r.stderr
    rows = {}
    for line in r.stdout.splitlines():
        m = ROW.match(line)
        if m:
            rows[int(m.group(1), 16)] = m.group(2)
    return rows


def _objects(fc, kinds):
    for g in fc.load_account()["groups"]:
        for o in g.get("objects") or []:
            if o["kind"] in kinds and o["role"] not in ("holds", "rholds"):
                yield o


def _holder_words(fc, o):
    """What --by mutex must say of the holder the account names: a read
    lock ("rholds" in the holder's own objects) is reported as a reader."""
    for g in fc.load_account()["groups"]:
        if o["holder_goid"] in g["goids"]:
            for h in g.get("objects") or []:
                if h["addr"] == o["addr"] and h["role"] == "rholds":
                    return "read-held by goroutine %d" % o["holder_goid"]
    return "probable holder goroutine %d" % o["holder_goid"]


@pytest.mark.parametrize("toolchain", [pytest.param(t, id="go" + t) for t in (TOOLCHAINS[0], TOOLCHAINS[-1])])
def test_by_chan_describes_each_channel(toolchain):
    fc = core_for(toolchain, "dwarf", "all")
    rows = _rows(fc, "chan")
    checked = 0
    for o in _objects(fc, ("chan",)):
        if o.get("nil"):
            continue
        text = rows[int(o["addr"], 16)]
        assert text.startswith("chan %s %d/%d" % (o["elem_type"], o["len"], o["cap"])), (o, text)
        checked += 1
    assert checked >= 5


ENDS = [pytest.param(t, id="go" + t) for t in (TOOLCHAINS[0], TOOLCHAINS[-1])]


@pytest.mark.parametrize("toolchain", ENDS)
def test_by_mutex_names_holders_and_counters(toolchain):
    fc = core_for(toolchain, "dwarf", "all")
    rows = _rows(fc, "mutex")
    checked = 0
    for o in _objects(fc, ("mutex", "rwmutex", "waitgroup")):
        text = rows[int(o["addr"], 16)]
        if o["kind"] == "waitgroup":
            assert "counter %d" % o["counter"] in text, text
        elif o.get("holder_via") == "local":
            assert _holder_words(fc, o) in text, (o, text)
        else:
            continue   # test_by_mutex_names_the_global_holder
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("toolchain", ENDS)
def test_by_mutex_names_the_global_holder(toolchain):
    fc = core_for(toolchain, "dwarf", "all")
    rows = _rows(fc, "mutex")
    globals_ = [o for o in _objects(fc, ("mutex",))
                if o.get("holder_via") == "global"]
    assert globals_
    for o in globals_:
        text = rows[int(o["addr"], 16)]
        assert _holder_words(fc, o) in text, (o, text)
