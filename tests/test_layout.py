"""fields.def against the DWARF of every Go toolchain, and the built-in tables.

For each toolchain: native/gen/probe is built with DWARF and every
declaration of native/src/binary/fields.def is resolved from it by the engine's own
code (native/gen/layout_dump.c). A type, field or variable present outside
its declared versions, or missing inside them, fails. (One exception, kept
narrow: a member that became a struct whose declared sub-member takes over,
sudog.elem -> elem.vu in 1.26, is not the same field.) Then the built-in
table of that release (native/src/binary/tables/layout_tables_data.h) must equal
the DWARF resolution: regenerate it with native/gen/gen_tables.py.

The fixture's own DWARF build of each release is compared with the table
too: a second program of the same release, laid out by the same runtime.
"""

import os
import re
import sys

import pytest

from fixtures import TOOLCHAINS, core_for, generate, matrix_cells

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "native", "gen"))
import gen_tables  # noqa: E402

pytestmark = pytest.mark.engine

ALL_TOOLCHAINS = [pytest.param(t, id="go" + t) for t in TOOLCHAINS]


@pytest.fixture(scope="session")
def layout_dump():
    return gen_tables.build_tool()


@pytest.fixture(scope="session")
def decls(layout_dump):
    return gen_tables.run_tool(layout_dump, "decls")


def _toolchain(label):
    try:
        return generate.probe(label)
    except generate.Unavailable as e:
        pytest.skip("Go toolchain %s unavailable: %s" % (label, e))


def _resolve(layout_dump, exe):
    dwarf = gen_tables.run_tool(layout_dump, "dwarf", exe)
    assert not dwarf["error"], dwarf["error"]
    symbols = gen_tables.run_tool(layout_dump, "symbols", exe)
    return dwarf, symbols


def _table(layout_dump, exe, decls, gover):
    """The built-in table of exe's release, as the engine fills it."""
    t = gen_tables.run_tool(layout_dump, "table", exe)
    assert not t["error"], t["error"]
    return t


def _expected(decls, dwarf, gover):
    """DWARF resolution restricted to the declarations of that release."""
    types = {n: (dwarf["types"][n] if gen_tables.in_version(d, gover) else None)
             for n, d in decls["decls"]["type"].items()}
    fields = {n: (dwarf["fields"][n] if gen_tables.in_version(d, gover) else None)
              for n, d in decls["decls"]["field"].items()}
    return types, fields


ARCH_TOOLCHAINS = [pytest.param(t, a, id="go%s-%s" % (t, a)) for t in TOOLCHAINS for a in gen_tables.ARCHES]


@pytest.mark.parametrize("toolchain,arch", ARCH_TOOLCHAINS)
def test_declarations_match_dwarf(toolchain, arch, layout_dump, decls):
    tc = _toolchain(toolchain)
    dwarf, symbols = _resolve(layout_dump, gen_tables.build_probe(tc, arch=arch))
    problems = gen_tables.range_problems(decls, dwarf, symbols)
    assert not problems, "fields.def disagrees with the DWARF of %s %s:\n%s" % (
        tc.version, arch, "\n".join(problems))


@pytest.mark.parametrize("toolchain,arch", ARCH_TOOLCHAINS)
def test_table_equals_dwarf(toolchain, arch, layout_dump, decls):
    """Each release's table of each architecture (arm64's semTable and
    runtime.p differ) equals that architecture's DWARF."""
    tc = _toolchain(toolchain)
    exes = [gen_tables.build_probe(tc, arch=arch)]
    fixture = "dwarf" if arch == "amd64" else arch + "-dwarf"
    if (toolchain, fixture, "all") in matrix_cells() or arch == "amd64":
        exes.append(core_for(toolchain, fixture, "all").exe)
    for exe in exes:
        dwarf, symbols = _resolve(layout_dump, exe)
        gover = dwarf["gover"]
        table = _table(layout_dump, exe, decls, gover)
        types, fields = _expected(decls, dwarf, gover)
        stale = "; regenerate with native/gen/gen_tables.py"
        diff = ["type %s: table %s, DWARF %s" % (n, table["types"].get(n), v)
                for n, v in types.items() if table["types"].get(n) != v]
        diff += ["field %s: table %s, DWARF %s" % (n, table["fields"].get(n), v)
                 for n, v in fields.items() if table["fields"].get(n) != v]
        assert not diff, "%s (%s):\n%s%s" % (exe, dwarf["version"], "\n".join(diff), stale)


