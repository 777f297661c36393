"""Every goroutine the engine reads from a core, against the runtime's own dump.

The fixture cores are made with GOTRACEBACK=crash: the runtime printed every
goroutine (id, state and wait reason, each frame with file:line and its
+0x offset, and the creator) at the very moment the core was written. The
expectation is that dump, parsed by tests/oracle.py; nothing here comes from
goparked itself.
"""

import pytest

import expect
from fixtures import core_for, engine_reads, generate, matrix_cells, TOOLCHAINS

from goparked.model import Program

pytestmark = pytest.mark.engine


def _cells():
    # DWARF builds (amd64, PIE or not) and the cgo program; the stripped
    # builds are tests/test_stripped.py's
    cells = [c for c in matrix_cells() if engine_reads(c[1], c[2]) and
             (generate.parse_variant(c[1]).flavour == "dwarf" or c[2] in generate.CGO_SCENARIOS)]
    for t in TOOLCHAINS:
        if (t, "dwarf", "all") not in cells:
            cells.append((t, "dwarf", "all"))
    return [pytest.param(*c, id="go%s-%s-%s" % c) for c in cells]


def _our_frames(g):
    out = []
    for f in g.frames:
        # The runtime prints "+0x.." only when pc > entry (traceback.go).
        off = None if f.inlined or f.pc == f.entry else f.pc - f.entry
        out.append((f.func, f.file, f.line, off))
    return out


def _dump_frames(dg):
    return [(f.func, f.file, f.line, f.offset) for f in dg.frames]


def _compare_frames(ours, theirs, dg):
    """The dump may elide the middle of a deep stack: compare what it shows."""
    if dg.elided is None:
        return ours == theirs
    at = dg.elided_at if dg.elided_at is not None else len(theirs)
    head, tail = theirs[:at], theirs[at:]
    if ours[:len(head)] != head:
        return False
    return not tail or ours[-len(tail):] == tail


@pytest.mark.parametrize("toolchain,variant,scenario", _cells())
def test_every_goroutine_matches_runtime_dump(toolchain, variant, scenario):
    fc = core_for(toolchain, variant, scenario)
    dump = fc.parsed_dump()
    expected = dump.goroutines            # goid -> oracle.Goroutine
    assert expected, "the runtime's dump lists no goroutines"

    with Program.from_core(fc.core, fc.exe) as prog:
        assert prog.go_version == fc.go_version
        snap = prog.snapshot()
        ours = {g.goid: g for g in snap.goroutines()}
        _compare(ours, expected)


def _preempted_after_print(g, dg):
    """The dump is not one instant: it prints a goroutine that runs on
    another M as "running ... stack unavailable", then relays SIGQUIT to
    that M, which may first have preempted it (asyncPreempt). The core,
    written last, then has it runnable. Only that case is forgiven."""
    return dg.unavailable and dg.status == "running" \
        and g.wait_reason == "runnable"


def _compare(ours, expected):

    # The same set of goroutines (the dump never prints dead ones).
    assert sorted(ours) == sorted(expected)

    problems = []
    checked_frames = 0
    for goid, dg in sorted(expected.items()):
        g = ours[goid]
        if g.wait_reason != dg.status and not _preempted_after_print(g, dg):
            problems.append("goroutine %d: state %r, runtime printed %r"
                            % (goid, g.wait_reason, dg.status))
        if dg.labels is not None and not expect.labels_match(g.labels or {},
                                                             dg.labels):
            problems.append("goroutine %d: labels %r, runtime printed %r"
                            % (goid, g.labels, dg.labels))
        if dg.gp is not None and g.address != dg.gp:
            problems.append("goroutine %d: g at 0x%x, runtime printed gp=0x%x"
                            % (goid, g.address, dg.gp))
        if not dg.unavailable and dg.frames:
            mine, theirs = _our_frames(g), _dump_frames(dg)
            if not _compare_frames(mine, theirs, dg):
                problems.append("goroutine %d frames differ:\n  ours   %s\n  theirs %s"
                                % (goid, mine, theirs))
            checked_frames += len(theirs)
        cb = dg.created_by
        if cb is not None:
            cf = g.creator_frames
            if not cf:
                problems.append("goroutine %d: no creator, runtime printed %s"
                                % (goid, cb.func))
            else:
                f = cf[0]
                got = (f.func, f.file, f.line, f.pc - f.entry or None)
                want = (cb.func, cb.file, cb.line, cb.offset)
                if got != want:
                    problems.append("goroutine %d: creator %s, runtime printed %s"
                                    % (goid, got, want))
            if cb.goid is not None and g.parent_goid != cb.goid:
                problems.append("goroutine %d: parent %d, runtime printed %d"
                                % (goid, g.parent_goid, cb.goid))
    assert not problems, "%d differences (of %d goroutines, %d frames):\n%s" % (
        len(problems), len(expected), checked_frames, "\n".join(problems[:20]))
    assert checked_frames > len(expected)  # the comparison really looked at stacks
