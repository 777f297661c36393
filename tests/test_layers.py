"""The layers of the engine: native/src is one folder per layer, one header
each, and every #include points down the order below (or stays in its own
folder). native/src/base/base.h describes the layers.

This reads the sources as text; it needs no build and no fixture.
"""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "native", "src")

# Bottom first: a layer may include its own files and the header of any
# layer before it, never one after it.
ORDER = ["base", "arch", "binary", "target", "runtime", "analysis"]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def violations(src, order=ORDER):
    """Every rule broken in the tree at src, one line each."""
    rank = {name: i for i, name in enumerate(order)}
    bad = []
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if not os.path.isdir(path):
            bad.append("%s: a file outside the layer folders" % entry)
        elif entry not in rank:
            bad.append("%s/: a folder that is not a layer (%s)"
                       % (entry, ", ".join(order)))
    for layer in order:
        top = os.path.join(src, layer)
        if not os.path.isdir(top):
            bad.append("%s/: missing" % layer)
            continue
        headers = sorted(f for f in os.listdir(top) if f.endswith(".h"))
        if headers != [layer + ".h"]:
            bad.append("%s/: one header, %s.h, expected; found %s"
                       % (layer, layer, ", ".join(headers) or "none"))
        for dirpath, _, files in os.walk(top):
            for f in sorted(files):
                if not f.endswith((".c", ".h", ".def")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, src)
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
                for inc in INCLUDE.findall(text):
                    if os.path.exists(os.path.join(dirpath, inc)):
                        # next to the file: its own layer's data
                        if not os.path.realpath(os.path.join(dirpath, inc)) \
                                .startswith(os.path.realpath(top) + os.sep):
                            bad.append("%s: #include \"%s\" leaves its layer"
                                       % (rel, inc))
                        continue
                    if inc == "goparked.h":
                        continue  # the public header, below everything
                    head = inc.split("/")[0]
                    if head not in rank:
                        bad.append("%s: #include \"%s\" is no layer's"
                                   % (rel, inc))
                    elif rank[head] > rank[layer]:
                        bad.append("%s: #include \"%s\" points up (%s is "
                                   "above %s)" % (rel, inc, head, layer))
                    elif head != layer and inc != "%s/%s.h" % (head, head):
                        bad.append("%s: #include \"%s\": another layer is "
                                   "reached through its header %s/%s.h"
                                   % (rel, inc, head, head))
    return bad


def test_layers():
    assert violations(SRC) == []


def _tree(tmp_path, files):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for layer in ORDER:
        (tmp_path / layer).mkdir(exist_ok=True)
        h = tmp_path / layer / (layer + ".h")
        if not h.exists():
            h.write_text("")
    return str(tmp_path)


@pytest.mark.parametrize("files, expect", [
    ({"runtime/snapshot.c": '#include "analysis/analysis.h"\n'},
     "runtime/snapshot.c: #include \"analysis/analysis.h\" points up"),
    ({"binary/exe.c": '#include "target/target.h"\n'},
     "binary/exe.c: #include \"target/target.h\" points up"),
    ({"runtime/x.c": '#include "target/memory.c"\n'},
     "through its header target/target.h"),
    ({"internal.h": ""}, "internal.h: a file outside the layer folders"),
    ({"target/live.h": ""}, "target/: one header, target.h, expected"),
    ({"runtime/x.c": '#include "nowhere.h"\n'}, "is no layer's"),
])
def test_the_check_can_fail(tmp_path, files, expect):
    """Each rule, broken on purpose in a small tree, is reported."""
    bad = violations(_tree(tmp_path, files))
    assert any(expect in b for b in bad), bad


def test_the_check_accepts_a_clean_tree(tmp_path):
    src = _tree(tmp_path, {
        "binary/fields.def": "",
        "binary/layout.c": '#include "binary/binary.h"\n#include "fields.def"\n',
        "analysis/chan.c": '#include "analysis/analysis.h"\n'
                           '#include "base/base.h"\n',
    })
    assert violations(src) == []


