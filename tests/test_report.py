"""goparked report: the HTML page as a browser renders it, the Markdown,
and progress on a terminal.

The page is opened in headless Chromium (scripts/setup-deps installs
Debian's chromium): once for a screenshot, whose pixels must show the bar
chart, the age histogram and the wait-for graph with its cycles drawn in
red; once with --dump-dom, whose numbers are checked against the
runtime's own dump and the fixture's account of what it parked
(tests/expect.py); only what has no independent fact (the evidence-based
"nobody can wake" list, the clock) against `--json` of the same core. Set GOPARKED_SCREENSHOT_DIR
to keep the screenshots.
"""

import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from html.parser import HTMLParser

import pytest

import expect
import oracle
from conftest import ROOT, goparked_env
from fixtures import NEWEST, OLDEST, core_for, in_ci

pytestmark = pytest.mark.cli


# ------------------------------------------------------------ the browser

def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if in_ci():
        pytest.fail("CI=true and no chromium (scripts/setup-deps installs it)")
    pytest.skip("no chromium (scripts/setup-deps installs it)")


def browse(page, *what):
    """Run headless Chromium on a local file; returns its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + profile, "--window-size=1280,2000",
             "--hide-scrollbars"] + list(what) + ["file://" + str(page)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r.stdout.decode("utf-8", "replace")


# Appended to a copy of the page (never to the report itself): writes
# where things were laid out into the DOM, for --dump-dom to carry out.
MEASURE = """<script>(function(){
function box(e){var b=e.getBoundingClientRect();
return [b.left,b.top,b.width,b.height];}
function one(s){var e=document.querySelector(s);return e?box(e):null;}
function all(s){return [].map.call(document.querySelectorAll(s),box);}
var out={bars:one('#chart-groups'),ages:one('#chart-ages'),
graph:one('.wf-grid'),svgs:all('.wf-comp svg'),
barRects:all('#chart-groups .bar rect'),nodes:all('.wf-comp g.node')};
var p=document.createElement('pre');p.id='measured';
p.textContent=JSON.stringify(out);document.body.appendChild(p);})();
</script>"""


def read_png(path):
    """(width, height, rows of RGB tuples' bytes) of an 8-bit PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB",
                                                                body)
            assert depth == 8 and ctype in (2, 6) and not interlace
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def count_color(png, box, rgb, tol=40):
    """Pixels near rgb inside box (left, top, width, height), clipped."""
    w, h, bpp, rows = png
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(box[0] + box[2])), min(h, int(box[1] + box[3]))
    n = 0
    for y in range(y0, y1):
        row = rows[y]
        for x in range(x0, x1):
            p = row[x * bpp:x * bpp + 3]
            if abs(p[0] - rgb[0]) + abs(p[1] - rgb[1]) + \
                    abs(p[2] - rgb[2]) <= tol:
                n += 1
    return n


# ------------------------------------------------------------ a tiny DOM

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}


