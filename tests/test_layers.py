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


def test_readme_describes_the_tree():
    """README.rst's Development section lists exactly the files of each
    layer (the block that starts "The engine's sources are layered")."""
    with open(os.path.join(ROOT, "README.rst"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("The engine's sources are layered")
    block = text[start:text.index("native/tests/", start)]
    listed = set(re.findall(r"\b([a-z0-9_]+\.(?:c|h|def))\b", block))
    listed.discard("goparked.h")
    present = set()
    for layer in ORDER:
        present.update(f for f in os.listdir(os.path.join(SRC, layer))
                       if f.endswith((".c", ".h", ".def")))
    assert listed == present, (
        "README lists but the tree lacks: %s; the tree has but README "
        "does not list: %s" % (sorted(listed - present),
                               sorted(present - listed)))
