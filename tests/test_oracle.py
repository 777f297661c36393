"""Tests of the oracle (tests/oracle.py) and of the fixture itself.

1. The dump parser on hand-written snippets of every header/frame format.
2. The parser on real dumps from corefiles/generate.py (every scenario on the
   newest toolchain; `all` on every toolchain x variant of the default matrix).
3. Dump against account: every goroutine the fixture says it parked is in the
   runtime's dump, in the stated state / wait reason, with the stated wait
   function as its first main.* frame and the stated creator. This validates
   the fixture, so engine tests can trust the account.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from fixtures import NEWEST, SCENARIOS, cell_params, core_for, generate, oracle, matrix_cells

# ------------------------------------------------------------------ 1. parser units

SNIPPET_119 = """\
SIGQUIT: quit
PC=0x4f1f7b m=0 sigcode=0

goroutine 18 [running, locked to thread]:
main.spinForever(0x0?)
\t/src/scenarios.go:651 +0x3b fp=0xc0000387c8 sp=0xc0000387a0 pc=0x4f1f7b
main.startBusyLoop.func1()
\t/src/scenarios.go:642 +0x26 fp=0xc0000387e0 sp=0xc0000387c8 pc=0x4f1f06
runtime.goexit()
\t/usr/lib/go-1.19/src/runtime/asm_amd64.s:1594 +0x1 fp=0xc0000387e8 sp=0xc0000387e0 pc=0x463dc1
created by main.startBusyLoop
\t/src/scenarios.go:642 +0xdd

goroutine 1 [sleep, 12 minutes]:
time.Sleep(0x34630b8a000)
\t/usr/lib/go-1.19/src/runtime/time.go:195 +0x135 fp=0xc000131f08 sp=0xc000131ec8 pc=0x460055
main.blockForever(...)
\t/src/main.go:305
main.main()
\t/src/main.go:301 +0x1125 fp=0xc000131f80 sp=0xc000131f08 pc=0x4ee1a5

goroutine 7 [semacquire (scan)]:
sync.(*Mutex).Lock(...)
\t/usr/lib/go-1.19/src/sync/mutex.go:81
...additional frames elided...
created by main.x
\t/src/x.go:1 +0x1

goroutine 9 [running]:
\tgoroutine running on other thread; stack unavailable
created by main.y
\t/src/y.go:2 +0x2

goroutine 11 [chan receive]:
main.z()
\t/src/z.go:3 +0x3
[originating from goroutine 1]:
main.main(...)
\t/src/main.go:10 +0x5
rax    0x0
rip    0x4f1f7b
fs     0x0

-----

SIGQUIT: quit
PC=0x465c83 m=1 sigcode=0

goroutine 0 [idle]:
runtime.futex()
\t/usr/lib/go-1.19/src/runtime/sys_linux_amd64.s:560 +0x23 fp=0x7f0 sp=0x7e8 pc=0x465c83
rax    0xca
rip    0x465c83
"""

def test_preempted_frame_without_offset():
    d = oracle.parse("SIGQUIT: quit\nPC=0x465300 m=0 sigcode=0\n\ngoroutine 18 [running, locked to thread]:\n"
                     "runtime.asyncPreempt()\n\t/go/src/runtime/preempt_amd64.s:7 fp=0xc0 sp=0xc8 pc=0x465300\n"
                     "main.spinForever(0x0?)\n\t/src/s.go:651 +0x3b fp=0xc1 sp=0xc2 pc=0x4f1fdb\n")
    f = d.goroutines[18].frames[0]
    assert f.offset is None and f.pc == 0x465300 and not f.inlined


def test_unknown_pc_stack_words():
    """A thread in C code when SIGQUIT came (cgo under qemu, go1.25 arm64):
    its g0 has an unknown pc and the runtime prints its stack words. Lines
    from that dump; the words are notes of goroutine 0, and only there."""
    head = ("SIGQUIT: quit\nPC=0x55008d6208 m=11 sigcode=0\n\n"
            "goroutine 0 gp=0x4000085180 m=11 mp=0x400008b808 [idle]:\n"
            "runtime: g 0 gp=0x4000085180: unknown pc 0x55008d6208\n")
    words = ("stack: frame={sp:0x5594f2f500, fp:0x0} stack=[0x559472fc70,0x5594f2f870)\n"
             "0x0000005594f2f400:  0x0000005594f2f5e0  0x0000005594f2f5d0 \n"
             "0x0000005594f2f430:  0x000000000042e01c <runtime.(*mheap).alloc+0x000000000000004c>  0x0000005594f2f5d0 \n"
             "0x0000005594f2f500: <0x0000005594f2f5a0  0x00000000004c7f60 \n")
    d = oracle.parse(head + words + "r0      0x0\npc      0x55008d6208\n")
    (g,) = [g for s in d.sections for g in s.goroutines]
    assert g.goid == 0 and not g.frames and len(g.notes) == 5
    with pytest.raises(oracle.DumpParseError):  # not without the frame line before them
        oracle.parse(head + words.split("\n", 1)[1])


SNIPPET_126 = """\
some program output
SIGQUIT: quit
PC=0x488d23 m=1 sigcode=0 addr=0x10