class El:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []

    @property
    def text(self):
        return "".join(c if isinstance(c, str) else c.text
                       for c in self.children)

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, El):
                yield from c.iter()

    def find_all(self, pred):
        return [e for e in self.iter() if pred(e)]

    def find(self, pred):
        r = self.find_all(pred)
        return r[0] if r else None


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = El("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        el = El(tag, attrs, self.cur)
        self.cur.children.append(el)
        if tag not in VOID:
            self.cur = el

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(El(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        el = self.cur
        while el is not None and el.tag != tag:
            el = el.parent
        if el is not None and el.parent is not None:
            self.cur = el.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def dom(text):
    b = _Builder()
    b.feed(text)
    b.close()
    return b.root


def stat(root, name):
    el = root.find(lambda e: e.attrs.get("data-stat") == name)
    assert el is not None, name
    return el.text.strip()


def ints(text):
    return [int(x) for x in re.findall(r"\d+", text)]


def canon(goids):
    goids = list(goids)
    i = goids.index(min(goids))
    return tuple(goids[i:] + goids[:i])


# ------------------------------------------------------------ the reports

def run(args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "goparked"] +
                          [str(a) for a in args], cwd=str(ROOT),
                          env=goparked_env(env), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout)


def json_of(fc, *extra):
    r = run([fc.core, "--exe", fc.exe, "--json"] + list(extra))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """report(toolchain, variant, fmt, layout) -> path, made once."""
    cache = {}

    def get(toolchain=NEWEST, variant="dwarf", fmt="html", layout="auto"):
        key = (toolchain, variant, fmt, layout)
        if key not in cache:
            fc = core_for(toolchain, variant, "all")
            d = tmp_path_factory.mktemp("report")
            out = d / ("report." + fmt)
            if layout == "dot" and not shutil.which("dot"):
                if in_ci():
                    pytest.fail("CI=true and no dot (graphviz; setup-deps)")
                pytest.skip("no dot (graphviz)")
            r = run(["report", fc.core, "--exe", fc.exe, "-o", out,
                     "--format", fmt], env={"GOPARKED_GRAPH_LAYOUT": layout})
            assert r.returncode == 0, r.stderr
            assert r.stdout == "" and r.stderr == ""
            cache[key] = (fc, out)
        return cache[key]
    return get


def test_self_contained(made):
    """Nothing to fetch: no external script, style, font or image."""
    for layout in ("dot", "builtin"):
        _, out = made(layout=layout)
        text = out.read_text()
        assert text.startswith("<!DOCTYPE html>")
        root = dom(text)
        for el in root.iter():
            for k in ("src", "href", "xlink:href", "action", "srcset"):
                v = el.attrs.get(k)
                if v is not None:
                    assert v.startswith("#"), (el.tag, k, v)
        assert "<link" not in text and "@import" not in text
        assert not re.search(r"url\(\s*['\"]?(https?:|//)", text)
        assert root.find(lambda e: e.tag == "style") is not None


@pytest.mark.parametrize("layout", ["dot", "builtin"])
def test_rendered_page(made, tmp_path, layout):
    """The page as Chromium draws it: charts and graph are there (pixels),
    and every number on it agrees with --json and the fixture."""
    fc, out = made(layout=layout)
    acc = fc.load_account()
    js = json_of(fc)
    dl = json_of(fc, "--deadlocks")

    shot = tmp_path / ("report-%s.png" % layout)
    browse(out, "--screenshot=%s" % shot)
    keep = os.environ.get("GOPARKED_SCREENSHOT_DIR")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(shot, os.path.join(keep, shot.name))
    probe = tmp_path / "probe.html"
    probe.write_text(out.read_text().replace("</body>", MEASURE + "</body>"))
    root = dom(browse(probe, "--dump-dom"))
    m = json.loads(root.find(lambda e: e.attrs.get("id") == "measured").text)

    # ---- drawn: sizes from the layout, colors from the screenshot
    png = read_png(str(shot))
    assert png[0] == 1280 and png[1] == 2000
    for name in ("bars", "ages", "graph"):
        assert m[name] and m[name][2] > 100 and m[name][3] > 50, (name, m)
    assert m["graph"][1] < 2000, "the graph starts on the first screen"
    assert m["svgs"] and all(b[2] > 20 and b[3] > 10 for b in m["svgs"])
    assert len(m["nodes"]) >= 10
    # bar lengths are proportional to the counts
    counts = sorted((len(p) for p in expect.site_partition(fc)),
                    reverse=True)[:len(m["barRects"])]
    ratios = {round(r[2] / c, 1) for r, c in zip(m["barRects"], counts)
              if r[2] > 2}
    assert len(ratios) == 1, ratios
    blue = (0x4c, 0x7f, 0xd9)  # channel bars, the histogram's bars
    assert count_color(png, m["bars"], blue) > 2000
    assert count_color(png, m["ages"], blue) > 2000
    red = (0xd1, 0x34, 0x3e)   # cycle edges and borders in the graph
    assert count_color(png, m["graph"], red, tol=60) > 300
    fill = (0xfd, 0xe8, 0xe9)  # cycle nodes' fill
    assert count_color(png, m["graph"], fill, tol=12) > 2000

    # ---- summary against the runtime's dump and the account
    dumped = expect.states(fc)
    users = expect.user_goids(fc)
    sites = expect.site_partition(fc)
    assert int(stat(root, "goroutines")) == sum(dumped.values())
    assert int(stat(root, "waiting")) == dumped["waiting"]
    chips = {e.attrs["data-state"]: ints(e.text)[0] for e in root.find_all(
        lambda e: "data-state" in e.attrs)}
    assert chips == dict(dumped)
    assert ints(stat(root, "system"))[0] == sum(dumped.values()) - len(users)
    assert int(stat(root, "grouped")) == len(users) == acc["num_goroutines"]
    assert int(stat(root, "ngroups")) == len(sites)
    taken = root.find(lambda e: e.attrs.get("data-stat") == "taken")
    assert int(taken.attrs["data-unix-ns"]) == \
        js["clock"]["now_ns"] + js["clock"]["unix_offset_ns"]
    assert stat(root, "layout") == layout

    # ---- groups: counts and ids are the account's groups, biggest first;
    # each one's site and stack are the runtime's for its goroutines
    det = root.find_all(lambda e: e.tag == "details" and
                        "group" in e.classes)
    assert len(det) == len(sites)
    dump = fc.parsed_dump()
    user_stacks = oracle.parse_file(fc.stacks, crash=False).goroutines
    funcs = {g["goids"][0]: g["wait_func"] for g in acc["groups"]}
    funcs[acc["main_goid"]] = acc["main_wait_func"]
    shown = set()
    for el in det:
        summ = el.find(lambda e: e.tag == "summary")
        cnt = summ.find(lambda e: "count" in e.classes).text
        ids = ints(el.find(lambda e: "ids" in e.classes).text)
        assert int(cnt) == len(ids) == int(el.attrs["data-count"])
        assert frozenset(ids) in sites
        shown.add(frozenset(ids))
        site = summ.find(lambda e: "site" in e.classes).text
        func = next(funcs[i] for i in ids if i in funcs)
        line = next(f.line for f in dump.stack_of(ids[0]).frames
                    if f.func == func)
        assert site.startswith(func + " ") and site.endswith(":%d" % line)
        frames = el.find(lambda e: e.tag == "table").find_all(
            lambda e: e.tag == "tr")
        if fc.state_at_core(ids[0]) == "waiting" and ids[0] != 1:
            # as the runtime's non-crash traceback (the fixture's
            # stacks.txt) shows it, not the crash dump
            assert len(frames) == len(user_stacks[ids[0]].frames)
            assert len(frames) < len(dump.stack_of(ids[0]).frames)
    assert shown == sites
    counts = [int(el.attrs["data-count"]) for el in det]
    assert counts == sorted(counts, reverse=True)
    # ---- every group the fixture made is one group on the page
    by_goid = {}
    for el in det:
        reason = el.find(lambda e: "reason" in e.classes).text
        for goid in ints(el.find(lambda e: "ids" in e.classes).text):
            by_goid[goid] = (el.attrs["id"], reason)
    for g in acc["groups"]:
        places = {by_goid[goid] for goid in g["goids"]}
        assert len(places) == 1, (g["group"], places)
        if g["state"] == "waiting":
            assert places.pop()[1] == g["wait_reason"], g["group"]

    # ---- charts: the biggest groups; the ages of the account's parked
    # goroutines (all stamped by its GCs, a moment before the core) are
    # known, the rest (main, parked after the GCs, the spinner) unknown
    bars = root.find_all(lambda e: "bar" in e.classes)
    sizes = sorted((len(p) for p in sites), reverse=True)
    assert bars and [int(b.attrs["data-count"]) for b in bars] == \
        sizes[:len(bars)]
    assert [int(b.find(lambda e: "v" in e.classes).text) for b in bars] == \
        [int(b.attrs["data-count"]) for b in bars]
    buckets = {b.attrs["data-label"]: int(b.attrs["data-count"])
               for b in root.find_all(lambda e: "age-bucket" in e.classes)}
    parked = sum(len(g["goids"]) for g in acc["groups"]
                 if g["state"] == "waiting")
    assert sum(buckets.values()) == len(users)
    assert buckets.get("age unknown", 0) == len(users) - parked

    # ---- cycles: the page, --deadlocks --json and the fixture agree
    page = {canon(ints(c.attrs["data-goids"])) for c in root.find_all(
        lambda e: "cycle" in e.classes and "data-goids" in e.attrs)}
    want = {canon([e["goid"] for e in c["edges"]]) for c in acc["cycles"]}
    assert page == want
    assert {canon([e["goid"] for e in c["edges"]])
            for c in dl["cycles"]} == want
    assert int(stat(root, "cycles")) == len(acc["cycles"])
    nodes = {e.attrs["id"]: e.classes for e in root.find_all(
        lambda e: e.tag == "g" and "node" in e.classes)}
    members = {g for c in want for g in c}
    for goid in members:
        assert "cycle" in nodes["g%d" % goid], goid
    assert {k for k, c in nodes.items() if "cycle" in c and
            "wf-goroutine" in c} == {"g%d" % g for g in members}

    # ---- blocked forever: nil channels and select {} of the fixture
    provable = sum(len(g["goids"]) for g in acc["groups"]
                   if g["wait_reason"].endswith("(nil chan)") or
                   g["wait_reason"] == "select (no cases)")
    assert int(stat(root, "blocked")) == provable
    groups = {g["group"]: g["goids"] for g in acc["groups"]}
    forever = [li for li in root.find_all(lambda e: e.tag == "li")
               if "blocked forever" in li.text]
    shown = {i for li in forever for i in ints(li.text.split("goroutines",
                                                             1)[-1])}
    for name in ("nil_send", "nil_recv", "select_empty"):
        assert set(groups[name]) <= shown, name


def _account_label_sets(fc, goids):
    """{labels text: count} of goids as the fixture's account says they
    are labelled (a goroutine it does not list has none), written the way
    the text views write labels: key=value by key, space separated (every
    key and value of this scenario is bare: [A-Za-z0-9./_]), "(no labels)"
    for none."""
    labels = {i: g["labels"] for g in fc.load_account()["groups"]
              for i in g["goids"]}
    out = {}
    for goid in goids:
        lab = labels.get(goid) or {}
        assert all(re.fullmatch(r"[A-Za-z0-9./_]+", x)
                   for kv in lab.items() for x in kv)
        t = " ".join("%s=%s" % kv for kv in sorted(lab.items())) \
            or "(no labels)"
        out[t] = out.get(t, 0) + 1
    return out


@pytest.mark.parametrize("toolchain", sorted({NEWEST, OLDEST}))
@pytest.mark.parametrize("by", ["site", "age"])
def test_groups_show_their_labels(toolchain, by, tmp_path):
    """Every group of the page lists the distinct pprof label sets of its
    goroutines with how many carry each, whatever the grouping: the
    fixture's labels scenario (pprof.Do and SetGoroutineLabels), checked
    against its account for the group's goroutine ids; the Markdown's
    group detail says the same."""
    fc = core_for(toolchain, "dwarf", "labels")
    out = tmp_path / "r.html"
    r = run(["report", fc.core, "--exe", fc.exe, "-o", out, "--by", by])
    assert r.returncode == 0, r.stderr
    root = dom(browse(out, "--dump-dom"))
    det = root.find_all(lambda e: e.tag == "details" and
                        "group" in e.classes)
    labelled = 0
    for el in det:
        ids = ints(el.find(lambda e: "ids" in e.classes).text)
        assert "more" not in el.find(lambda e: e.tag == "p").text
        want = _account_label_sets(fc, ids)
        got = {li.find(lambda e: "lset" in e.classes).text:
               int(li.attrs["data-count"])
               for li in el.find_all(lambda e: e.tag == "li" and
                                     "data-count" in e.attrs)}
        if set(want) == {"(no labels)"}:
            assert got == {}, ids
        else:
            assert got == want, ids
            labelled += 1
    assert labelled >= 1
    if by == "site":
        assert labelled == 2  # labels_do, labels_set
    md = tmp_path / "r.md"
    r = run(["report", fc.core, "--exe", fc.exe, "-o", md, "--by", by])
    assert r.returncode == 0, r.stderr
    text = md.read_text()
    for g in fc.load_account()["groups"]:
        if by == "site":
            want = _account_label_sets(fc, g["goids"])
            line = "Labels: " + "; ".join(
                "`%s` (%d goroutines)" % kv for kv in sorted(want.items()))
            assert line in text.splitlines(), g["group"]


def md_table(text, header):
    """Rows (lists of cells) of the Markdown table whose header row
    starts with `header`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(header):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in
                             re.split(r"(?<!\\)\|", row)[1:-1]])
            return rows
    raise AssertionError("no table %r" % header)


@pytest.mark.parametrize("toolchain", [NEWEST, OLDEST])
def test_markdown(made, toolchain):
    """The Markdown has the same summary as the page, and agrees with
    --json and the fixture."""
    fc, md = made(toolchain, fmt="md")
    _, page = made(toolchain, fmt="html", layout="builtin")
    text = md.read_text()
    root = dom(page.read_text())
    acc = fc.load_account()
    dl = json_of(fc, "--deadlocks")
    facts = dict(md_table(text, "| | |"))
    dumped = expect.states(fc)
    users = expect.user_goids(fc)
    sites = expect.site_partition(fc)
    assert int(facts["Goroutines"]) == sum(dumped.values()) \
        == int(stat(root, "goroutines"))
    assert int(facts["Runtime goroutines"]) == sum(dumped.values()) - len(users)
    assert int(facts["Deadlock cycles"]) == len(acc["cycles"]) \
        == int(stat(root, "cycles"))
    # the goroutines the fixture parked where nothing can wake them: on a
    # nil channel or in select {}
    provable = sum(len(g["goids"]) for g in acc["groups"]
                   if g["wait_reason"].endswith("(nil chan)") or
                   g["wait_reason"] == "select (no cases)")
    assert int(facts["Blocked forever"]) == provable \
        == int(stat(root, "blocked"))
    assert facts["Go"] == fc.go_version == acc["go_version"]
    assert facts["Oldest wait"] == stat(root, "oldest")
    states = {r[0]: int(r[1]) for r in md_table(text, "| State |")}
    assert states == dict(dumped)
    rows = md_table(text, "| # | Count |")
    assert [int(r[1]) for r in rows] == \
        sorted((len(p) for p in sites), reverse=True)[:len(rows)]
    funcs = {i: g["wait_func"] for g in acc["groups"] for i in g["goids"]}
    funcs[acc["main_goid"]] = acc["main_wait_func"]
    for r in rows:
        ids = ints(r[5])
        part = next(p for p in sites if ids[0] in p)
        assert ids == sorted(part)[:10]
        assert r[3].startswith("`%s`" % funcs[ids[0]])
    assert "%d goroutines in %d groups" % (len(users), len(sites)) in text
    cyc = {canon(ints(re.sub(r"0x[0-9a-f]+", "", line.split(".", 1)[1]))[:-1])
           for line in text.splitlines() if re.match(r"\d+\. goroutine",
                                                     line)}
    assert cyc == {canon([e["goid"] for e in c["edges"]])
                   for c in acc["cycles"]}
    stuck = md_table(text, "| Object | Reason |")
    assert len(stuck) == len(dl["stuck"])
    nil = [r for r in stuck if r[0] == "nil channel"]
    groups = {g["group"]: g["goids"] for g in acc["groups"]}
    assert nil and set(ints(nil[0][3])[1:]) == \
        set(groups["nil_send"] + groups["nil_recv"])


def _seconds(text):
    """'1m5s', '12s', '850ms' -> seconds (what text.duration writes)."""
    m = re.match(r"^(?:(\d+)m)?(\d+)(s|ms)$", text)
    assert m, text
    return int(m.group(1) or 0) * 60 + int(m.group(2)) / (
        1000 if m.group(3) == "ms" else 1)


def test_oldest_wait_is_the_dumps(made):
    """'Oldest wait' against the runtime's dump: on a core whose goroutines
    were parked over a minute, the dump printed "N minutes" for the oldest,
    so it is N to N+1 minutes; on the fixture core, whose goroutines the
    GCs stamped a moment before (no minutes printed), under a minute and at
    least the time from its first GC to READY."""
    held = core_for(NEWEST, "dwarf", "sleep_long", hold=65)
    r = run(["report", held.core, "--exe", held.exe, "--format", "md"])
    assert r.returncode == 0, r.stderr
    oldest = _seconds(dict(md_table(r.stdout, "| | |"))["Oldest wait"])
    n = max(g.minutes for g in held.parsed_dump().goroutines.values())
    assert n >= 1 and 60 * n <= oldest < 60 * (n + 1), (n, oldest)

    fc, md = made(NEWEST, fmt="md")
    assert not any(g.minutes for g in fc.parsed_dump().goroutines.values())
    acc = fc.load_account()
    oldest = _seconds(dict(md_table(md.read_text(), "| | |"))["Oldest wait"])
    least = (acc["ready_ns"] - acc["gcs"][0]["after_ns"]) / 1e9
    # as written: whole seconds from 1 s on, whole milliseconds below
    least = int(least) if least >= 1 else int(least * 1000) / 1000
    assert least <= oldest < 60, (least, oldest)


def test_report_errors(tmp_path):
    fc = core_for(NEWEST, "dwarf", "all")
    for args, needle in (
            (["report"], "no core file"),
            (["report", fc.core, "--exe", fc.exe, "--format", "pdf"],
             "--format"),
            (["report", fc.core, "--exe", fc.exe, "-o",
              tmp_path / "none" / "r.html"], "cannot write")):
        r = run(args)
        assert r.returncode == 2 and r.stdout == "", r
        assert r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
    # a filter applies to the report's groups
    r = run(["report", fc.core, "--exe", fc.exe, "--state",
             "running,runnable", "--format", "md"])
    assert r.returncode == 0, r.stderr
    running = sum(len(g["goids"]) for g in fc.load_account()["groups"]
                  if g["state"] == "running")
    assert "%d goroutines in 1 groups" % running in r.stdout


# ------------------------------------------------------------ progress

class _Tty:
    def __init__(self, tty):
        self.out, self.tty = [], tty

    def write(self, s):
        self.out.append(s)

    def flush(self):
        pass

    def isatty(self):
        return self.tty


def test_progress_only_on_a_terminal():
    from goparked.progress import Progress
    for tty in (True, False):
        s = _Tty(tty)
        with Progress(stream=s, delay=0.05) as p:
            p.phase("reading goroutines")
            time.sleep(0.5)
        text = "".join(s.out)
        if tty:
            assert "goparked: reading goroutines" in text
            assert text.endswith("\r\x1b[K")  # erased at the end
        else:
            assert text == ""
    s = _Tty(True)
    with Progress(stream=s, delay=5):
        time.sleep(0.2)  # quick: nothing shown
    assert s.out == []


def _run_on_pty(args, env):
    """Run goparked with stderr on a pseudo-terminal; (rc, stdout, tty)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "goparked"] + args,
                         cwd=str(ROOT), env=goparked_env(env),
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    tty = b""
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
        elif p.poll() is not None:
            break
    out = p.stdout.read()
    p.wait()
    os.close(master)
    return p.returncode, out, tty.decode("utf-8", "replace")


def test_progress_in_the_cli(tmp_path):
    fc = core_for(NEWEST, "dwarf", "all")
    env = {"GOPARKED_PROGRESS_DELAY": "0"}
    out = tmp_path / "r.html"
    rc, _, tty = _run_on_pty(["report", fc.core, "--exe", fc.exe, "-o",
                              str(out)], env)
    assert rc == 0 and out.exists()
    assert "goparked: " in tty and tty.endswith("\x1b[K"), repr(tty)
    rc, stdout, tty = _run_on_pty([fc.core, "--exe", fc.exe], env)
    assert rc == 0 and b"goroutines" in stdout
    assert "goparked: " in tty and tty.endswith("\x1b[K"), repr(tty)
    # not a terminal: nothing on stderr
    r = run(["report", fc.core, "--exe", fc.exe, "-o", out], env=env)
    assert r.returncode == 0 and r.stderr == ""


# ------------------------------------------------------------ live

def test_report_of_a_live_process(tiny_go, tmp_path):
    """--pid: the same report from a running program (3 goroutines on a
    channel, 1 on a mutex: TINY_GO in conftest.py)."""
    p = subprocess.Popen([str(tiny_go.exe)], stdout=subprocess.PIPE,
                         universal_newlines=True)
    try:
        assert "READY" in p.stdout.readline()
        r = run(["report", "--pid", p.pid, "--format", "md"])
        assert r.returncode == 0, r.stderr
        rows = {r[2]: int(r[1]) for r in md_table(r.stdout, "| # | Count |")
                if "main." in r[3]}
        assert rows.get("chan receive") == 3 and \
            rows.get("sync.Mutex.Lock") == 1, r.stdout
        out = tmp_path / "live.html"
        r = run(["report", "--pid", p.pid, "-o", out])
        assert r.returncode == 0, r.stderr
        root = dom(out.read_text())
        assert int(stat(root, "grouped")) == 5  # main + 3 + 1
        assert p.poll() is None, "the process runs on after the report"
    finally:
        p.kill()
        p.wait()
