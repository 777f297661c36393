"""The ctypes binding against the C header, and errors through it.

Layouts and constants are checked against what the C compiler makes of
native/include/goparked.h, never against the binding itself.
"""

import collections
import errno
import keyword
import re
import subprocess
from pathlib import Path

import pytest

import goparked
from goparked import _native as N

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "native" / "include" / "goparked.h"

pytestmark = pytest.mark.engine


# ------------------------------------------------------------- the header

def _c_constants():
    """(C expression, value the binding uses) for every mirrored constant."""
    pairs = [("GP_ABI_VERSION", N.ABI_VERSION), ("GP_NONE", N.NONE)]
    pairs += [("GP_ERROR_%s" % name, code)
              for code, name in N.ERROR_NAMES.items()]
    pairs += [("GP_STATUS_%s" % name.upper(), code)
              for code, name in N.STATUS_NAMES.items()]
    pairs += [("GP_G_%s" % name.upper(), bit)
              for bit, name in N.G_FLAG_NAMES.items()]
    pairs += [("GP_BY_%s" % name.upper(), v) for name, v in N.GROUP_BY.items()]
    wait = {"chan_recv": "CHAN_RECV", "chan_send": "CHAN_SEND",
            "chan": "CHAN_UNKNOWN", "sema": "SEMA", "cond": "COND"}
    pairs += [("GP_WAIT_%s" % wait[name], v)
              for v, name in N.WAIT_KIND_NAMES.items()]
    for name in dir(N):
        for prefix, cprefix in (("PROGRAM_", "GP_PROGRAM_"),
                                ("ATTACH_", "GP_ATTACH_"),
                                ("FRAME_", "GP_FRAME_"),
                                ("THREAD_", "GP_THREAD_")):
            if name.startswith(prefix) and name.isupper():
                pairs.append((cprefix + name[len(prefix):],
                              getattr(N, name)))
    return pairs