@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_wait_reason_count(toolchain, layout_dump):
    """The table's count is the generating toolchain's; the engine reads the
    exact count of each binary from its code (see stripped.c)."""
    tc = _toolchain(toolchain)
    exe = gen_tables.build_probe(tc)
    symbols = gen_tables.run_tool(layout_dump, "symbols", exe)
    n = symbols["vars"]["WAITREASONSTRINGS"][1] // 16
    # from the release notes / sources of each release (GO_RUNTIME.md);
    # 1.23 patch releases added "GC weak to strong wait"
    known = {19: {27}, 20: {32}, 21: {32}, 22: {37}, 23: {37, 38}, 24: {44}, 25: {47}, 26: {47}, 27: {47}}
    minor = int(tc.version.split(".")[1])
    # a toolchain added to the matrix is added here too: never unchecked
    assert minor in known, "%s: add its wait reason count" % tc.version
    assert n in known[minor], "%s: %d wait reasons" % (tc.version, n)
    table = gen_tables.run_tool(layout_dump, "table", exe)
    assert not table["error"]


def test_unknown_versions_are_refused_clearly(layout_dump, tmp_path):
    """A stripped binary newer than the tables (or older than 1.19) gets a
    message naming its version and what would make it work."""
    tc = _toolchain(TOOLCHAINS[-1])
    exe = gen_tables.build_probe(tc, "stripped")
    data = bytearray(open(exe, "rb").read())
    ver = tc.version.encode()
    # Fakes of the same length as the real version (the string is patched
    # in place): go1.26.8 -> go1.99.8 and go1.17.8, go1.26.10 -> go1.99.10.
    minor = b"go1." + str(int(tc.version.split(".")[1])).encode()
    assert ver.startswith(minor) and len(minor) == len(b"go1.99")
    rest = ver[len(minor):]
    newer, older = b"go1.99" + rest, b"go1.17" + rest
    checked = 0
    for fake, words in ((newer, (newer.decode(), "newer goparked", "-ldflags=-w")),
                        (older, (older.decode(), "1.19"))):
        i = data.find(b"\xff Go buildinf:")
        assert i >= 0
        j = data.find(bytes([len(ver)]) + ver, i)
        assert j > i
        assert len(fake) == len(ver)
        patched = bytearray(data)
        patched[j + 1:j + 1 + len(ver)] = fake
        path = tmp_path / ("fake-" + fake.decode())
        path.write_bytes(bytes(patched))
        t = gen_tables.run_tool(layout_dump, "table", str(path))
        assert t["error"], t
        for w in words:
            assert w in t["error"], t["error"]
        checked += 1
    assert checked == 2


def _with_version(exe, fake, path):
    """A copy of exe whose .go.buildinfo names another Go version."""
    data = bytearray(open(exe, "rb").read())
    i = data.find(b"\xff Go buildinf:")
    assert i >= 0
    ver = re.search(rb"go1\.\d+\.\d+", bytes(data[i:i + 4096])).group(0)
    assert len(ver) == len(fake), (ver, fake)
    j = data.find(bytes([len(ver)]) + ver, i)
    assert j > i
    data[j + 1:j + 1 + len(ver)] = fake
    path.write_bytes(bytes(data))
    path.chmod(0o755)
    return str(path)


def test_newer_go_with_dwarf_is_read_without_dwarf_refused(tmp_path):
    """The rule for a release newer than the tables: with DWARF it is read
    (the layout comes from the DWARF; here the newest fixture core, its
    executable relabelled one release up, still equals the runtime's dump);
    without DWARF it is one line naming the version, exit 2."""
    from test_engine_oracle import _compare
    from goparked.model import Program
    from conftest import run_goparked_cmd

    for variant in ("dwarf", "stripped"):
        fc = core_for(TOOLCHAINS[-1], variant, "all")
        minor = fc.go_minor
        fake = ("go1.%d.%s" % (minor + 1, fc.go_version.split(".")[2])).encode()
        exe = _with_version(fc.exe, fake, tmp_path / ("newer-" + variant))
        if variant == "dwarf":
            with Program.from_core(fc.core, exe) as prog:
                assert prog.go_version == fake.decode()
                assert not prog.layout_from_table
                _compare({g.goid: g for g in prog.snapshot().goroutines()},
                         fc.parsed_dump().goroutines)
        else:
            r = run_goparked_cmd([fc.core, "--exe", exe])
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            assert r.returncode == 2 and len(lines) == 1, r.stderr
            assert fake.decode() in lines[0] and "-ldflags=-w" in lines[0], lines[0]