def readme_layout(text):
    """{layer: set of files and folders/} that README.rst's Development
    block (the one that starts "The engine's sources are layered") lists
    under each layer's line, and the layers in the order listed."""
    start = text.index("The engine's sources are layered")
    block = text[start:text.index("native/tests/", start)]
    listed, order, layer = {}, [], None
    for line in block.splitlines():
        m = re.match(r"^ {6}([a-z0-9_]+)/\s+(.*)$", line)
        if m:
            layer, rest = m.group(1), m.group(2)
            order.append(layer)
        elif layer and re.match(r"^ {20,}\S", line):
            rest = line
        else:
            layer = None
            continue
        names = listed.setdefault(layer, set())
        names.update(re.findall(r"\b([a-z0-9_]+\.(?:c|h|def))\b", rest))
        names.update(d + "/" for d in re.findall(r"\b([a-z0-9_]+)/", rest))
    return listed, order


def tree_layout(src, order=ORDER):
    """{layer: set of its files (.c, .h, .def) and folders/}."""
    present = {}
    for layer in order:
        top = os.path.join(src, layer)
        present[layer] = {f + "/" if os.path.isdir(os.path.join(top, f))
                          else f for f in os.listdir(top)
                          if os.path.isdir(os.path.join(top, f)) or
                          f.endswith((".c", ".h", ".def"))}
    return present


def layout_differences(text, src, order=ORDER):
    """Where README's layer listing and the tree differ, one line each."""
    listed, listed_order = readme_layout(text)
    bad = []
    if listed_order != list(reversed(order)):
        bad.append("README lists the layers %s; the order, top first, is "
                   "%s" % (listed_order, list(reversed(order))))
    present = tree_layout(src, order)
    for layer in order:
        got, have = listed.get(layer, set()), present[layer]
        for f in sorted(got - have):
            bad.append("README lists %s/%s, not in the tree" % (layer, f))
        for f in sorted(have - got):
            bad.append("%s/%s is in the tree, not in README's list of %s/"
                       % (layer, f, layer))
    return bad


def test_readme_describes_the_tree():
    """README.rst's Development section lists exactly the files and
    folders of each layer, each under its own layer, the layers in order."""
    with open(os.path.join(ROOT, "README.rst"), encoding="utf-8") as f:
        text = f.read()
    assert layout_differences(text, SRC) == []


README_BLOCK = """The engine's sources are layered::

    native/src/
      analysis/  analysis.h  chan.c (channels)
      runtime/   runtime.h   snapshot.c, plan.c (the
                             read plan)
      target/    target.h
      binary/    binary.h    tables/ (without DWARF)
      arch/      arch.h
      base/      base.h      util.c
    native/tests/   C unit tests
"""


def _layout_tree(tmp_path):
    return _tree(tmp_path, {"analysis/chan.c": "", "runtime/snapshot.c": "",
                            "runtime/plan.c": "", "binary/tables/x.h": "",
                            "base/util.c": ""})


def test_the_readme_check_accepts_a_matching_block(tmp_path):
    assert layout_differences(README_BLOCK, _layout_tree(tmp_path)) == []


@pytest.mark.parametrize("edit, expect", [
    (("plan.c (the", "(the"), "runtime/plan.c is in the tree, not in README"),
    (("chan.c (channels)", "chan.c (channels), waits.c"),
     "README lists analysis/waits.c, not in the tree"),
    # a file listed under another layer than its own
    (("util.c", "util.c, snapshot.c"), "README lists base/snapshot.c"),
    (("tables/ (without DWARF)", ""), "binary/tables/ is in the tree"),
    (("      target/    target.h\n      binary/    binary.h    tables/ "
      "(without DWARF)\n",
      "      binary/    binary.h    tables/ (without DWARF)\n"
      "      target/    target.h\n"), "README lists the layers"),
])
def test_the_readme_check_can_fail(tmp_path, edit, expect):
    text = README_BLOCK.replace(*edit)
    assert text != README_BLOCK
    bad = layout_differences(text, _layout_tree(tmp_path))
    assert any(expect in b for b in bad), bad