goroutine 0 gp=0x19612a69e5a0 m=1 mp=0x19612a6da008 [idle]:
runtime.futex(0x69eae0, 0x80, 0x0, 0x19612a6c5ea0, 0x0, 0x0)
\t/usr/local/go/src/runtime/sys_linux_amd64.s:570 +0x23 fp=0x19612a6c5e70 sp=0x19612a6c5e68 pc=0x488d23

goroutine 2 gp=0x19612a69e780 m=nil [force gc (idle), 3 minutes]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
\t/usr/local/go/src/runtime/proc.go:462 +0xce fp=0x19612a6d6fa8 sp=0x19612a6d6f88 pc=0x48062e
...7 frames elided...
runtime.goexit({})
\t/usr/local/go/src/runtime/asm_amd64.s:1771 +0x1 fp=0x19612a6d6fe8 sp=0x19612a6d6fe0 pc=0x4871e1
created by runtime.init.7 in goroutine 1
\t/usr/local/go/src/runtime/proc.go:363 +0x1a

goroutine 40 gp=0x1 m=nil [chan receive (nil chan) (leaked), locked to thread labels:{"a": "b\\"c", "k": "v"}]:
main.(*T).wait[...](0xc0, {0x1, 0x2}, ...)
\t/src/t.go:9 +0x10 fp=0x1 sp=0x2 pc=0x3
rax    0x1
"""


def test_parse_119_formats():
    d = oracle.parse(SNIPPET_119)
    assert d.signal == "SIGQUIT" and len(d.sections) == 2
    s0 = d.sections[0]
    assert (s0.pc, s0.m, s0.sigcode, s0.addr) == (0x4f1f7b, 0, 0, None)
    gs = d.goroutines
    assert sorted(gs) == [1, 7, 9, 11, 18]
    g = gs[18]
    assert (g.state, g.wait_reason, g.locked_to_thread, g.gp, g.m_printed) == ("running", "", True, None, False)
    assert g.frames[0].func == "main.spinForever" and g.frames[0].args == "0x0?"
    assert (g.frames[0].line, g.frames[0].offset, g.frames[0].fp, g.frames[0].sp, g.frames[0].pc) == \
        (651, 0x3b, 0xc0000387c8, 0xc0000387a0, 0x4f1f7b)
    assert g.created_by.func == "main.startBusyLoop" and g.created_by.goid is None
    assert gs[1].wait_reason == "sleep" and gs[1].minutes == 12 and gs[1].frames[1].inlined
    assert gs[7].scan and gs[7].wait_reason == "semacquire" and gs[7].elided == -1
    assert gs[7].frames[0].func == "sync.(*Mutex).Lock"
    assert gs[9].unavailable and gs[9].frames == [] and gs[9].created_by.func == "main.y"
    assert gs[11].ancestors[0].goid == 1 and gs[11].ancestors[0].frames[0].func == "main.main"
    assert s0.registers == {"rax": 0, "rip": 0x4f1f7b, "fs": 0}
    assert d.per_m[1][0] == 1 and d.per_m[1][1].goid == 0 and d.per_m[1][1].state == "idle"
    assert d.stack_of(9).unavailable and d.stack_of(18).frames[0].func == "main.spinForever"
    assert d.sections[1].registers["rax"] == 0xCA


def test_parse_122_plus_formats():
    d = oracle.parse(SNIPPET_126)
    assert d.preamble == ["some program output"]
    assert d.sections[0].addr == 0x10
    g0 = d.sections[0].goroutines[0]
    assert (g0.goid, g0.gp, g0.m, g0.mp) == (0, 0x19612a69e5a0, 1, 0x19612a6da008)
    g2 = d.goroutines[2]
    assert g2.m is None and g2.m_printed and g2.wait_reason == "force gc (idle)" and g2.minutes == 3
    assert g2.elided == 7 and g2.elided_at == 1 and g2.created_by.goid == 1
    g40 = d.goroutines[40]
    assert g40.wait_reason == "chan receive (nil chan)" and g40.leaked and g40.state == "leaked"
    assert g40.locked_to_thread and g40.labels == {"a": 'b"c', "k": "v"}
    assert g40.frames[0].func == "main.(*T).wait[...]" and g40.frames[0].args == "0xc0, {0x1, 0x2}, ..."


# 1.27 (runtime/traceback.go goroutineheader): labels after the brackets,
# quoted only when needed; tracebacklabels=1 is the default at go 1.27.
SNIPPET_127 = """\
SIGQUIT: quit
PC=0x488d23 m=1 sigcode=0

goroutine 7 gp=0xa5aa15b1860 m=nil [chan receive, 2 minutes] {fixture: labels, via: pprof.Do}:
main.labeledWait()
\t/src/s.go:750 +0x2c fp=0x1 sp=0x2 pc=0x3

goroutine 8 gp=0xa5aa15b1a40 m=nil [select (no cases), locked to thread] {"a b": "]x\\"y", e: , k: "\\u00e9"}:
main.f()
\t/src/s.go:1 +0x1 fp=0x1 sp=0x2 pc=0x3

goroutine 9 gp=0xa5aa15b1c20 m=nil [sleep]:
main.g()
\t/src/s.go:2 +0x1 fp=0x1 sp=0x2 pc=0x3
"""


def test_parse_127_labels():
    d = oracle.parse(SNIPPET_127)
    g7, g8, g9 = d.goroutines[7], d.goroutines[8], d.goroutines[9]
    assert (g7.wait_reason, g7.minutes, g7.labels) == ("chan receive", 2, {"fixture": "labels", "via": "pprof.Do"})
    assert g8.wait_reason == "select (no cases)" and g8.locked_to_thread
    assert g8.labels == {"a b": ']x"y', "e": "", "k": "\u00e9"}
    assert g9.labels is None and g9.wait_reason == "sleep"


# 1.19/1.20, a signal in C code (runtime/signal_unix.go sigpanic's fatal path)
SNIPPET_FATAL_119 = """\
fatal error: unexpected signal during runtime execution
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4aefec]

runtime stack:
runtime.throw({0x4d672a?, 0x4000085040?})
\t/usr/lib/go-1.19/src/runtime/panic.go:1047 +0x40 fp=0x556c7ae800 sp=0x556c7ae7d0 pc=0x433cf0

goroutine 8 [syscall]:
runtime.cgocall(0x4aefb0, 0x4000037f88)
\t/usr/lib/go-1.19/src/runtime/cgocall.go:158 +0x54 fp=0x4000037f50 sp=0x4000037f10 pc=0x4046e4
created by main.main
\t/src/main.go:169 +0xaa0

goroutine 1 [sleep]:
main.blockForever()
\t/src/main.go:200 +0x28 fp=0x1 sp=0x2 pc=0x3
"""


def test_parse_fatal_signal_in_c():
    d = oracle.parse(SNIPPET_FATAL_119)
    s = d.sections[0]
    assert (d.signal, s.fatal, s.pc, s.addr, s.sigcode) == (
        "SIGSEGV", "unexpected signal during runtime execution", 0x4aefec, 0, 1)
    assert [f.func for f in s.runtime_stack] == ["runtime.throw"]
    assert sorted(d.goroutines) == [1, 8] and s.goroutines[0].goid == 8
    assert d.goroutines[8].state == "syscall" and d.goroutines[8].created_by.func == "main.main"


@pytest.mark.parametrize("bad, where", [
    ("SIGQUIT: quit\nPC=0x1 m=0 sigcode=0\n\ngoroutine 1 [sleep]:\nmain.f()\n\tx.go:1 +0x1\nwhat is this\n", 7),
    ("SIGQUIT: quit\nPC=0x1 m=0 sigcode=0\n\ngoroutine 1 [sleep] {a b: c}:\n", 4),
    ("SIGQUIT: quit\nPC=0x1 m=0 sigcode=0\n\ngoroutine 1 [sleep, 3 hours]:\n", 4),
    ("SIGQUIT: quit\nPC=0x1 m=0 sigcode=0\n\ngoroutine 1 [sleep]:\nmain.f()\nmain.g()\n", 6),
    ("SIGQUIT: quit\nPC=0x1 m=0\n", 2),
    ("SIGQUIT: quit\nPC=0x1 m=0 sigcode=0\n\ngoroutine 1 [sleep]:\nmain.f()\n", 5),
    ("just text\n", 1),
])
def test_parser_is_strict(bad, where):
    with pytest.raises(oracle.DumpParseError) as ei:
        oracle.parse(bad)
    assert ei.value.lineno == where


def test_wait_reason_table():
    assert oracle.wait_reason_for("mutex", 19) == "semacquire"
    assert oracle.wait_reason_for("mutex", 20) == "sync.Mutex.Lock"
    assert oracle.wait_reason_for("waitgroup", 23) == "semacquire"
    assert oracle.wait_reason_for("waitgroup", 24) == "sync.WaitGroup.Wait"


# ------------------------------------------------------------------ fixture table


def test_table_sorted_and_documented():
    names = list(SCENARIOS)
    assert names == sorted(names) and "all" in names and len(names) == len(set(names))
    with open(os.path.join(generate.HERE, "README.rst")) as f:
        readme = f.read()
    for n in names:
        assert re.search(r"^\| ``%s`` " % re.escape(n), readme, re.M), "README.rst table lacks %s" % n


def test_readme_version_matrix_is_the_full_matrix():
    """README.rst's "Go version matrix" says "tested" exactly where
    make test-matrix (corefiles/generate.py --matrix full) has every
    scenario of both programs, with the toolchain it builds with."""
    with open(os.path.join(os.path.dirname(generate.HERE), "README.rst"), encoding="utf-8") as f:
        readme = f.read()
    table = readme[readme.index("Go version matrix\n"):]
    rows = re.findall(r"^(1\.\d+)\s+(go1\.\d+\.\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s", table, re.M)
    assert [r[0] for r in rows] == list(generate.TOOLCHAINS)
    full = set(generate.full_matrix())
    every = generate.all_scenario_names()

    def tested(t, variants):
        return all((t, v, s) in full for v in variants for s in every)

    for t, version, *cols in rows:
        assert version == generate.probe(t).version, t
        want = [tested(t, [v]) for v in ("dwarf", "stripped", "arm64-dwarf", "arm64-stripped")]
        want.append(tested(t, ["pie-dwarf", "pie-stripped", "arm64-pie-dwarf", "arm64-pie-stripped"]))
        assert cols == ["tested" if w else "\u2013" for w in want], (t, cols)
    pie = list(generate.PIE_TOOLCHAINS)
    assert "PIE (``-buildmode=pie``) is tested on %s and %s," % (", ".join(pie[:-1]), pie[-1]) \
        in " ".join(table.split())


# ------------------------------------------------------------------ 2+3. real dumps


SYSTEM_PREFIXES = ("runtime.", "os/signal.", "internal/", "time.", "net.", "sync.", "syscall.")


def check_against_account(fc):
    """Every accounted goroutine is in the dump as the account says. Returns the parsed dump."""
    d = fc.parsed_dump()
    acc = fc.load_account()
    meta = fc.load_meta()
    assert acc["go_version"] == fc.go_version == meta["go_version"]
    assert d.signal == "SIGQUIT"
    gs = d.goroutines
    # Timestamps: runtime.nanotime (linkname) == CLOCK_MONOTONIC, GCs happened after everything parked.
    assert abs(acc["ready_ns"] - acc["ready_clock_monotonic_ns"]) < 50_000_000
    assert len(acc["gcs"]) >= 2 and acc["gcs"][-1]["num_gc_after"] >= 2
    last_parked = max(g["parked_ns"] for g in acc["groups"])
    assert acc["gcs"][0]["before_ns"] >= last_parked
    assert acc["ready_ns"] >= acc["gcs"][-1]["after_ns"]

    main = gs[acc["main_goid"]]
    assert main.wait_reason == "sleep" and acc["main_wait_func"] in main.funcs(), main

    accounted = {acc["main_goid"]}
    for grp in acc["groups"]:
        where = "%s/%s" % (grp["scenario"], grp["group"])
        assert len(grp["goids"]) >= 1, where
        if grp.get("per_goroutine"):
            assert len(grp["per_goroutine"]) == len(grp["goids"]), where
        for goid in grp["goids"]:
            assert goid not in accounted, "%s: goid %d accounted twice" % (where, goid)
            accounted.add(goid)
            assert goid in gs, "%s: goroutine %d not in the dump" % (where, goid)
            g = gs[goid]
            user = [f.func for f in g.frames if f.func.startswith("main.")]
            if grp["state"] == "running":
                assert g.state in ("running", "runnable"), (where, g.status)
                if g.unavailable:
                    # Its stack is in the section of the M running it, when
                    # that M still ran it as it printed its section (it may
                    # have been preempted in between: the section then
                    # shows only the M's g0).
                    pg = d.stack_of(goid)
                    if pg.frames:
                        assert pg.has_func(grp["wait_func"]), where
                    elif g.m is not None:  # 1.22+ names the M
                        assert any(m == g.m for m, _ in d.per_m), where
                else:
                    assert user and user[0] == grp["wait_func"], (where, user)
            else:
                assert g.state == "waiting", (where, goid, g.status)
                assert g.wait_reason == grp["wait_reason"], (where, goid, g.wait_reason)
                assert user and user[0] == grp["wait_func"], (where, goid, g.funcs())
                assert g.minutes == 0
            assert g.locked_to_thread == bool(grp.get("locked_to_thread")), where
            assert g.created_by is not None and g.created_by.func == grp["creator_func"], \
                (where, g.created_by)
            if fc.go_minor >= 21:
                assert g.created_by.goid == acc["main_goid"], where
            else:
                assert g.created_by.goid is None
            if fc.go_minor >= 22:
                assert g.gp is not None and g.m_printed, where
            else:
                assert g.gp is None and not g.m_printed, where
    # Nothing else of the fixture's own is alive: every goroutine with a main.* frame is accounted.
    for goid, g in gs.items():
        if goid in accounted:
            continue
        assert not any(f.func.startswith("main.") for f in g.frames), ("unaccounted", goid, g.funcs())
        assert g.created_by is None or not g.created_by.func.startswith("main."), ("unaccounted", goid)
    # Mutex holders are goroutines of the account, and cycles close.
    for grp in acc["groups"]:
        objs = list(grp.get("objects") or []) + [o for per in grp.get("per_goroutine") or [] for o in per]
        for o in objs:
            if o.get("holder_goid"):
                assert o["holder_goid"] in accounted and o["holder_via"] in ("local", "global")
            assert re.match(r"^0x[0-9a-f]+$", o["addr"]), o
    for cyc in acc["cycles"]:
        edges = cyc["edges"]
        for a, b in zip(edges, edges[1:] + edges[:1]):
            assert a["waits_for"] == b["goid"]
    # Per-M sections: each is one goroutine (often g0 = goroutine 0) of a distinct M.
    ms = [s.m for s in d.sections]
    assert len(ms) == len(set(ms))
    for s in d.sections[1:]:
        assert len(s.goroutines) == 1 and s.registers
    return d


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS])
def test_every_scenario_newest(scenario):
    check_against_account(core_for(NEWEST, "dwarf", scenario))


@pytest.mark.parametrize("toolchain, variant, scenario", cell_params(scenarios=("all",)))
def test_all_scenario_every_toolchain(toolchain, variant, scenario):
    fc = core_for(toolchain, variant, scenario)
    d = check_against_account(fc)
    acc = fc.load_account()
    assert set(acc["scenarios"]) == set(SCENARIOS) - {"all"} - generate.NOT_IN_ALL
    # the demo core has every pattern's wait reason
    reasons = {g.wait_reason for g in d.goroutines.values()}
    for kind in ("chan_recv", "chan_send", "nil_recv", "nil_send", "select", "select_empty", "io", "sleep",
                 "mutex", "rwmutex_lock", "rwmutex_rlock", "waitgroup", "cond"):
        assert oracle.wait_reason_for(kind, fc.go_minor) in reasons, kind
    assert os.path.getsize(fc.core) > 1 << 20
    with open(fc.core, "rb") as f:
        assert f.read(4) == b"\x7fELF"


# ------------------------------------------------------------------ other targets

# The cells of the CI slice beyond linux/amd64 non-PIE pure Go: arm64 cores
# qemu-aarch64 wrote of its guest, PIE executables, the cgo program.
TARGET_CELLS = [pytest.param(t, v, s, id="go%s-%s-%s" % (t, v, s)) for t, v, s in matrix_cells()
                if v not in generate.VARIANTS or s in generate.CGO_SCENARIOS]


def _elf_header(path):
    with open(path, "rb") as f:
        h = f.read(20)
    assert h[:4] == b"\x7fELF", path
    return int.from_bytes(h[16:18], "little"), int.from_bytes(h[18:20], "little")  # e_type, e_machine


def check_cgo_account(fc):
    d = fc.parsed_dump()
    acc = fc.load_account()
    gs = d.goroutines
    assert acc["go_version"] == fc.go_version and acc["goarch"] == fc.arch
    assert gs[acc["main_goid"]].wait_reason == "sleep"
    for grp in acc["groups"]:
        assert len(grp["goids"]) == acc["n"], grp["group"]
        for goid in grp["goids"]:
            g = gs[goid]
            where = (grp["group"], goid, g.status)
            if grp["state"] == "syscall":   # inside C: entersyscall, "[syscall]"
                assert g.state == "syscall" and not g.locked_to_thread, where
            else:
                assert g.wait_reason == grp["wait_reason"] and g.locked_to_thread, where
            assert grp["wait_func"] in g.funcs(), (where, g.funcs())
            if grp["creator_func"]:
                assert g.created_by is not None and g.created_by.func == grp["creator_func"], where
            else:  # a goroutine of a thread C made: no go statement made it
                assert g.created_by is None and g.funcs()[-1] == "runtime.goexit", where
                assert "runtime.cgocallback" in g.funcs(), where
    if fc.scenario == "cgo_crash":
        # 1.21+: "SIGSEGV: ..." with "signal arrived during cgo execution";
        # 1.19/1.20: "fatal error: unexpected signal during runtime execution"
        assert d.signal == "SIGSEGV"
        assert ("signal arrived during cgo execution" in d.sections[0].extra
                if d.sections[0].fatal is None else d.sections[0].runtime_stack), d.sections[0]
        crashed = d.sections[0].goroutines[0]
        assert crashed.goid == acc["crash_goid"] and crashed.state == "syscall"
        assert acc["crash_func"] in crashed.funcs(), crashed.funcs()
    else:
        assert d.signal == "SIGQUIT"


@pytest.mark.parametrize("toolchain, variant, scenario", TARGET_CELLS)
def test_other_targets_dump_and_account(toolchain, variant, scenario):
    """The generator's other targets are what they claim to be: the core is
    of the variant's architecture, the executable PIE (ET_DYN) or not, and
    the runtime's dump shows every goroutine the program accounted for."""
    fc = core_for(toolchain, variant, scenario)
    v = generate.parse_variant(variant)
    machine = generate.ARCH_RUN[v.arch][0]
    assert _elf_header(fc.core) == (4, machine)                       # ET_CORE
    assert _elf_header(fc.exe) == ((3 if v.pie else 2), machine)      # ET_DYN / ET_EXEC
    meta = fc.load_meta()
    assert (meta["arch"], meta["pie"]) == (v.arch, v.pie)
    if scenario in generate.CGO_SCENARIOS:
        check_cgo_account(fc)
    else:
        check_against_account(fc)
        assert fc.load_account()["goarch"] == v.arch


def test_core_pattern_is_usable():
    pat = generate.check_core_pattern()
    assert not pat.startswith("|")


# ------------------------------------------------------------------ generator


def test_core_pattern_pipe_is_refused(tmp_path):
    p = tmp_path / "core_pattern"
    p.write_text("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h\n")
    with pytest.raises(generate.GenerateError, match="pipe.*sysctl -w kernel.core_pattern=core"):
        generate.check_core_pattern(str(p))
    p.write_text("/var/crash/core.%e.%p\n")
    with pytest.raises(generate.GenerateError, match="not relative"):
        generate.check_core_pattern(str(p))
    p.write_text("core\n")
    assert generate.check_core_pattern(str(p)) == "core"


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    """A fixture that misses READY is killed and leaves no entry, no temp dir, no process."""
    fc = core_for(NEWEST, "dwarf", "select_empty")  # makes sure the toolchain and build exist
    tc = generate.probe(NEWEST)
    monkeypatch.setenv("GOPARKED_CACHE", str(tmp_path))
    # reuse the built binary instead of building again
    exe = generate.build_dir(tc, "dwarf")
    os.makedirs(exe)
    shutil.copy(fc.exe, os.path.join(exe, "fixture"))
    # A zero timeout has passed before the first look, whatever the load;
    # 0.1 ms was not: a parent descheduled for longer found READY waiting.
    with pytest.raises(generate.GenerateError, match="READY"):
        generate.run_scenario(tc, "dwarf", "select_empty", 3, ready_timeout=0)
    assert sorted(os.listdir(exe)) == ["fixture"]
    running = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/exe" % pid).startswith(os.path.join(exe, "fixture")):
                running.append(pid)
        except OSError:
            pass
    assert running == []


def test_fixture_list_matches_parsed_table():
    import json
    import subprocess
    fc = core_for(NEWEST, "dwarf", "select_empty")
    rows = json.loads(subprocess.run([fc.exe, "-list"], capture_output=True, text=True, check=True).stdout)
    assert rows == generate.scenarios()


def test_waitsince_window_is_sane():
    fc = core_for(NEWEST, "dwarf", "all")
    lo, hi = fc.waitsince_window()
    acc = fc.load_account()
    assert hi <= acc["ready_ns"]
    if lo is not None:
        assert lo >= max(g["parked_ns"] for g in acc["groups"])
