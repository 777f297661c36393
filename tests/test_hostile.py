"""Hostile strings from the target: the hostile_labels fixture scenario.

Its goroutines carry pprof labels a terminal, a log reader or a browser
would act on (escape sequences, a newline forging a goroutine header, a
NUL, bytes outside UTF-8, HTML), a 100000-byte value and a 2 MiB one (over
the engine's 1 MiB read limit). The expectations are the fixture's own
account of the exact bytes (raw_labels) and, written out by hand here, the
way Go's strconv.Quote (%q) writes them; never goparked's output.

Every surface is held to the same facts: the Python API, the CLI's text
views, --json (the engine's streaming writer), --jsonl, the Python JSON of
one goroutine, the HTML and Markdown report, GDB and LLDB.
"""

import base64
import html.parser
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, goparked_env
from debugger_helpers import COMMANDS_MARK, gdb, lldb
from fixtures import NEWEST, OLDEST, core_for

SCENARIO = "hostile_labels"
READ_LIMIT = 1 << 20          # GP_MAX_STRING_LEN (goparked.h)
SHOWN = 1024                  # text.MAX_SHOWN: bytes shown before the length

LONG = bytes(b"0123456789"[i % 10] for i in range(100000))
HUGE = bytes(b"abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range((2 << 20) + 5))

# The labels the fixture sets (corefiles/fixture/scenarios.go), as bytes;
# checked against the account below so that the two cannot drift apart.
LABELS = {
    b"term": b"\x1b]0;pwned\x07\x1b[2J\x1b[31mRED",
    b"forge": b"x\nfake: goroutine 1 [running]:\nmain.fake()",
    b"nul": b"before\x00after",
    b"bytes": b"\xff\xfeok\xc3(",
    b"c1": "next\u0085line\u202eRTL".encode(),
    b"html": b"<script>alert(\"x\")</script>'\"><img src=x onerror=alert(1)>",
    b"long": LONG,
    b"huge": HUGE,
    b"\x1b[7mkey\r": b"v",
}

# How a text view shows each label, by Go's strconv.Quote rules (written
# by hand: \a for BEL, \xXX for other control bytes and for each byte
# outside UTF-8, \uXXXX for what unicode.IsPrint rejects), bare when it is
# only [A-Za-z0-9./_], cut after SHOWN bytes with the length after it.
SHOWN_TEXT = [
    r'term="\x1b]0;pwned\a\x1b[2J\x1b[31mRED"',
    r'forge="x\nfake: goroutine 1 [running]:\nmain.fake()"',
    r'nul="before\x00after"',
    r'bytes="\xff\xfeok\xc3("',
    r'c1="next\u0085line\u202eRTL"',
    r'''html="<script>alert(\"x\")</script>'\"><img src=x onerror=alert(1)>"''',
    "long=" + LONG[:SHOWN].decode() + "...(100000 bytes)",
    "huge=" + HUGE[:SHOWN].decode() + "...(2097157 bytes)",
    r'"\x1b[7mkey\r"=v',
]

TOOLCHAINS = sorted({NEWEST, OLDEST})


def _fc(toolchain):
    return core_for(toolchain, "dwarf", SCENARIO)


def _group(fc):
    groups = fc.groups(SCENARIO)
    assert len(groups) == 1
    return groups[0]


def _goids(fc):
    return _group(fc)["goids"]


def _run(args):
    """goparked ARGS: (returncode, stdout bytes, stderr bytes)."""
    r = subprocess.run([sys.executable, "-m", "goparked"] + [str(a) for a in args],
                       cwd=str(ROOT), env=goparked_env(None),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    return r.returncode, r.stdout, r.stderr


# Bytes a terminal acts on: C0 controls but newline and tab, DEL; in UTF-8
# the C1 controls (U+0080..U+009F) and the bidirectional overrides.
_RAW = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|"
                  rb"\xe2\x81[\xa6-\xa9]")


def assert_safe_text(data, where):
    """No byte a terminal would act on, valid UTF-8, no forged line."""
    m = _RAW.search(data)
    assert m is None, "%s: raw %r at %d: %r" % (where, m.group(0), m.start(),
                                                 data[max(0, m.start() - 40):m.start() + 40])
    text = data.decode("utf-8")  # strict: a byte outside UTF-8 fails here
    forged = [ln for ln in text.splitlines() if ln.startswith(("fake:", "main.fake()"))]
    assert not forged, "%s: forged lines %r" % (where, forged)
    return text


def assert_all_labels_shown(text, where):
    for want in SHOWN_TEXT:
        assert want in text, "%s: label not shown as %r" % (where, want[:80])


def assert_exact_labels(labels, truncated, where):
    """The engine's labels (the model's dict, bytes outside UTF-8 held as
    "surrogateescape") are the fixture's, every byte; a value over the read
    limit is its first bytes, its real length in truncated."""
    got = {k.encode("utf-8", "surrogateescape"): v.encode("utf-8", "surrogateescape")
           for k, v in labels.items()}
    assert set(got) == set(LABELS), where
    for k, v in LABELS.items():
        assert got[k] == v[:READ_LIMIT], (where, k)
    assert truncated == {"huge": len(HUGE)}, where


def assert_strict_json(doc, where):
    """Every string of a parsed document is Unicode text (no lone
    surrogate), so that any JSON reader takes it."""
    json.dumps(doc, ensure_ascii=False).encode("utf-8")


def assert_json_labels(g, where):
    """A JSON goroutine: labels as text (each run of bytes outside UTF-8 as
    U+FFFD), their exact bytes in labels_b64 (README.rst, JSON)."""
    assert_strict_json(g, where)
    exact = {base64.b64decode(k): base64.b64decode(v) for k, v in g["labels_b64"]}
    assert len(exact) == len(g["labels_b64"]) == len(LABELS), where
    assert_exact_labels({k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
                         for k, v in exact.items()}, g["labels_truncated"], where)
    # the text fields, written by hand: \xff \xfe \xc3 are three runs
    assert g["labels"]["bytes"] == "\ufffd\ufffdok\ufffd(", where
    assert g["labels"]["nul"] == "before\x00after", where
    assert g["labels"]["term"] == LABELS[b"term"].decode(), where
    assert g["labels"]["\x1b[7mkey\r"] == "v", where
    assert len(g["labels"]["huge"]) == READ_LIMIT, where
    assert "labels_truncated_b64" not in g, where  # its keys are UTF-8


# ------------------------------------------------------------ the facts


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_account_holds_the_labels_written_here(toolchain):
    g = _group(_fc(toolchain))
    raw = {base64.b64decode(k): base64.b64decode(v) for k, v in g["raw_labels"]}
    assert raw == LABELS
    assert len(g["goids"]) >= 1


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_engine_keeps_every_byte(toolchain):
    from goparked.model import open_core
    fc = _fc(toolchain)
    with open_core(fc.core, fc.exe) as prog:
        snap = prog.snapshot()
        for goid in _goids(fc):
            labels = snap.goroutine(goid).labels
            truncated = {k: v.full_len for k, v in labels.items()
                         if getattr(v, "full_len", None) is not None}
            assert_exact_labels(labels, truncated, "goroutine %d" % goid)
        # --label KEY=VALUE compares every byte, a NUL too
        from goparked.model import Filter
        flt = Filter(label=("html", LABELS[b"html"].decode()))
        got = {i for grp in snap.group("site", flt) for i in grp.goids()}
        assert got == set(_goids(fc))
        flt = Filter(label=("nul", "before"))  # a prefix is not the value
        assert not [grp for grp in snap.group("site", flt)]
        flt = Filter(label=("nul", LABELS[b"nul"].decode()))
        got = {i for grp in snap.group("site", flt) for i in grp.goids()}
        assert got == set(_goids(fc))
        flt = Filter(label=("nul", "before\x00afte"))
        assert not [grp for grp in snap.group("site", flt)]
        flt = Filter(label=("bytes", LABELS[b"bytes"].decode("utf-8", "surrogateescape")))
        got = {i for grp in snap.group("site", flt) for i in grp.goids()}
        assert got == set(_goids(fc))


# ------------------------------------------------------------ text


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("view", [[], ["--by", "label"], ["--detail"], ["--leaks"],
                                  ["--by", "label", "--verdict"], ["--threads"],
                                  ["--by", "label", "--label", "v=x"], ["--by", "label", "--label", "c1=nextline"], ["--goroutine"]])
def test_cli_text_is_escaped(toolchain, view):
    fc = _fc(toolchain)
    if view == ["--goroutine"]:
        view = ["--goroutine", _goids(fc)[0]]
    rc, out, err = _run([fc.core, "--exe", fc.exe] + view)
    assert rc == 0, err
    text = assert_safe_text(out, "stdout")
    assert_safe_text(err, "stderr")
    if "--label" in view:
        assert "no goroutines match" in text  # no such label, no such value
    elif "--goroutine" in view or view[:2] == ["--by", "label"]:
        assert_all_labels_shown(text, " ".join(map(str, view)))


# What to type to ask for each label with --label: Go escapes, written by
# hand from the bytes of LABELS (in both forms the views print: bare with
# escapes, and a whole Go quoted string).
LABEL_ARGS = [
    r"nul=before\x00after",
    r'nul="before\x00after"',
    r"nul=before\000after",
    r"term=\x1b]0;pwned\a\x1b[2J\x1b[31mRED",
    r'forge="x\nfake: goroutine 1 [running]:\nmain.fake()"',
    r"bytes=\xff\xfeok\xc3(",
    r"c1=next\u0085line\u202eRTL",
    r"c1=next\xc2\x85line\U0000202eRTL",
    r'"\x1b[7mkey\r"=v',
    r"\x1b[7mkey\r=v",
    r'html=<script>alert("x")</script>\'"><img src=x onerror=alert(1)>',
    r'html="<script>alert(\"x\")</script>\'\"><img src=x onerror=alert(1)>"',
]
# ... and what is not the label: a byte short, a byte more, the escape
# left as text.
LABEL_ARGS_NO = [r"nul=before\x00afte", r"nul=before\x00after\x00",
                 r"nul=before\\x00after", r"term=\x1b]0;pwned",
                 r"bytes=\xff\xfeok\xc3(\x00", r"c1=next\u0085line"]


def _listed_goids(out):
    """The goroutine ids the text view lists (--ids large enough)."""
    got = set()
    for line in out.decode().splitlines():
        if line.startswith(" " * 9 + "goroutine "):
            got |= {int(x) for x in line.split()[1:] if x.isdigit()}
    return got


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_label_filter_takes_go_escapes(toolchain):
    """--label with Go's escapes finds a label whose bytes a shell argument
    cannot carry (a NUL, bytes outside UTF-8, controls): exactly the
    fixture's hostile goroutines (its account), and none for a value that
    differs by one byte."""
    fc = _fc(toolchain)
    want = set(_goids(fc))
    for arg in LABEL_ARGS + LABEL_ARGS_NO:
        rc, out, err = _run([fc.core, "--exe", fc.exe, "--ids", "100000",
                             "--label", arg])
        assert rc == 0, (arg, err)
        assert_safe_text(out, arg)
        got = _listed_goids(out)
        if arg in LABEL_ARGS:
            assert got == want, arg
        else:
            assert got == set() and b"no goroutines match" in out, arg


@pytest.mark.parametrize("arg", [r"nul=before\x0", r"nul=\q", r"nul=\ud800",
                                 r"nul=\400", r'"nul=v', r'"nul"v', r"=v",
                                 "nul", "nul=a\\"])
def test_label_filter_bad_escape_is_one_line(arg):
    fc = _fc(NEWEST)
    rc, out, err = _run([fc.core, "--exe", fc.exe, "--label", arg])
    assert rc == 2 and out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("goparked: error: ") \
        and "--label" in lines[0], err


# ------------------------------------------------------------ JSON


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_json_streaming_writer_keeps_the_bytes(toolchain):
    fc = _fc(toolchain)
    rc, out, err = _run([fc.core, "--exe", fc.exe, "--json"])
    assert rc == 0, err
    assert max(out) < 0x80  # ASCII only: everything else is escaped
    doc = json.loads(out)
    by_goid = {g["goid"]: g for g in doc["goroutines"]}
    for goid in _goids(fc):
        assert_json_labels(by_goid[goid], "--json %d" % goid)
    # goroutines without labels say so, with no truncation either
    main = by_goid[fc.load_account()["main_goid"]]
    assert main["labels"] == {} and main["labels_truncated"] == {}
    assert "labels_b64" not in main


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_jsonl_keeps_the_bytes(toolchain):
    fc = _fc(toolchain)
    rc, out, err = _run([fc.core, "--exe", fc.exe, "--jsonl", "--detail"])
    assert rc == 0, err
    assert max(out) < 0x80
    seen = set()
    for line in out.splitlines():
        rec = json.loads(line)
        if rec.get("goid") in _goids(fc) and "labels" in rec:
            assert_json_labels(rec, "--jsonl %d" % rec["goid"])
            seen.add(rec["goid"])
    assert seen == set(_goids(fc))


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_python_json_of_one_goroutine_keeps_the_bytes(toolchain):
    fc = _fc(toolchain)
    goid = _goids(fc)[0]
    rc, out, err = _run([fc.core, "--exe", fc.exe, "--goroutine", goid, "--json"])
    assert rc == 0, err
    assert max(out) < 0x80
    g = json.loads(out)["goroutine"]
    assert_json_labels(g, "-g --json")


# ------------------------------------------------------------ the report


def _report(toolchain, out, by="label"):
    """The report by label (its groups' titles are labels) or by site (its
    group detail lists labels), as text checked to hold no raw control
    byte; its format from the name of out."""
    fc = _fc(toolchain)
    rc, so, err = _run(["report", fc.core, "--exe", fc.exe, "--by", by, "-o", out])
    assert rc == 0, err
    assert_safe_text(err, "stderr")
    return assert_safe_text(out.read_bytes(), out.name)


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.scripts, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


@pytest.mark.parametrize("toolchain", [NEWEST])
@pytest.mark.parametrize("by", ["label", "site"])
def test_html_report_stays_escaped(toolchain, by, tmp_path):
    page = _report(toolchain, tmp_path / "r.html", by)
    assert "<script>alert" not in page and "<img" not in page
    p = _Tags()
    p.feed(page)
    # no element or attribute came from a label: one script (the page's own)
    assert [t for t, _ in p.tags if t in ("img", "script")] == ["script"]
    assert not any(k in ("onerror", "src") or "alert(" in (v or "")
                   for _, a in p.tags for k, v in a.items())
    assert not any("alert(" in s for s in p.scripts)
    # the labels are there, escaped for the page as written for a terminal
    for want in SHOWN_TEXT:
        escaped = want.replace("&", "&amp;").replace("<", "&lt;").replace(
            ">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")
        assert escaped in page, want[:80]


@pytest.mark.parametrize("toolchain", [NEWEST])
@pytest.mark.parametrize("by", ["label", "site"])
def test_markdown_report_stays_escaped(toolchain, by, tmp_path):
    md = _report(toolchain, tmp_path / "r.md", by)
    # no raw HTML: outside code spans and fenced blocks (where Markdown
    # reads no HTML) every < is escaped (CommonMark's backslash escape)
    fences = re.findall(r"^(`{3,})$\n.*?^\1$", md, re.M | re.S)
    assert fences
    prose = re.sub(r"^(`{3,})$\n.*?^\1$", "", md, flags=re.M | re.S)
    spans = re.findall(r"(`+)(.+?)\1", prose)
    prose = re.sub(r"(`+)(.+?)\1", "", prose)
    assert not re.search(r"(?<!\\)[<>]", prose)
    # the group's labels: in a code span of the table (and of the stacks)
    # by label; in the group detail's "Labels:" by site
    if by == "site":
        lines = [ln for ln in md.splitlines() if ln.startswith("Labels: ")]
        assert len(lines) == 1, lines
        spans = re.findall(r"(`+)(.+?)\1", lines[0])
        assert len(spans) == 1 and lines[0].endswith(
            " (%d goroutines)" % len(_goids(_fc(toolchain))))
    titles = [body for _, body in spans if "=" in body]
    assert titles
    for title in titles:
        assert_all_labels_shown(title.strip().replace("\\|", "|"), "md title")


# ------------------------------------------------------------ debuggers


def _debugger_text(r):
    out = r.stdout.encode("utf-8", "surrogateescape")
    err = r.stderr.encode("utf-8", "surrogateescape")
    if COMMANDS_MARK.encode() in err:
        err = err.split(COMMANDS_MARK.encode(), 1)[1]
    return out, err


@pytest.mark.gdb
def test_gdb_shows_labels_escaped():
    fc = _fc(NEWEST)
    goid = _goids(fc)[0]
    r = gdb([fc.exe, fc.core], ["go goroutine %d --no-select" % goid,
                                "go goroutines --by label"])
    assert r.returncode == 0, r.stderr
    out, err = _debugger_text(r)
    # what GDB itself prints before the commands (the core's frame) is ours
    text = assert_safe_text(out, "gdb stdout")
    assert_safe_text(err, "gdb stderr")
    assert_all_labels_shown(text, "gdb")
    assert text.count(SHOWN_TEXT[0]) == 2  # the goroutine and its group


@pytest.mark.lldb
def test_lldb_shows_labels_escaped():
    fc = _fc(NEWEST)
    goid = _goids(fc)[0]
    r = lldb([fc.exe, "-c", fc.core], ["go goroutine %d" % goid,
                                           "go goroutines --by label"],
             keep_going=True)
    assert r.returncode == 0, r.stderr
    out, err = _debugger_text(r)
    text = assert_safe_text(out, "lldb stdout")
    assert_safe_text(err, "lldb stderr")
    assert_all_labels_shown(text, "lldb")
    assert text.count(SHOWN_TEXT[0]) == 2


# ------------------------------------------------ names of a crafted binary

# A function name and a file name of the executable's pclntab, overwritten
# in place with the same number of bytes: what a crafted binary can make the
# engine read as a frame's function and file.
CRAFTED_FUNC = (b"main.hostileWait", b"m\x1b]0;x\x07\nfake:\xff\x85W")
CRAFTED_FILE = (b"scenarios.go", b"s\x1b[2J\n\xff\xc3(.go")
CRAFTED_FUNC_SHOWN = r"m\x1b]0;x\a\nfake:\xff\x85W"
CRAFTED_FILE_SHOWN = r"s\x1b[2J\n\xff\xc3(.go"


def _crafted_exe(fc, tmp_path):
    data = bytearray(open(fc.exe, "rb").read())
    out = subprocess.check_output(["readelf", "-SW", fc.exe]).decode()
    m = re.search(r"\.gopclntab\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)", out)
    lo, hi = int(m.group(1), 16), int(m.group(1), 16) + int(m.group(2), 16)
    for old, new in (CRAFTED_FUNC, CRAFTED_FILE):
        assert len(old) == len(new)
        i = data.find(old + b"\0", lo, hi)   # names end with a NUL there
        assert i >= 0 and data.find(old + b"\0", i + 1, hi) < 0, old
        data[i:i + len(old)] = new
    path = tmp_path / "crafted"
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("toolchain", [NEWEST])
def test_crafted_function_and_file_names(toolchain, tmp_path):
    fc = _fc(toolchain)
    exe = _crafted_exe(fc, tmp_path)
    goid = _goids(fc)[0]
    for view in ([], ["--by", "stack"], ["--goroutine", goid], ["--leaks"]):
        rc, out, err = _run([fc.core, "--exe", exe] + view)
        assert rc == 0, err
        text = assert_safe_text(out, "stdout %s" % view)
        assert_safe_text(err, "stderr %s" % view)
        assert CRAFTED_FUNC_SHOWN in text, view
        if view[:1] == ["--goroutine"]:
            assert CRAFTED_FILE_SHOWN in text
    # JSON: the exact bytes (the engine's writer and Python's)
    rc, out, err = _run([fc.core, "--exe", exe, "--json"])
    assert rc == 0, err
    doc = json.loads(out)
    assert_strict_json(doc, "--json")
    frames = [f for fs in doc["stacks"].values() for f in fs]
    funcs = {base64.b64decode(f["func_b64"]) for f in frames if "func_b64" in f}
    files = {base64.b64decode(f["file_b64"]) for f in frames if "file_b64" in f}
    assert funcs == {CRAFTED_FUNC[1]}
    assert files and all(f.endswith(b"/" + CRAFTED_FILE[1]) for f in files)
    # the text: U+FFFD for \xff and for \x85, the rest as it is
    assert "m\x1b]0;x\x07\nfake:\ufffd\ufffdW" in {f["func"] for f in frames}
    rc, out, err = _run([fc.core, "--exe", exe, "--goroutine", goid, "--json"])
    assert rc == 0, err
    g = json.loads(out)["goroutine"]
    assert_strict_json(g, "-g --json")
    assert CRAFTED_FUNC[1] in [base64.b64decode(f["func_b64"]) for f in g["frames"]
                               if "func_b64" in f]
    # the report: Markdown's stacks are fenced, the page escaped
    for name in ("r.md", "r.html"):
        rc, so, err = _run(["report", fc.core, "--exe", exe, "-o", tmp_path / name])
        assert rc == 0, err
        page = assert_safe_text((tmp_path / name).read_bytes(), name)
        assert CRAFTED_FUNC_SHOWN in page, name


@pytest.mark.gdb
def test_gdb_crafted_names(tmp_path):
    fc = _fc(NEWEST)
    exe = _crafted_exe(fc, tmp_path)
    r = gdb([exe, fc.core], ["go goroutine %d --no-select" % _goids(fc)[0],
                             "go goroutines --by stack"])
    assert r.returncode == 0, r.stderr
    out, err = _debugger_text(r)
    text = assert_safe_text(out, "gdb stdout")
    assert_safe_text(err, "gdb stderr")
    assert text.count(CRAFTED_FUNC_SHOWN) == 2 and CRAFTED_FILE_SHOWN in text


@pytest.mark.lldb
def test_lldb_crafted_names(tmp_path):
    fc = _fc(NEWEST)
    exe = _crafted_exe(fc, tmp_path)
    r = lldb([exe, "-c", fc.core], ["go goroutine %d" % _goids(fc)[0],
                                    "go goroutines --by stack"], keep_going=True)
    assert r.returncode == 0, r.stderr
    out, err = _debugger_text(r)
    text = assert_safe_text(out, "lldb stdout")
    assert_safe_text(err, "lldb stderr")
    assert text.count(CRAFTED_FUNC_SHOWN) == 2 and CRAFTED_FILE_SHOWN in text


def _proto_strings(data):
    """The string_table (field 6) of a profile.proto message, by hand:
    varint keys, length-delimited fields, nothing else decoded."""
    def varint(i):
        v = shift = 0
        while True:
            b = data[i]
            v |= (b & 0x7f) << shift
            i += 1
            shift += 7
            if not b & 0x80:
                return v, i
    out, i = [], 0
    while i < len(data):
        key, i = varint(i)
        wire = key & 7
        if wire == 0:
            _, i = varint(i)
        elif wire == 2:
            n, i = varint(i)
            if key >> 3 == 6:
                out.append(data[i:i + n])
            i += n
        else:
            raise AssertionError("wire type %d" % wire)
    return out


@pytest.mark.parametrize("toolchain", [NEWEST])
def test_pprof_keeps_the_bytes(toolchain, tmp_path):
    import gzip
    fc = _fc(toolchain)
    out = tmp_path / "p.pb.gz"
    rc, so, err = _run([fc.core, "--exe", fc.exe, "--pprof", out])
    assert rc == 0, err
    strings = set(_proto_strings(gzip.decompress(out.read_bytes())))
    for k, v in LABELS.items():
        assert k in strings, k
        assert v[:READ_LIMIT] in strings, k


@pytest.mark.parametrize("toolchain", [NEWEST])
def test_jsonl_reads_in_duckdb(toolchain, tmp_path):
    """README's DuckDB query over --jsonl files works on a hostile core:
    the labels are text, their bytes in labels_b64."""
    duckdb = pytest.importorskip("duckdb")
    fc = _fc(toolchain)
    rc, out, err = _run([fc.core, "--exe", fc.exe, "--jsonl", "--detail"])
    assert rc == 0, err
    path = tmp_path / "h.jsonl"
    path.write_bytes(out)
    rows = duckdb.sql("SELECT goid, labels_b64 FROM read_json_auto('%s', union_by_name = true) "
                      "WHERE record = 'goroutine' AND labels_b64 IS NOT NULL" % path).fetchall()
    assert sorted(r[0] for r in rows) == sorted(_goids(fc))
    for _, pairs in rows:
        got = {base64.b64decode(k): base64.b64decode(v) for k, v in pairs}
        assert got == {k: v[:READ_LIMIT] for k, v in LABELS.items()}