def c_field(name):
    """The C name of a ctypes field: a Python keyword gets a trailing _
    in the binding (from_ for from)."""
    if name.endswith("_") and keyword.iskeyword(name[:-1]):
        return name[:-1]
    return name


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    """Compile a program that prints sizes, offsets and constants as C
    sees them; returns {name: value}."""
    lines = ['#include <stdio.h>', '#include <stddef.h>',
             '#include "goparked.h"', 'int main(void) {']
    for cname, cls in N.STRUCTS.items():
        lines.append('printf("%s %%zu\\n", sizeof(struct %s));'
                     % (cname, cname))
        for fname, _ in cls._fields_:
            cf = c_field(fname)
            lines.append('printf("%s.%s %%zu\\n", offsetof(struct %s, %s));'
                         % (cname, fname, cname, cf))
            lines.append('printf("%s.%s:size %%zu\\n", '
                         'sizeof(((struct %s *)0)->%s));'
                         % (cname, fname, cname, cf))
    for expr, _ in _c_constants():
        lines.append('printf("%s %%llu\\n", (unsigned long long)(%s));'
                     % (expr, expr))
    lines.append("return 0; }")
    d = tmp_path_factory.mktemp("layout")
    src, exe = d / "layout.c", d / "layout"
    src.write_text("\n".join(lines) + "\n")
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror",
                        "-I", str(HEADER.parent), "-o", str(exe), str(src)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    assert r.returncode == 0, "the binding names something the header " \
        "does not have:\n" + r.stdout
    out = subprocess.run([str(exe)], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    return {k: int(v) for k, v in (ln.split() for ln in out.splitlines())}


@pytest.mark.parametrize("cname", sorted(N.STRUCTS))
def test_struct_layout_matches_c(c_layout, cname):
    import ctypes
    cls = N.STRUCTS[cname]
    assert ctypes.sizeof(cls) == c_layout[cname], cname
    for fname, ftype in cls._fields_:
        key = "%s.%s" % (cname, fname)
        assert getattr(cls, fname).offset == c_layout[key], key
        assert ctypes.sizeof(ftype) == c_layout[key + ":size"], key


def test_constants_match_c(c_layout):
    wrong = {expr: (value, c_layout[expr]) for expr, value in _c_constants()
             if c_layout[expr] != value}
    assert not wrong


def _header_enum_names(prefix):
    return set(re.findall(r"\b(%s[A-Z0-9_]+)\s*=" % prefix,
                          HEADER.read_text()))


@pytest.mark.parametrize("prefix", ["GP_ERROR_", "GP_STATUS_", "GP_G_",
                                    "GP_BY_", "GP_WAIT_", "GP_PROGRAM_",
                                    "GP_FRAME_", "GP_THREAD_", "GP_ATTACH_"])
def test_every_header_constant_is_mirrored(prefix):
    mirrored = {expr for expr, _ in _c_constants()}
    assert _header_enum_names(prefix) - mirrored == set()


def _header_functions():
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    typedefs = set(re.findall(r"typedef[^;(]*?\b(gp_[a-z0-9_]+)\s*\(", text))
    return set(re.findall(r"\b(gp_[a-z0-9_]+)\s*\(", text)) - typedefs


def test_every_header_struct_is_mirrored():
    structs = set(re.findall(r"^struct (gp_[a-z0-9_]+) \{",
                             HEADER.read_text(), flags=re.M))
    assert structs == set(N.STRUCTS)


def test_every_header_function_has_a_prototype():
    declared = _header_functions()
    assert declared - set(N._PROTOTYPES) == set()
    assert set(N._PROTOTYPES) - declared == set()


def test_library_exports_exactly_the_header():
    lib = N.lib()
    out = subprocess.run(["nm", "-D", "--defined-only", lib.path],
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    exported = {ln.split()[-1] for ln in out.splitlines()
                if ln.split() and ln.split()[-2] in ("T", "D", "B", "R")}
    assert exported == set(N._PROTOTYPES), \
        "exported but not in the header: %s; in the header, not exported: " \
        "%s" % (sorted(exported - set(N._PROTOTYPES)),
                sorted(set(N._PROTOTYPES) - exported))


def test_abi_version():
    assert N.lib().gp_abi_version() == N.ABI_VERSION


# The declarations of each ABI version: a hash of the header's structs and
# exported functions (comments and spacing left out), recorded when the
# version was made. A struct or a function that changes, comes or goes
# without a new GP_ABI_VERSION fails here: gp_cframe (cgo C frames) came
# in ABI 2 and a binding of 2 would have loaded an engine it did not match.
ABI_FINGERPRINTS = {
    3: "4d69c3d4ff3c20e0",  # 2 + struct gp_cframe, gp_program_c_frames
    4: "e1fec114fb53c321",  # gp_filter: label_key_len, label_value_len
    5: "1b2a4e567acd255f",  # 4 + gp_snapshot_take_with (GP_SNAPSHOT_REFS)
    6: "93df2314ef1254c8",  # 5 + gp_json_names' verdicts, gp_grouping_verdicts
    7: "2e6297577fcefa27",  # gp_group_verdicts: one_creator (was reserved)
}


def _abi_fingerprint(text):
    import hashlib
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    decls = re.findall(r"^struct gp_[a-z0-9_]+ \{.*?^\};", text,
                       flags=re.M | re.S)
    decls += re.findall(r"^GP_EXPORT[^;]*;", text, flags=re.M)
    decls = sorted(" ".join(d.split()) for d in decls)
    return hashlib.sha256("\n".join(decls).encode()).hexdigest()[:16]


def test_abi_version_changes_with_the_declarations():
    version = int(re.search(r"^#define GP_ABI_VERSION (\d+)$",
                            HEADER.read_text(), flags=re.M).group(1))
    assert version == N.ABI_VERSION == max(ABI_FINGERPRINTS)
    got = _abi_fingerprint(HEADER.read_text())
    assert got == ABI_FINGERPRINTS[version], (
        "the header's structs or functions changed (fingerprint %s, ABI %d "
        "was %s): bump GP_ABI_VERSION and _native.ABI_VERSION, and record "
        "the new fingerprint here" % (got, version, ABI_FINGERPRINTS[version]))


def test_engine_frame_limit_is_the_texts():
    """text.ENGINE_MAX_FRAMES (a deep stack's cut when the engine stopped
    reading it) is the engine's GP_MAX_FRAMES."""
    from goparked import text
    src = (ROOT / "native" / "src" / "runtime" / "runtime.h").read_text()
    m = re.search(r"^#define GP_MAX_FRAMES (\d+)$", src, flags=re.M)
    assert m and int(m.group(1)) == text.ENGINE_MAX_FRAMES


def test_abi_fingerprint_sees_a_new_struct():
    """The fingerprint is of the declarations, not of the words around
    them: a comment changes nothing, a field or a struct does."""
    text = HEADER.read_text()
    base = _abi_fingerprint(text)
    assert _abi_fingerprint(text.replace("\n", "\n/* a comment */\n", 1)) \
        == base
    assert _abi_fingerprint(text.replace("\tuint64_t pc;\n",
                                         "\tuint64_t pc, pc2;\n", 1)) != base
    assert _abi_fingerprint(text + "\nstruct gp_new {\n\tint x;\n};\n") \
        != base


# --------------------------------------------------------------- errors

def test_error_is_exported_with_codes():
    assert goparked.Error is N.Error
    e = goparked.Error(goparked.Error.NO_DWARF, "x")
    assert e.code == 7 and e.name == "NO_DWARF" and str(e) == "x"


def _open_error(core, exe):
    with pytest.raises(goparked.Error) as info:
        prog = goparked.Program.from_core(core, exe)
        # Some problems only show when the goroutines are read.
        prog.snapshot()
    return info.value


def test_missing_core(bad_files, tiny_go):
    e = _open_error(bad_files["missing"], tiny_go.exe)
    assert e.code == goparked.Error.OS
    assert e.errno == errno.ENOENT
    assert str(bad_files["missing"]) in e.message


def test_missing_exe(bad_files, tiny_go):
    e = _open_error(tiny_go.core, bad_files["missing"])
    assert e.code == goparked.Error.OS
    assert e.errno == errno.ENOENT
    assert str(bad_files["missing"]) in e.message


@pytest.mark.parametrize("kind", ["empty", "text", "random", "elf_garbage"])
def test_core_not_a_core(bad_files, tiny_go, kind):
    e = _open_error(bad_files[kind], tiny_go.exe)
    assert e.code == goparked.Error.FORMAT, e
    assert str(bad_files[kind]) in e.message


@pytest.mark.parametrize("kind", ["empty", "text", "random"])
def test_exe_not_an_executable(bad_files, tiny_go, kind):
    # Not ELF at all: the file is not what it should be (FORMAT); NOT_GO is
    # for a well-formed executable that is not a Go program.
    e = _open_error(tiny_go.core, bad_files[kind])
    assert e.code == goparked.Error.FORMAT, e
    assert str(bad_files[kind]) in e.message


def test_exe_corrupt_elf(bad_files, tiny_go):
    e = _open_error(tiny_go.core, bad_files["elf_garbage"])
    assert e.code in (goparked.Error.FORMAT, goparked.Error.NOT_GO), e
    assert str(bad_files["elf_garbage"]) in e.message


def test_exe_given_as_core(tiny_go):
    e = _open_error(tiny_go.exe, tiny_go.exe)
    assert e.code == goparked.Error.FORMAT, e


def test_not_go(tiny_go):
    e = _open_error(tiny_go.sleep_core, tiny_go.sleep_exe)
    assert e.code == goparked.Error.NOT_GO, e


def test_core_of_another_executable(tiny_go):
    e = _open_error(tiny_go.core, tiny_go.other_exe)
    assert e.code == goparked.Error.MISMATCH, e
    assert str(tiny_go.core) in e.message and \
        str(tiny_go.other_exe) in e.message


@pytest.mark.parametrize("kind", ["core_half", "core_header"])
def test_truncated_core(bad_files, tiny_go, kind):
    e = _open_error(bad_files[kind], tiny_go.exe)
    assert e.code in (goparked.Error.FORMAT, goparked.Error.FAULT,
                      goparked.Error.CORRUPT), e


def test_no_dwarf_works(tiny_go):
    """Without DWARF the engine reads the layout from its tables: the
    goroutines TINY_GO parked (3 receivers, 1 on the mutex)."""
    with goparked.Program.from_core(tiny_go.core_stripped,
                                    tiny_go.exe_stripped) as prog:
        assert not prog.has_dwarf and prog.layout_from_table
        with prog.snapshot() as snap:
            got = collections.Counter(
                (next(f.func for f in g.frames if f.func.startswith("main.")),
                 g.wait_reason)
                for g in snap.goroutines() if not g.system)
    assert {k: got[k] for k in tiny_go.parked} == tiny_go.parked


def test_error_objects_are_freed_and_reusable(bad_files, tiny_go):
    # Many errors in a row: no leak of state between them, same answer.
    codes = {_open_error(bad_files["random"], tiny_go.exe).code
             for _ in range(50)}
    assert codes == {goparked.Error.FORMAT}


# ------------------------------------------------- a real (small) program

def test_tiny_program_snapshot(tiny_go):
    with goparked.Program.from_core(tiny_go.core, tiny_go.exe) as prog:
        assert prog.is_core and not prog.is_live and prog.has_dwarf
        assert prog.go_version == tiny_go.go_version
        with prog.snapshot() as snap:
            waiting = [g for g in snap.goroutines()
                       if g.frames and any(f.func == "main.recvForever"
                                           for f in g.frames)]
            assert len(waiting) == 3
            assert {g.state for g in waiting} == {"waiting"}
            assert {g.wait_reason for g in waiting} == {"chan receive"}
            g = snap.goroutine(waiting[0].goid)
            assert g.goid == waiting[0].goid
            with pytest.raises(goparked.Error) as info:
                snap.goroutine(10**12)
            assert info.value.code == goparked.Error.NOT_FOUND


def test_tiny_program_grouping(tiny_go):
    with goparked.Program.from_core(tiny_go.core, tiny_go.exe) as prog:
        snap = prog.snapshot()
        grouping = snap.group("site")
        by_func = {}
        for gr in grouping:
            if gr.site is not None:
                by_func.setdefault(gr.site.func, []).append(gr)
        (recv,) = by_func["main.recvForever"]
        assert recv.count == 3 and recv.wait_reason == "chan receive"
        assert recv.states == ["waiting"]
        assert len(recv.goids()) == 3 and recv.goids() == sorted(recv.goids())
        (lock,) = by_func["main.lockForever"]
        assert lock.count == 1
        # Group sizes add up to what the filter let through.
        total, system = snap.state_counts()
        assert grouping.total == sum(total.values()) - sum(system.values())


def test_grouping_verdicts_bounds(tiny_go):
    """gp_grouping_verdicts (the report's per-group verdict counts) counts
    every member once, and refuses a result shorter than the groups and
    verdicts of fewer goroutines than the grouping's members name."""
    import ctypes
    with goparked.Program.from_core(tiny_go.core, tiny_go.exe) as prog, \
            prog.snapshot() as snap:
        grouping = snap.group("site")
        raw = snap.verdicts()._raw
        n = len(grouping.groups)
        assert n > 1
        arr = (N.GroupVerdicts * n)()
        N.lib().check(N.lib().gp_grouping_verdicts(grouping._h, ctypes.byref(raw), arr, n))
        for k, gr in enumerate(grouping.groups):
            assert sum(arr[k].counts) == gr.count
        for h, v, cap in ((grouping._h, raw, n - 1), (None, raw, n),
                          (grouping._h, N.Verdicts(raw.goroutines, 0), n)):
            with pytest.raises(goparked.Error) as info:
                N.lib().check(N.lib().gp_grouping_verdicts(h, ctypes.byref(v), arr, cap))
            assert info.value.code == goparked.Error.INVALID_ARGUMENT


def test_grouping_verdicts_one_creator(demo_core):
    """gp_grouping_verdicts' one_creator (the verdict's rows take it instead
    of a look at each member's gopc): 1 exactly when every member of the
    group has the same creator pc, in every grouping's final order."""
    import ctypes
    with goparked.Program.from_core(demo_core.core, demo_core.exe) as prog, \
            prog.snapshot() as snap:
        raw = snap.verdicts()._raw
        gopc = snap.field_view("gopc")
        seen = set()
        for by in ("site", "creator", "age", "stack"):
            grouping = snap.group(by)
            n = len(grouping.groups)
            arr = (N.GroupVerdicts * n)()
            N.lib().check(N.lib().gp_grouping_verdicts(
                grouping._h, ctypes.byref(raw), arr, n))
            view = grouping._members_view()
            for k, gr in enumerate(grouping.groups):
                members = view[gr._first:gr._first + gr.count]
                one = len({gopc[i] for i in members}) == 1
                assert arr[k].one_creator == one, (by, k, gr.key)
                seen.add(one)
                if by == "creator":
                    assert one, gr.key
        assert seen == {True, False}


def test_closed_objects_raise(tiny_go):
    prog = goparked.Program.from_core(tiny_go.core, tiny_go.exe)
    snap = prog.snapshot()
    prog.close()
    with pytest.raises(goparked.Error):
        len(snap.group("site"))
    with pytest.raises(goparked.Error):
        prog.go_version


def test_the_library_under_test_is_the_one_asked_for():
    """The sanitizer pass must really run the sanitized engine (and the
    normal pass the normal one): no silent fallback."""
    import os
    lib = N.lib()
    maps = Path("/proc/self/maps").read_text()
    if os.environ.get("GOPARKED_SANITIZED"):
        assert lib.path == os.environ["GOPARKED_LIB"]
        assert "libasan" in maps and "libubsan" in maps
    elif os.environ.get("GOPARKED_LIB"):
        assert lib.path == os.environ["GOPARKED_LIB"]
    else:
        assert Path(lib.path).resolve() in (
            (ROOT / "native" / "build" / "libgoparked.so").resolve(),
            (Path(goparked.__file__).parent / "libgoparked.so").resolve())
        assert "libasan" not in maps