# What names one architecture: only arch/ may say it (everything else asks
# the exe's or the core's gp_arch). Comments may name them.
ARCH_LITERALS = re.compile(
    r"\b(EM_X86_64|EM_AARCH64|EM_386|EM_ARM|gp_arch_x86_64|gp_arch_arm64|"
    r"__x86_64__|__aarch64__|__i386__|__arm__)\b")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def arch_literals(src):
    """file: name, for every architecture named in code outside arch/."""
    bad = []
    for dirpath, _, files in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        if rel_dir.split(os.sep)[0] == "arch":
            continue
        for f in sorted(files):
            if not f.endswith((".c", ".h", ".def")):
                continue
            with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                code = COMMENT.sub(" ", fh.read())
            bad += ["%s: %s" % (os.path.join(rel_dir, f), m)
                    for m in ARCH_LITERALS.findall(code)]
    return bad


def test_architectures_are_named_only_in_arch():
    assert arch_literals(SRC) == []


def test_the_arch_check_can_fail(tmp_path):
    src = _tree(tmp_path, {
        "binary/tables.c": "/* EM_X86_64 in a comment is fine */\n"
                           "return newest_of(gp_arch_x86_64.machine);\n",
        "target/live.c": "#ifdef __x86_64__\n#endif\n",
        "arch/x86_64.c": "if (m == EM_X86_64) return 1;\n"})
    assert sorted(arch_literals(src)) == [
        "binary/tables.c: gp_arch_x86_64", "target/live.c: __x86_64__"]


# ------------------------------------------------------------- Python

PKG = os.path.join(ROOT, "goparked")


def python_imports(pkg):
    """{module: set of goparked modules it imports}, module names relative
    to the package ("cli", "report.collect")."""
    import ast
    out = {}
    for dirpath, _, files in os.walk(pkg):
        for f in files:
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), pkg)[:-3]
            mod = rel.replace(os.sep, ".")
            if mod.endswith("__init__"):
                mod = mod[:-len("__init__")].rstrip(".") or "__init__"
                here = mod.split(".") if mod != "__init__" else []
            else:
                here = mod.split(".")[:-1]
            with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                tree = ast.parse(fh.read())
            got = out.setdefault(mod, set())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = here[:len(here) - (node.level - 1)]
                    elif (node.module or "").split(".")[0] == "goparked":
                        base, node.module = [], node.module[len("goparked"):]
                    else:
                        continue
                    prefix = ".".join(base + [m for m in
                                              (node.module or "").strip(".")
                                              .split(".") if m])
                    if node.module:
                        got.add(prefix)
                    else:
                        got.update(".".join(filter(None, [prefix, a.name]))
                                   for a in node.names)
                elif isinstance(node, ast.Import):
                    got.update(a.name[len("goparked."):] for a in node.names
                               if a.name.startswith("goparked."))
    return out


def test_python_modules_keep_their_rooms():
    """Issue 11's Python: only the entry point imports the CLI (the
    debuggers' commands, the report and the compare commands do not);
    the live target knows nothing of the commands built on it (diff,
    check, watch in compare.py) nor of the report; render_snapshot is
    render's; the report is a package of collect, graph, html, markdown."""
    imports = python_imports(PKG)
    assert "cli" in imports and "debugger" in imports  # the parse works
    assert {m for m, deps in imports.items() if "cli" in deps} == \
        {"__main__"}
    assert not imports["live"] & {"cli", "compare", "report", "debugger"}
    assert "live" in imports["compare"]
    with open(os.path.join(PKG, "cli.py"), encoding="utf-8") as f:
        assert "def render_snapshot" not in f.read()
    with open(os.path.join(PKG, "render.py"), encoding="utf-8") as f:
        assert "def render_snapshot" in f.read()
    assert {"report.collect", "report.graph", "report.html",
            "report.markdown"} <= set(imports)


def test_the_import_parse_sees_each_form(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("from .cli import main\nimport os\n")
    (tmp_path / "b.py").write_text("from . import cli, text\n")
    (tmp_path / "c.py").write_text("import goparked.cli\n")
    (tmp_path / "sub" / "__init__.py").write_text("from .x import y\n")
    (tmp_path / "sub" / "d.py").write_text("from ..cli import main\n"
                                           "from goparked.live import f\n")
    got = python_imports(str(tmp_path))
    assert got["a"] == {"cli"} and got["b"] == {"cli", "text"}
    assert got["c"] == {"cli"} and got["sub"] == {"sub.x"}
    assert got["sub.d"] == {"cli", "live"}
