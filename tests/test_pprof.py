"""goparked CORE --pprof FILE: a goroutine profile that `go tool pprof`
reads like /debug/pprof/goroutine.

What pprof itself prints (-raw, -traces, -top) is checked against two
independent sources: the runtime's own goroutine dump of the same core
(identical stacks counted together) and the fixture's account (which
goroutines it parked, with which labels and wait reasons); never against
goparked's own output.
"""

import gzip
import os
import re
import subprocess
from collections import Counter

import pytest

import expect
from fixtures import NEWEST, OLDEST, core_for, generate, in_ci

pytestmark = pytest.mark.cli

CELLS = [(NEWEST, "dwarf"), (NEWEST, "stripped"), (OLDEST, "dwarf")]


def go_tool():
    """The newest toolchain's go command (its pprof reads every version)."""
    try:
        return generate.probe(NEWEST).go
    except generate.Unavailable as e:
        if in_ci():
            pytest.fail("CI=true and no Go %s: %s" % (NEWEST, e))
        pytest.skip("no Go %s: %s" % (NEWEST, e))


def pprof(path, *flags):
    r = subprocess.run([go_tool(), "tool", "pprof"] + list(flags) + [path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300,
                       env=dict(os.environ, PPROF_TMPDIR=os.path.dirname(
                           path), GOTOOLCHAIN="local"))
    assert r.returncode == 0, r.stderr
    return r.stdout


_SAMPLE = re.compile(r"^\s+(\d+): ([\d ]+)$")
_LABELS = re.compile(r"(\S+?):\[(.*?)\]")
_LOC = re.compile(r"^\s+(\d+): 0x([0-9a-f]+) M=(\d+) (.+)$")
_LINE = re.compile(r"^(\S.*) (\S+):(\d+):\d+ s=\d+$")


def parse_raw(text):
    """pprof -raw: ([(count, [location id], {label: value})],
    {location id: [(func, file, line)] innermost first}, [mapping line])."""
    samples, locs, maps = [], {}, []
    section, cur = None, None
    for line in text.splitlines():
        if line in ("Samples:", "Locations", "Mappings"):
            section = line
            continue
        if section == "Samples:":
            m = _SAMPLE.match(line)
            if m:
                samples.append((int(m.group(1)),
                                [int(x) for x in m.group(2).split()], {}))
            elif line.startswith(" " * 16) and samples:
                samples[-1][2].update(_LABELS.findall(line.strip()))
        elif section == "Locations":
            m = _LOC.match(line)
            if m:
                cur = int(m.group(1))
                assert m.group(3) == "1", line  # the executable's mapping
                rest = m.group(4)
            elif line.startswith(" " * 13) and cur is not None:
                rest = line.strip()
            else:
                continue
            lm = _LINE.match(rest)
            assert lm, rest
            locs.setdefault(cur, []).append(
                (lm.group(1), lm.group(2), int(lm.group(3))))
        elif section == "Mappings" and line.strip():
            maps.append(line)
    return samples, locs, maps


def stacks_of(samples, locs):
    """Counter {((func, file, line), ...): goroutines}."""
    out = Counter()
    for count, ids, _ in samples:
        out[tuple(fr for i in ids for fr in locs[i])] += count
    return out


@pytest.fixture(scope="module")
def profiles(tmp_path_factory, run_goparked_mod):
    cache = {}

    def get(toolchain, variant):
        key = (toolchain, variant)
        if key not in cache:
            fc = core_for(toolchain, variant, "all")
            d = tmp_path_factory.mktemp("pprof")
            out = str(d / "goroutine.pb.gz")
            r = run_goparked_mod([fc.core, "--exe", fc.exe, "--pprof", out])
            assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r
            cache[key] = (fc, out, None)
        return cache[key]
    return get


@pytest.fixture(scope="module")
def run_goparked_mod():
    from conftest import run_goparked_cmd
    return run_goparked_cmd


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_raw_equals_runtime_dump(profiles, toolchain, variant):
    """Every stack pprof shows, with its count, is a stack the runtime
    printed for that many of the program's (non-runtime) goroutines."""
    fc, out, _ = profiles(toolchain, variant)
    samples, locs, maps = parse_raw(pprof(out, "-raw"))
    got = stacks_of(samples, locs)
    acc = fc.load_account()
    goids = {acc["main_goid"]}
    for g in acc["groups"]:
        goids.update(g["goids"])
    assert len(goids) == acc["num_goroutines"]
    dump = fc.parsed_dump()
    want = Counter()
    for goid in goids:
        g = dump.stack_of(goid)
        assert g is not None and g.frames, goid
        want[tuple((f.func, f.file, f.line) for f in g.frames)] += 1
    # A running goroutine's stack is where its thread stopped; the dump was
    # taken at another moment of the spin loop: compare it by function.
    running = {goid for g in acc["groups"] if g["state"] == "running"
               for goid in g["goids"]}
    for goid in running:
        f = tuple((x.func, x.file, x.line) for x in dump.stack_of(goid).frames)
        want[f] -= 1
        want += Counter()
        match = [s for s in got if [x[0] for x in s] == [x[0] for x in f]]
        assert len(match) == 1, (f, match)
        got[match[0]] -= 1
        got += Counter()
    assert got == want
    assert sum(c for c, _, _ in samples) == acc["num_goroutines"]
    assert len(maps) == 1 and fc.exe in maps[0] and "[FN]" in maps[0]


def sample_classes(fc):
    """Counter {(stack, labels): goroutines}: what the runtime's own profile
    has one sample for, from the dump (stack, state, wait reason) and the
    account (pprof labels) of the program's goroutines. A running
    goroutine's stack is where its thread stopped, which the dump may have
    printed at another point of the spin loop: its stack is its functions."""
    acc = fc.load_account()
    labels = {goid: g.get("labels") or {} for g in acc["groups"]
              for goid in g["goids"]}
    dump = fc.parsed_dump()
    out = Counter()
    for goid in expect.user_goids(fc):
        g = dump.goroutines[goid]
        frames = dump.stack_of(goid).frames
        stack = tuple(f.func if g.state == "running" else
                      (f.func, f.file, f.line) for f in frames)
        labs = dict(labels.get(goid, {}), state=g.state,
                    wait_reason=g.wait_reason or g.state)
        out[(stack, tuple(sorted(labs.items())))] += 1
    return out


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_one_sample_per_stack_and_label_set(profiles, toolchain, variant):
    """As the runtime's /debug/pprof/goroutine: one sample per distinct
    stack and label set, valued the number of goroutines that share them
    (the dump's stacks and states, the account's labels)."""
    fc, out, _ = profiles(toolchain, variant)
    samples, locs, _ = parse_raw(pprof(out, "-raw"))
    got = Counter()
    for count, ids, lab in samples:
        frames = [fr for i in ids for fr in locs[i]]
        stack = tuple(fr[0] if lab.get("state") == "running" else fr
                      for fr in frames)
        # goparked's own signature label follows from stack and wait
        # reason (test_labels_and_wait_reasons checks it): not the dump's
        lab = {k: v for k, v in lab.items() if k != "signature"}
        key = (stack, tuple(sorted(lab.items())))
        assert key not in got, "two samples for %s" % (key,)
        got[key] = count
    assert got == sample_classes(fc)
    # inlined calls are lines of their caller's location, as pprof does
    dump = fc.parsed_dump()
    assert any(f.inlined for g in dump.goroutines.values() for f in g.frames)
    assert any(len(v) > 1 for v in locs.values())


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_labels_and_wait_reasons(profiles, toolchain, variant):
    """pprof labels and the wait reason are sample labels; checked against
    what the fixture set and what the runtime printed."""
    fc, out, _ = profiles(toolchain, variant)
    samples, locs, _ = parse_raw(pprof(out, "-raw"))
    acc = fc.load_account()
    seen = set()
    for g in acc["groups"]:
        if g["state"] != "waiting":
            continue
        mine = [(c, lab) for c, ids, lab in samples
                if any(fr[0] == g["wait_func"] for i in ids
                       for fr in locs[i])]
        assert sum(c for c, _ in mine) == len(g["goids"]), g["group"]
        for c, lab in mine:
            assert lab.get("wait_reason") == g["wait_reason"], (g, lab)
            assert lab.get("state") == "waiting"
            for k, v in (g.get("labels") or {}).items():
                assert lab.get(k) == v, (g["group"], lab)
        if not g.get("labels"):
            for c, lab in mine:
                assert set(lab) <= {"wait_reason", "state", "signature"}, lab
        # one signature per group the fixture made, another per group
        sigs = {lab.get("signature") for _, lab in mine}
        assert len(sigs) == 1 and None not in sigs, (g["group"], sigs)
        assert sigs.isdisjoint(seen), g["group"]
        seen |= sigs
    # the runtime's own text for each goroutine agrees as well
    dump = fc.parsed_dump()
    reasons = Counter(dump.goroutines[goid].wait_reason
                      for g in acc["groups"] if g["state"] == "waiting"
                      for goid in g["goids"])
    got = Counter()
    for c, ids, lab in samples:
        if lab.get("state") == "waiting" and \
                not any(fr[0] == acc["main_wait_func"] for i in ids
                        for fr in locs[i]):
            got[lab["wait_reason"]] += c
    assert got == reasons


def test_traces_and_top(profiles):
    fc, out, _ = profiles(NEWEST, "dwarf")
    acc = fc.load_account()
    traces = pprof(out, "-traces")
    assert "Type: goroutine" in traces
    # one block per sample: labels, then "  COUNT   innermost func"
    counts = [int(x) for x in re.findall(r"^\s+(\d+)\s{3}\S", traces,
                                         re.M)]
    assert sorted(counts) == sorted(sample_classes(fc).values())
    assert "via:  pprof.Do" in traces or "via: pprof.Do" in traces
    top = pprof(out, "-top")
    m = re.search(r"accounting for (\d+), 100% of (\d+) total", top)
    assert m and int(m.group(2)) == acc["num_goroutines"], top
    assert re.search(r"^\s+\d+\s.*runtime\.gopark$", top, re.M)
    # the profile's time is the core's
    assert "Time: " in traces


def test_filters_and_stdout(run_goparked, tmp_path):
    fc = core_for(NEWEST, "dwarf", "all")
    out = tmp_path / "running.pb.gz"
    # A spinner is running or runnable, as the machine's load decided.
    r = run_goparked([fc.core, "--exe", fc.exe, "--state", "running,runnable",
                      "--pprof", out])
    assert r.returncode == 0, r.stderr
    samples, locs, _ = parse_raw(pprof(str(out), "-raw"))
    acc = fc.load_account()
    running = [g for g in acc["groups"] if g["state"] == "running"]
    assert sum(c for c, _, _ in samples) == sum(len(g["goids"])
                                                for g in running)
    # '-' writes the gzipped bytes to stdout; the same bytes every time
    import sys
    from conftest import ROOT, goparked_env
    a = subprocess.run([sys.executable, "-m", "goparked", fc.core, "--exe",
                        fc.exe, "--pprof", "-"], cwd=str(ROOT),
                       env=goparked_env(), stdout=subprocess.PIPE,
                       timeout=300)
    b = tmp_path / "again.pb.gz"
    run_goparked([fc.core, "--exe", fc.exe, "--pprof", b])
    assert a.returncode == 0 and a.stdout == b.read_bytes()
    data = gzip.decompress(a.stdout)
    assert b"goroutine" in data and b"count" in data


def test_unwritable(run_goparked, tmp_path):
    fc = core_for(NEWEST, "dwarf", "all")
    r = run_goparked([fc.core, "--exe", fc.exe, "--pprof",
                      tmp_path / "no" / "such" / "dir.pb.gz"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("goparked: error: cannot write")
