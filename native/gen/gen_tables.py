#!/usr/bin/env python3
"""Generate the built-in runtime layouts (native/src/binary/tables/layout_tables_data.h).

For every Go toolchain available here (the list in corefiles/generate.py),
build native/gen/probe with DWARF, resolve every declaration of
native/src/binary/fields.def from that DWARF with the engine's own code
(native/gen/layout_dump.c linked with layout.c), check that each one is
present exactly in the Go versions fields.def declares, and write one table
per Go minor release. The engine uses the tables for executables without
DWARF (gp_layout_from_table); tests/test_layout.py checks that they still
equal the DWARF.

    python3 native/gen/gen_tables.py              # regenerate the header
    python3 native/gen/gen_tables.py --check      # only compare, exit 1 on a difference
    python3 native/gen/gen_tables.py --also EXE   # also compare EXE's DWARF with the
                                                  # table of its release (another patch
                                                  # release, another build)

Layouts are per minor release: a patch release does not change the
runtime's types (Go's backport policy takes only fixes; checked where two
patch releases were available, see README.rst). The tables record which
toolchain each one came from.

Python 3 stdlib only. Builds are cached in $GOPARKED_CACHE/gen
(default ~/.cache/goparked/gen).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SRC = os.path.join(ROOT, "native", "src")
TABLES = os.path.join(SRC, "binary", "tables")
OUT = os.path.join(TABLES, "layout_tables_data.h")
PROBE = os.path.join(HERE, "probe")
# What layout_dump is linked with: the engine's own resolution code, the
# layers up to binary/ (which reads the executable only).
TOOL_SOURCES = ["binary/layout.c", "binary/layout_tables.c", "binary/exe.c",
                "binary/pclntab.c", "binary/stripped.c", "base/error.c",
                "base/util.c", "arch/arch.c", "arch/x86_64.c", "arch/arm64.c",
                "arch/code.c"]
# Tables per architecture: GOARCH -> ELF e_machine.
ARCHES = {"amd64": 62, "arm64": 183}
TOOL_HEADERS = ["base/base.h", "arch/arch.h", "binary/binary.h",
                "binary/fields.def"]


class GenError(Exception):
    pass


def cache_root() -> str:
    base = os.environ.get("GOPARKED_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "goparked")
    return os.path.join(base, "gen")


def corefiles_generate():
    """corefiles/generate.py: the one list of toolchains and how to run them."""
    path = os.path.join(ROOT, "corefiles", "generate.py")
    spec = importlib.util.spec_from_file_location("gp_corefiles_generate", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gp_corefiles_generate", mod)
    spec.loader.exec_module(mod)
    return mod


def build_tool(out_dir: str | None = None) -> str:
    """Compile layout_dump with the engine's sources; returns its path.
    Rebuilt only when a source is newer than the binary."""
    out_dir = out_dir or os.path.join(ROOT, "native", "build", "gen")
    os.makedirs(out_dir, exist_ok=True)
    exe = os.path.join(out_dir, "layout_dump")
    srcs = [os.path.join(HERE, "layout_dump.c")] + [os.path.join(SRC, s) for s in TOOL_SOURCES]
    deps = srcs + [os.path.join(SRC, n) for n in TOOL_HEADERS] + \
        [os.path.join(TABLES, n) for n in os.listdir(TABLES)] + \
        [os.path.join(ROOT, "native", "include", "goparked.h")]
    if os.path.exists(exe) and all(os.path.getmtime(d) <= os.path.getmtime(exe) for d in deps):
        return exe
    cc = os.environ.get("CC", "gcc")
    tmp = exe + ".tmp%d" % os.getpid()
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
           "-I" + os.path.join(ROOT, "native", "include"), "-I" + SRC, "-o", tmp] + srcs + \
        ["-ldw", "-lelf", "-lpthread"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if p.returncode != 0:
        raise GenError("building layout_dump failed:\n%s\n%s" % (" ".join(cmd), p.stdout))
    os.replace(tmp, exe)
    return exe


def parse_dump(text: str) -> dict:
    """The line format of layout_dump (see layout_dump.c)."""
    out = {"version": None, "gover": 0, "machine": 62, "types": {}, "fields": {}, "vars": {},
           "decls": {"type": {}, "field": {}, "var": {}}, "error": None}
    for line in text.splitlines():
        w = line.split()
        if not w:
            continue
        if w[0] == "version":
            out["version"], out["gover"] = w[1], int(w[2])
        elif w[0] == "machine":
            out["machine"] = int(w[1])
        elif w[0] == "decl":
            kind, name, typ, path, since, until = w[1:7]
            out["decls"][kind][name] = {"type": typ, "path": path, "since": int(since),
                                        "until": int(until)}
        elif w[0] == "type":
            out["types"][w[1]] = None if w[2] == "absent" else int(w[2])
        elif w[0] == "field":
            out["fields"][w[1]] = None if w[2] == "absent" else (int(w[2]), int(w[3]))
        elif w[0] == "var":
            out["vars"][w[1]] = (int(w[2], 16), int(w[3]))
        elif w[0] == "error":
            out["error"] = line[len("error "):]
        else:
            raise GenError("layout_dump: unexpected line %r" % line)
    return out


def run_tool(tool: str, mode: str, exe: str | None = None) -> dict:
    args = [tool, mode] + ([exe] if exe else [])
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    d = parse_dump(p.stdout)
    if p.returncode not in (0, 1) or (p.returncode == 1 and not d["error"]):
        raise GenError("%s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return d


def in_version(decl: dict, gover: int) -> bool:
    return gover >= decl["since"] and (decl["until"] == 0 or gover < decl["until"])


def range_problems(decls: dict, dwarf: dict, symbols: dict) -> list[str]:
    """Every declaration must be in the DWARF exactly in its declared versions."""
    gover, ver = dwarf["gover"], dwarf["version"]
    bad = []
    for kind, found in (("type", dwarf["types"]), ("field", dwarf["fields"]),
                        ("var", {k: (v if v[0] else None) for k, v in symbols["vars"].items()})):
        for name, decl in decls["decls"][kind].items():
            present = found.get(name) is not None
            want = in_version(decl, gover)
            what = decl["type"] + ("." + decl["path"] if kind == "field" else "")
            if present and not want and kind == "field" and any(
                    o["type"] == decl["type"] and o["path"].startswith(decl["path"] + ".")
                    and in_version(o, gover) for o in decls["decls"]["field"].values()):
                # The member became a struct and a declared sub-member takes
                # over (sudog.elem -> elem.vu in 1.26): not the same field.
                continue
            if present and not want:
                bad.append("%s: %s %s (%s) is in the DWARF but fields.def declares it for [%d, %s)"
                           % (ver, kind, name, what, decl["since"], decl["until"] or "now"))
            elif want and not present:
                bad.append("%s: %s %s (%s) is declared for [%d, %s) but missing"
                           % (ver, kind, name, what, decl["since"], decl["until"] or "now"))
    return bad


def probe_source_hash() -> str:
    h = hashlib.sha256()
    for n in sorted(os.listdir(PROBE)):
        with open(os.path.join(PROBE, n), "rb") as f:
            h.update(n.encode() + b"\0" + f.read())
    return h.hexdigest()[:12]


def build_probe(tc, variant: str = "dwarf", arch: str = "amd64") -> str:
    """native/gen/probe built with toolchain tc (corefiles' Toolchain) for
    GOARCH arch; variant "stripped" uses -ldflags=-s -w. Cached by version,
    architecture and source."""
    d = os.path.join(cache_root(), "%s-%s%s" % (tc.version, probe_source_hash(),
                                                "" if arch == "amd64" else "-" + arch))
    exe = os.path.join(d, "probe" if variant == "dwarf" else "probe-stripped")
    if os.path.exists(exe):
        return exe
    os.makedirs(d, exist_ok=True)
    tmp = exe + ".tmp%d" % os.getpid()
    cmd = [tc.go, "build", "-o", tmp]
    if variant == "stripped":
        cmd.append("-ldflags=-s -w")
    cmd.append(".")
    env = tc.env()
    env["GOARCH"] = arch
    p = subprocess.run(cmd, cwd=PROBE, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    if p.returncode != 0:
        raise GenError("%s: %s\n%s" % (tc.version, " ".join(cmd), p.stdout))
    os.replace(tmp, exe)
    return exe


def table_of(dwarf: dict, symbols: dict) -> dict:
    """The parts of a DWARF resolution that go into a table."""
    wrs = symbols["vars"].get("WAITREASONSTRINGS", (0, 0))
    if not wrs[0] or wrs[1] % 16:
        raise GenError("%s: runtime.waitReasonStrings has size %d" % (dwarf["version"], wrs[1]))
    return {"version": dwarf["version"], "gover": dwarf["gover"], "machine": dwarf["machine"],
            "types": dwarf["types"],
            "fields": dwarf["fields"], "nwaitreasons": wrs[1] // 16}


def emit(tables: list[dict], decls: dict) -> str:
    out = []
    w = out.append
    w("/*")
    w(" * Runtime layouts per Go release, for executables without DWARF.")
    w(" * Generated by native/gen/gen_tables.py from the DWARF of these")
    w(" * toolchains; do not edit:")
    w(" *")
    names = {m: a for a, m in ARCHES.items()}
    for t in tables:
        w(" *   %s %s" % (t["version"], names.get(t["machine"], t["machine"])))
    w(" *")
    w(" * Each entry is named after its line in fields.def; GP_ABSENT = not in")
    w(" * that release. Included by layout_tables.c.")
    w(" */")
    for t in tables:
        w("{")
        w("\t.machine = %d," % t["machine"])
        w("\t.gover = %d," % t["gover"])
        w("\t.generated_from = \"%s\"," % t["version"])
        w("\t.nwaitreasons = %d," % t["nwaitreasons"])
        w("\t.types = {")
        for name in decls["decls"]["type"]:
            v = t["types"].get(name)
            w("\t\t[GP_T_%s] = %s," % (name, "GP_ABSENT" if v is None else v))
        w("\t},")
        w("\t.fields = {")
        for name in decls["decls"]["field"]:
            v = t["fields"].get(name)
            w("\t\t[GP_F_%s] = %s," % (name, "{ GP_ABSENT, GP_ABSENT }" if v is None
                                        else "{ %d, %d }" % v))
        w("\t},")
        w("},")
    return "\n".join(out) + "\n"


def compare(a: dict, b: dict) -> list[str]:
    """Differences between two tables (same release)."""
    diffs = []
    for k in ("types", "fields"):
        for name in sorted(set(a[k]) | set(b[k])):
            if a[k].get(name) != b[k].get(name):
                diffs.append("%s %s: %s has %s, %s has %s" % (k[:-1], name, a["version"], a[k].get(name),
                                                           b["version"], b[k].get(name)))
    if a["nwaitreasons"] != b["nwaitreasons"]:
        diffs.append("waitReasonStrings: %s has %d, %s has %d" % (a["version"], a["nwaitreasons"],
                                                                 b["version"], b["nwaitreasons"]))
    return diffs


def collect(toolchains="all", log=print) -> tuple[list[dict], dict, list[str]]:
    """Tables from every available toolchain; (tables, decls, problems)."""
    cf = corefiles_generate()
    labels = list(cf.TOOLCHAINS) if toolchains == "all" else toolchains.split(",")
    tool = build_tool()
    decls = run_tool(tool, "decls")
    tables, problems = [], []
    for label in labels:
        try:
            tc = cf.probe(label)
        except cf.Unavailable as e:
            problems.append("toolchain %s unavailable: %s" % (label, e))
            continue
        for arch in ARCHES:
            exe = build_probe(tc, arch=arch)
            dwarf = run_tool(tool, "dwarf", exe)
            if dwarf["error"]:
                problems.append("%s %s: %s" % (tc.version, arch, dwarf["error"]))
                continue
            symbols = run_tool(tool, "symbols", exe)
            problems += range_problems(decls, dwarf, symbols)
            t = table_of(dwarf, symbols)
            log("%-10s %-5s nwaitreasons %d, sizeof(g) %s, sizeof(p) %s" % (
                tc.version, arch, t["nwaitreasons"], t["types"].get("G"), t["types"].get("P")))
            tables.append(t)
    tables.sort(key=lambda t: (t["machine"], t["gover"]))
    return tables, decls, problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--toolchains", default="all", help="all or labels like 1.19,1.26")
    ap.add_argument("--check", action="store_true", help="compare with the committed header only")
    ap.add_argument("--also", action="append", default=[], metavar="EXE",
                    help="a Go executable with DWARF whose layout must equal its release's table")
    ap.add_argument("--keep-going", action="store_true",
                    help="write the header even when a declaration disagrees with the DWARF "
                         "(reported, exit status 1); the engine uses only in-range entries")
    ap.add_argument("--output", default=OUT)
    args = ap.parse_args(argv)
    try:
        tables, decls, problems = collect(args.toolchains)
        by_gover = {(t["machine"], t["gover"]): t for t in tables}
        tool = build_tool()
        for exe in args.also:
            dwarf = run_tool(tool, "dwarf", exe)
            if dwarf["error"]:
                problems.append("%s: %s" % (exe, dwarf["error"]))
                continue
            t = table_of(dwarf, run_tool(tool, "symbols", exe))
            ref = by_gover.get((t["machine"], t["gover"]))
            if ref is None:
                problems.append("%s (%s): no table of that release to compare with" % (exe, t["version"]))
                continue
            diffs = compare(ref, t)
            problems += ["%s: %s" % (exe, d) for d in diffs]
            print("%s (%s) vs table %s: %s" % (exe, t["version"], ref["version"],
                                                "same" if not diffs else "%d differences" % len(diffs)))
    except GenError as e:
        print("gen_tables: %s" % e, file=sys.stderr)
        return 2
    for p in problems:
        print("gen_tables: %s" % p, file=sys.stderr)
    if problems and not args.keep_going:
        return 1
    text = emit(tables, decls)
    if args.check:
        with open(args.output) as f:
            same = f.read() == text
        print("gen_tables: %s is %s" % (args.output, "up to date" if same else "OUT OF DATE"))
        return 0 if same else 1
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.output)
    print("gen_tables: wrote %s (%s)" % (args.output, ", ".join(t["version"] for t in tables)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
