"""The report as one self-contained HTML document: CSS, SVG charts and
a few lines of JavaScript inline; it opens without network access.
Renders collect()'s data; every string from the target is escaped here
(html.escape) after text.target_str.
"""

import html as _html

from .. import text
from .. import verdict as V
from .collect import group_title
from .graph import CYCLE_COLOR, STUCK_COLOR, graph_svg

__all__ = ["html", "TOP_BARS", "MAX_GROUPS", "MAX_IDS", "MAX_TABLE_ROWS"]

TOP_BARS = 12          # groups in the bar chart
MAX_GROUPS = 500       # groups listed in the HTML (the rest are counted)
MAX_IDS = 2000         # member ids listed per group
MAX_TABLE_ROWS = 300   # channels / sync objects per table


_CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1f2733;--muted:#667085;--line:#e3e6eb;
--accent:#2f6fdb;--red:#d1343e;--orange:#e07b1f;--green:#2e9d5b;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",
Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 60px}
header h1{font-size:26px;margin:0 0 2px;letter-spacing:-.01em}
header .sub{color:var(--muted);font-size:13px;word-break:break-all}
h2{font-size:18px;margin:34px 0 12px;padding-bottom:6px;
border-bottom:1px solid var(--line)}
h2 .n{color:var(--muted);font-weight:normal;font-size:14px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));
gap:12px;margin:20px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:12px 14px}
.card .v{font-size:26px;font-weight:650;line-height:1.2}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;
letter-spacing:.04em}
.card.bad .v{color:var(--red)}.card.warn .v{color:var(--orange)}
.card.ok .v{color:var(--green)}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:16px 18px;margin:12px 0;overflow-x:auto}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;
font-size:14px}
.facts dt{color:var(--muted)}.facts dd{margin:0;word-break:break-all}
.states{display:flex;flex-wrap:wrap;gap:8px;margin-top:4px}
.chip{display:inline-block;border-radius:999px;padding:1px 10px;font-size:13px;
background:#eef1f5;border:1px solid var(--line)}
.chip b{font-weight:650}
.verdict li{margin:6px 0}.verdict{margin:0;padding-left:20px}
.tag{display:inline-block;font-size:11px;font-weight:600;border-radius:4px;
padding:0 6px;margin-right:4px;vertical-align:1px;text-transform:uppercase;
letter-spacing:.03em}
.tag.red{background:#fde8e9;color:var(--red)}
.tag.orange{background:#fff0e0;color:#b35a0c}
.tag.grey{background:#eef1f5;color:var(--muted)}
.charts{display:grid;grid-template-columns:3fr 2fr;gap:12px}
@media (max-width:900px){.charts{grid-template-columns:1fr}}
.charts .panel{margin:0}
.panel h3{margin:0 0 8px;font-size:14px;color:var(--muted);font-weight:600}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,
sans-serif}
code,.mono{font-family:var(--mono);font-size:12.5px}
details.group{background:var(--card);border:1px solid var(--line);
border-radius:8px;margin:6px 0}
details.group[open]{box-shadow:0 1px 4px rgba(20,30,50,.06)}
details.group>summary{cursor:pointer;padding:8px 12px;display:grid;
grid-template-columns:56px 170px 1fr auto;gap:10px;align-items:baseline;
list-style:none}
details.group>summary::-webkit-details-marker{display:none}
details.group>summary:hover{background:#f8f9fb}
summary .count{font-weight:700;text-align:right;font-variant-numeric:
tabular-nums}
summary .reason{color:#344054;font-size:13px}
summary .site{font-family:var(--mono);font-size:13px;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}
summary .site .loc{color:var(--muted)}
summary .age{color:var(--muted);font-size:13px;white-space:nowrap}
.gbody{padding:4px 14px 14px 78px}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;
text-transform:uppercase;letter-spacing:.03em;border-bottom:1px solid
var(--line);padding:6px 8px}
td{border-bottom:1px solid #f0f1f4;padding:6px 8px;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.stack td{padding:2px 8px;border:0;font-family:var(--mono);
font-size:12.5px}
table.stack tr.rt td{color:#98a2b3}
table.stack tr.elided td{color:var(--muted);font-style:italic}
table.stack tr.site td{background:#fff7d6;color:var(--ink);font-weight:600}
table.stack td.loc{color:var(--muted);word-break:break-all}
ul.labelsets{margin:6px 0;padding-left:18px}
ul.labelsets code{font-family:var(--mono);font-size:12.5px;word-break:break-all}
.ids{font-family:var(--mono);font-size:12.5px;color:#344054;
word-break:break-word}
.ev{color:var(--muted);font-size:12.5px}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.wf-grid{display:flex;flex-wrap:wrap;gap:10px 26px;align-items:flex-start}
.wf-comp{max-width:100%;overflow-x:auto}
.wf-comp svg{max-width:100%;height:auto;display:block}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12.5px;
color:var(--muted);margin-top:8px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;
margin-right:5px;vertical-align:-1px;border:1.5px solid}
footer{margin-top:40px;color:var(--muted);font-size:12.5px}
.toolbar{display:flex;gap:8px;margin:6px 0 10px}
button{font:inherit;font-size:13px;border:1px solid var(--line);
background:var(--card);border-radius:6px;padding:3px 10px;cursor:pointer}
input[type=search]{font:inherit;font-size:13px;border:1px solid var(--line);
border-radius:6px;padding:3px 10px;min-width:260px}
"""

_JS = """
function openHash(){var id=location.hash.slice(1);if(!id)return;
var el=document.getElementById(id);if(el&&el.tagName==='DETAILS')el.open=true;}
window.addEventListener('hashchange',openHash);openHash();
function setAll(open){document.querySelectorAll('details.group').forEach(
function(d){d.open=open;});}
function filterGroups(q){q=q.toLowerCase();document.querySelectorAll(
'details.group').forEach(function(d){d.style.display=
!q||d.textContent.toLowerCase().indexOf(q)>=0?'':'none';});}
"""

# wait-reason families and their colors (charts)
_FAMILIES = [
    ("channel", "#4c7fd9", ("chan",)),
    ("select", "#8a63d2", ("select",)),
    ("lock", "#e08a2c", ("sync.", "semacquire", "Mutex", "RWMutex")),
    ("I/O", "#2a9d8f", ("IO wait", "syscall", "net")),
    ("sleep / timer", "#8c96a5", ("sleep", "timer")),
    ("running", "#2e9d5b", ("running", "runnable")),
]


def _family(reason):
    for name, color, keys in _FAMILIES:
        if any(reason.startswith(k) or k in reason for k in keys):
            return name, color
    return "other", "#b0b8c4"


def _e(s):
    """Text for the page: what may come from the target goes through
    text.target_str first, then HTML escaping."""
    return _html.escape(text.target_str(str(s), ""), quote=True)


def _h(s):
    """Text already made safe by goparked.text (group_title's): HTML
    escaping only, so that it is not cut a second time."""
    return _html.escape(str(s), quote=True)


def _age_text(g):
    return text.age_range(g["age_ns"], g["age_known"], g["count"],
                          sep=" – ", none="age unknown" if g["count"] else "")


def _goid_links(data, goids, limit=12):
    gg = data["goid_group"]

    def link(goid):
        if goid in gg:
            return '<a href="#group-%d">%d</a>' % (gg[goid], goid)
        return str(goid)
    return text.ids(goids, limit, word=link)


def _bar_chart(data):
    groups = data["groups"][:TOP_BARS]
    if not groups:
        return "<p class=ev>no goroutines</p>"
    row, lw, bw = 26, 250, 310
    top = max(g["count"] for g in groups)
    h = row * len(groups) + 8
    out = ['<svg id="chart-groups" viewBox="0 0 %d %d" width="100%%" '
           'role="img" aria-label="biggest groups">' % (lw + bw + 60, h)]
    for i, g in enumerate(groups):
        title, loc = group_title(g, data["by"])
        reason = g["wait_reason"] or ",".join(g["states"])
        fam, color = _family(reason)
        label = title if len(title) <= 38 else "…" + title[-37:]
        w = max(2.0, bw * g["count"] / top)
        y = 4 + i * row
        out.append(
            '<g class="bar" data-group="%d" data-count="%d">'
            '<title>%s — %s (%d)</title>'
            '<a href="#group-%d"><text x="%d" y="%d" text-anchor="end" '
            'font-size="12" fill="#344054">%s</text></a>'
            '<text x="%d" y="%d" text-anchor="end" font-size="10" '
            'fill="#98a2b3">%s</text>'
            '<rect x="%d" y="%d" width="%.1f" height="%d" rx="3" '
            'fill="%s"/><text class="v" x="%.1f" y="%d" font-size="12" '
            'font-weight="600" fill="#1f2733">%d</text></g>' % (
                g["index"], g["count"], _h(title), _e(reason), g["count"],
                g["index"], lw - 8, y + 11, _h(label), lw - 8, y + 22,
                _e(reason), lw, y + 3, w, row - 9, color, lw + w + 6, y + 15,
                g["count"]))
    out.append("</svg>")
    fams = []
    for g in groups:
        f = _family(g["wait_reason"] or ",".join(g["states"]))
        if f not in fams:
            fams.append(f)
    out.append('<div class="legend">%s</div>' % "".join(
        '<span><i style="background:%s;border-color:%s"></i>%s</span>'
        % (c, c, _e(n)) for n, c in fams))
    return "".join(out)


def _age_chart(data):
    buckets = data["ages"]
    unknown = data["ages_unknown"]
    cols = list(buckets) + ([(text.AGE_UNKNOWN, unknown)] if unknown else [])
    if not cols:
        return "<p class=ev>no goroutines</p>"
    cw, ch, base = 54, 170, 200
    top = max(c for _, c in cols) or 1
    wdt = cw * len(cols) + 20
    out = ['<svg id="chart-ages" viewBox="0 0 %d %d" width="%d" '
           'style="max-width:100%%;height:auto" role="img" '
           'aria-label="how long goroutines have been parked">'
           % (max(wdt, 300), base + 34, max(wdt, 300))]
    out.append('<line x1="8" y1="%d" x2="%d" y2="%d" stroke="#d0d5dd"/>'
               % (base, wdt - 8, base))
    for i, (label, n) in enumerate(cols):
        h = ch * n / top if n else 0
        x = 14 + i * cw
        color = "#b0b8c4" if label == text.AGE_UNKNOWN else "#4c7fd9"
        out.append(
            '<g class="age-bucket" data-label="%s" data-count="%d">'
            '<rect x="%d" y="%.1f" width="%d" height="%.1f" rx="3" '
            'fill="%s"/><text class="v" x="%d" y="%.1f" font-size="11" '
            'text-anchor="middle" font-weight="600" fill="#1f2733">%s</text>'
            '<text x="%d" y="%d" font-size="10.5" text-anchor="middle" '
            'fill="#667085">%s</text></g>' % (
                _e(label), n, x, base - h, cw - 12, h, color,
                x + (cw - 12) // 2, base - h - 5, n if n else "",
                x + (cw - 12) // 2, base + 16, _e(label)))
    out.append("</svg>")
    return "".join(out)


LEAK_ITEMS = 3          # leak verdict rows in the summary's verdict list


def _leak_items(data):
    """[(tag class, tag, html)] of the leak verdict's rows (not blocked)."""
    items = []
    cls = {"leaked": "red", "no_waker": "orange", "lingering": "orange",
           "unknown": "grey"}
    rows = [r for r in data["leaks"]["rows"] if r["verdict"] != "blocked"]
    for r in rows[:LEAK_ITEMS]:
        where = text.func_location(r["site"]) if r["site"] else "?"
        why = r["reason_words"]
        if r["holder_goid"] is not None:
            why += "; holder goroutine %d" % r["holder_goid"]
        items.append((cls.get(r["verdict"], "grey"), r["words"],
                      "<b>%d</b> × %s at <code>%s</code>: %s%s "
                      "(goroutines %s)" % (
                          r["count"], _e(r["wait_reason"] or ""), _e(where),
                          _e(why), " <span class=ev>created by %s</span>"
                          % _e(r["created_by"]) if r["created_by"] else "",
                          _goid_links(data, r["goids"], 8))))
    if len(rows) > LEAK_ITEMS:
        rest = rows[LEAK_ITEMS:]
        items.append(("grey", "more", "%d more sites (%d goroutines) leaked "
                      "or lingering: <code>goparked CORE --leaks</code>" % (
                          len(rest), sum(r["count"] for r in rest))))
    return items


def _verdict_items(data):
    """[(tag class, tag, html)] the verdict, most severe first."""
    items = _leak_items(data)
    cyc = data["cycles"]
    if cyc:
        members = sorted({e["from"] for c in cyc for e in c["edges"]})
        items.append(("red", "deadlock", "<b>%d wait cycle%s</b> (%d "
                      "goroutines can never proceed): %s" % (
                          len(cyc), "" if len(cyc) == 1 else "s",
                          len(members), ", ".join(
                              " → ".join(str(e["from"]) for e in c["edges"])
                              + " → %d" % c["edges"][0]["from"]
                              for c in cyc[:4]) + (" …" if len(cyc) > 4
                                                   else ""))))
    for s in data["stuck"]:
        what = _stuck_what(s)
        items.append(("red" if s["provable"] else "orange",
                      "blocked forever" if s["provable"] else "likely leak",
                      "<b>%d goroutine%s</b> on %s: %s (goroutines %s)" % (
                          len(s["goids"]), "" if len(s["goids"]) == 1
                          else "s", what, _e(s["reason"]),
                          _goid_links(data, s["goids"], 8))))
    for g in data["groups"][:5]:
        title, loc = group_title(g, data["by"])
        items.append(("grey", "group", "<b>%d</b> × %s at <code>%s</code> "
                      "<span class=ev>%s</span> <a href=\"#group-%d\">"
                      "stack</a>" % (
                          g["count"], _e(g["wait_reason"] or
                                         ",".join(g["states"])),
                          _h(title), _h(loc), g["index"])))
    return items


def _stuck_what(s):
    if s["reason"] == "select {}":
        return "<code>select {}</code>"
    if s["object"] == 0:
        return "a nil channel"
    return "%s <code>0x%x</code>" % (_e(s["kind"]), s["object"])


def _summary_html(data):
    p, t = data["program"], data["taken"]
    states = data["by_state"]
    parked = sum(n for s, n in states.items() if s == "waiting")
    provable = sum(len(s["goids"]) for s in data["stuck"] if s["provable"])
    lc = data["leaks"]["counts"]
    cards = [
        ("goroutines", data["goroutines"], ""),
        ("parked (waiting)", parked, ""),
        (V.WORDS["leaked"], lc["leaked"], "bad" if lc["leaked"] else "ok"),
        (V.WORDS["no_waker"], lc["no_waker"],
         "warn" if lc["no_waker"] else "ok"),
        (V.WORDS["lingering"], lc["lingering"],
         "warn" if lc["lingering"] else "ok"),
        ("deadlock cycles", len(data["cycles"]),
         "bad" if data["cycles"] else "ok"),
        ("blocked forever", provable, "bad" if provable else "ok"),
        ("likely leaked objects", sum(1 for s in data["stuck"]
                                      if not s["provable"]),
         "warn" if any(not s["provable"] for s in data["stuck"]) else "ok"),
        ("oldest wait", text.duration(data["oldest_ns"])
         if data["oldest_ns"] is not None else "–", ""),
    ]
    keys = ["goroutines", "waiting", "leaked", "no_waker", "lingering",
            "cycles", "blocked", "leaks", "oldest"]
    out = ['<div class="cards">']
    for (k, v, cls), key in zip(cards, keys):
        out.append('<div class="card %s"><div class="v" data-stat="%s">%s'
                   '</div><div class="k">%s</div></div>'
                   % (cls, key, _e(v), _e(k)))
    out.append("</div>")
    facts = [("Program", "<code>%s</code>" % _e(p["exe"] or p["name"])),
             ("Go", _e(p["go_version"] or "unknown")),
             (p["source"].capitalize(), "<code>%s</code>" % _e(p["target"]))]
    if t["text"]:
        facts.append(("Taken", '<span data-stat="taken" data-unix-ns="%d">'
                      '%s</span> <span class=ev>(%s%s)</span>' % (
                          t["unix_ns"], _e(t["text"]), _e(t["source"] or ""),
                          "" if t["exact"] else "; ages are lower bounds")))
    else:
        facts.append(("Taken", "unknown (no clock in this %s)"
                      % p["source"]))
    chips = "".join('<span class="chip" data-state="%s"><b>%d</b> %s</span>'
                    % (_e(s), n, _e(s)) for s, n in states.items())
    if data["system"]:
        chips += ('<span class="chip ev" data-stat="system">%d of them '
                  'runtime goroutines%s</span>' % (
                      data["system"], "" if data["include_system"]
                      else " (not in the groups below)"))
    facts.append(("By state", '<div class="states">%s</div>' % chips))
    out.append('<div class="panel"><dl class="facts">%s</dl></div>' % "".join(
        "<dt>%s</dt><dd>%s</dd>" % f for f in facts))
    items = _verdict_items(data)
    out.append('<h2 id="verdict">Verdict</h2><div class="panel">'
               '<ul class="verdict">%s</ul></div>' % "".join(
                   '<li><span class="tag %s">%s</span> %s</li>' % (c, _e(t), h)
                   for c, t, h in items))
    return "".join(out)


def _groups_html(data):
    by = data["by"]
    out = ['<h2 id="groups">Groups <span class="n">by %s: <span '
           'data-stat="grouped">%d</span> goroutines in <span '
           'data-stat="ngroups">%d</span> groups</span></h2>'
           % (_e(by), data["grouped"], len(data["groups"]))]
    out.append('<div class="toolbar"><button onclick="setAll(true)">expand '
               'all</button><button onclick="setAll(false)">collapse all'
               '</button><input type="search" placeholder="filter: function,'
               ' file, wait reason, goroutine id" oninput="filterGroups('
               'this.value)"></div>')
    for g in data["groups"][:MAX_GROUPS]:
        title, loc = group_title(g, by)
        reason = g["wait_reason"] or ",".join(g["states"])
        rows = []
        head = len(g["frames"])
        for j, f in enumerate(g["frames"] + g.get("frames_tail", []) +
                              [None]):
            if j == head and g.get("elided") is not None:
                # a deep stack, cut as the target's runtime cuts it
                rows.append('<tr class="elided"><td colspan=2>%s</td></tr>'
                            % _h(text.elided_line(g["elided"])))
            if f is None:
                break
            cls = []
            if j == g["site_frame"]:
                cls.append("site")
            elif f["func"].startswith("runtime.") or \
                    f["func"].startswith("internal/"):
                cls.append("rt")
            rows.append('<tr class="%s"><td>%s%s</td><td class="loc">%s'
                        '</td></tr>' % (
                            " ".join(cls), _e(f["func"]),
                            ' <span class="tag grey">inlined</span>'
                            if f["inlined"] else "", _e(text.frame_location(f, True))))
        ids = g["goids"][:MAX_IDS]
        more = g["count"] - len(ids)
        out.append(
            '<details class="group" id="group-%d" data-count="%d">'
            '<summary><span class="count">%d</span><span class="reason">%s'
            '</span><span class="site">%s <span class="loc">%s</span></span>'
            '<span class="age">%s</span></summary><div class="gbody">'
            '<table class="stack">%s</table>%s'
            '<p><span class=ev>goroutine%s</span> <span class="ids">%s</span>'
            '%s</p></div></details>' % (
                g["index"], g["count"], g["count"], _e(reason), _h(title),
                _h(loc), _e(_age_text(g)), "".join(rows) or
                "<tr><td>(no stack)</td></tr>", _label_sets_html(g),
                "" if g["count"] == 1 else "s",
                " ".join(str(i) for i in ids),
                " <span class=ev>+%d more</span>" % more if more else ""))
    rest = data["groups"][MAX_GROUPS:]
    if rest:
        out.append('<p class=ev>%d more groups (%d goroutines) not listed; '
                   'goparked --json has them all.</p>'
                   % (len(rest), sum(g["count"] for g in rest)))
    return "".join(out)


def _label_sets_html(g):
    """The group's pprof label sets (collect's label_sets), each as the
    text views write labels (escaped, a long value cut with its length),
    with how many of the group's goroutines carry it."""
    sets = g.get("label_sets")
    if not sets:
        return ""
    items = ['<li data-count="%d"><code class="lset">%s</code> <span class=ev>'
             '%d goroutine%s</span></li>' % (
                 s["count"], _h(text.labels_text(s["labels"])), s["count"],
                 "" if s["count"] == 1 else "s") for s in sets]
    if g.get("label_sets_more"):
        items.append('<li class=ev>+%d more label sets</li>'
                     % g["label_sets_more"])
    return ('<div class="labels"><span class=ev>labels</span><ul class='
            '"labelsets">%s</ul></div>' % "".join(items))


def _verdict_cell(stuck):
    if not stuck:
        return ""
    return '<span class="tag %s">%s</span> <span class=ev>%s</span>' % (
        "red" if stuck["provable"] else "orange",
        "forever" if stuck["provable"] else "likely leak", _e(stuck["reason"]))


def _holders_cell(data, holders, verb):
    best = [h for h in holders if h["rank"] == 1]
    if not best:
        return '<span class=ev>none found</span>'
    out = []
    for h in best:
        out.append('%s goroutine %s <span class=ev>[%s]</span><div class=ev>'
                   '%s</div>' % (verb, _goid_links(data, [h["goid"]]),
                                 _e(data["wait_reason"].get(h["goid"], "")),
                                 _e(h["evidence"])))
    others = len(holders) - len(best)
    if others:
        out.append('<div class=ev>+%d weaker candidate%s</div>'
                   % (others, "" if others == 1 else "s"))
    return "".join(out)


def _chans_html(data):
    chans = data["chans"]
    out = ['<h2 id="channels">Channels <span class="n">%d with waiters'
           '</span></h2>' % len(chans)]
    if not chans:
        return out[0] + '<p class=ev>no goroutine waits on a channel</p>'
    rows = []
    for c in chans[:MAX_TABLE_ROWS]:
        if c["nil"]:
            what = "<b>nil channel</b>"
            buf = "–"
        else:
            what = "<code>chan %s</code><div class='mono ev'>0x%x</div>" % (
                _e(c["elem_type"] or "?"), c["address"])
            buf = "%d / %d" % (c["len"], c["cap"])
        notes = []
        if c["closed"]:
            notes.append("closed")
        if c["timer"]:
            notes.append("timer" + (", every %s" % text.duration(
                c["timer_period_ns"]) if c["timer_period_ns"] else ""))
        if c["select"]:
            notes.append("%d in select" % len(c["select"]))
        rows.append('<tr data-address="0x%x"><td>%s</td><td class=num>%s</td>'
                    '<td class=num>%d</td><td class=ids>%s</td>'
                    '<td class=num>%d</td><td class=ids>%s</td><td>%s</td>'
                    '<td>%s</td><td>%s</td></tr>' % (
                        c["address"], what, buf, len(c["recv"]),
                        _goid_links(data, c["recv"], 6), len(c["send"]),
                        _goid_links(data, c["send"], 6),
                        _e(", ".join(notes)),
                        _holders_cell(data, c["wakers"], "could send:")
                        if c["wakers"] else "<span class=ev>none found</span>",
                        _verdict_cell(c["stuck"])))
    out.append('<div class="panel"><table id="chans"><tr><th>channel</th>'
               '<th>len / cap</th><th>recv</th><th>receivers</th><th>send'
               '</th><th>senders</th><th>notes</th><th>who could wake them'
               '</th><th>verdict</th></tr>%s</table>%s</div>' % (
                   "".join(rows), "<p class=ev>%d more not shown</p>"
                   % (len(chans) - MAX_TABLE_ROWS)
                   if len(chans) > MAX_TABLE_ROWS else ""))
    return "".join(out)


def _syncs_html(data):
    syncs = data["syncs"]
    out = ['<h2 id="locks">Mutexes and other sync objects <span class="n">'
           '%d with waiters</span></h2>' % len(syncs)]
    if not syncs:
        return out[0] + '<p class=ev>no goroutine waits on a sync object</p>'
    rows = []
    for s in syncs[:MAX_TABLE_ROWS]:
        waiting = "".join('<div><span class=ev>%s</span> %d: <span class=ids>'
                          '%s</span></div>' % (_e(r), len(g),
                                               _goid_links(data, g, 6))
                          for r, g in s["roles"])
        verb = "held by" if s["kind"] in ("mutex", "rwmutex") \
            else "could wake:"
        if s["holders"]:
            holders = _holders_cell(data, s["holders"], verb)
        else:
            holders = '<span class=ev>%s</span>' % _e(
                "not held" if s["holder_status"] == "not held" else
                "unknown" if s["kind"] in ("mutex", "rwmutex") else
                "none found")
        rows.append('<tr data-address="0x%x"><td><code>%s</code><div class='
                    "'mono ev'>0x%x</div></td><td>%s</td><td class=num>%d"
                    '</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
                        s["address"], _e(s["kind"]), s["address"],
                        _e(s["state"]), len(s["waiters"]), waiting, holders,
                        _verdict_cell(s["stuck"])))
    out.append('<div class="panel"><table id="syncs"><tr><th>object</th>'
               '<th>state</th><th>waiters</th><th>waiting</th><th>holder / '
               'evidence</th><th>verdict</th></tr>%s</table>%s</div>' % (
                   "".join(rows), "<p class=ev>%d more not shown</p>"
                   % (len(syncs) - MAX_TABLE_ROWS)
                   if len(syncs) > MAX_TABLE_ROWS else ""))
    return "".join(out)


def _cycles_html(data):
    out = []
    for i, c in enumerate(data["cycles"], 1):
        rows = "".join(
            '<tr><td>goroutine %s</td><td>waits on %s <code>0x%x</code></td>'
            '<td>held / woken by goroutine %s</td><td class=ev>%s</td></tr>'
            % (_goid_links(data, [e["from"]]), _e(e["kind"]), e["object"],
               _goid_links(data, [e["to"]]), _e(e["evidence"]))
            for e in c["edges"])
        out.append('<div class="cycle" data-goids="%s"><h3>cycle %d%s</h3>'
                   '<table>%s</table></div>' % (
                       " ".join(str(e["from"]) for e in c["edges"]), i,
                       " <span class='tag orange'>a member is in select"
                       "</span>" if c["select"] else "", rows))
    return "".join(out)


def html(data, graph_layout=None):
    """The report as one self-contained HTML document."""
    p = data["program"]
    svg, used = graph_svg(data["graph"], graph_layout)
    title = "goparked report: %s" % p["name"]
    graph = data["graph"]
    parts = [
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<meta name="generator" content="goparked">',
        "<title>%s</title><style>%s</style></head><body><main>"
        % (_e(title), _CSS),
        '<header><h1>%s <span style="color:var(--muted);font-weight:400">'
        "%s</span></h1><div class=sub>%s · report made %s by goparked</div>"
        "</header>" % (_e(p["name"]), _e(p["go_version"] or ""),
                       _e(p["target"]), _e(data["generated"])),
        _summary_html(data),
        '<h2 id="charts">Where they wait</h2><div class="charts">'
        '<div class="panel"><h3>Biggest groups (by %s)</h3>%s</div>'
        '<div class="panel"><h3>How long they have been parked%s</h3>%s'
        "</div></div>" % (
            _e(data["by"]), _bar_chart(data),
            "" if data["taken"]["exact"] else " (lower bounds)",
            _age_chart(data)),
        '<h2 id="graph">Wait-for graph <span class="n">%d nodes, %d edges; '
        'drawn by <span data-stat="layout">%s</span></span></h2>'
        % (len(graph["nodes"]), len(graph["edges"]), used),
    ]
    if svg:
        parts.append(
            '<div class="panel graph"><div class="wf-grid">%s</div>'
            '<div class="legend"><span><i style='
            '"background:#eef4ff;border-color:#7a9cd6"></i>goroutine</span>'
            '<span><i style="background:#f4f5f7;border-color:#a5adba"></i>'
            'waiters folded together</span><span><i style="background:'
            '#fff8e6;border-color:#d9a93d"></i>channel / lock</span><span>'
            '<i style="background:#fde8e9;border-color:%s"></i>in a cycle'
            '</span><span><i style="background:#fff0e0;border-color:%s">'
            '</i>nobody can wake it</span></div>%s%s</div>' % (
                "".join('<div class="wf-comp">%s</div>' % x for x in svg),
                CYCLE_COLOR, STUCK_COLOR,
                "<p class=ev>%d more objects not drawn (the tables below list"
                " them)</p>" % graph["dropped_objects"]
                if graph["dropped_objects"] else "",
                _cycles_html(data)))
    else:
        parts.append("<p class=ev>no goroutine waits on a channel or lock"
                     "</p>")
    parts += [_groups_html(data), _chans_html(data), _syncs_html(data),
              "<footer>Ages come from the runtime's g.waitsince%s. Holders "
              "are inferred from pointers on the holders' stacks: the "
              "evidence column says why each was chosen. Made with "
              "goparked; this file needs no network.</footer>" % (
                  "" if data["taken"]["exact"] else
                  " against the core's time, so they are lower bounds"),
              "</main><script>%s</script></body></html>\n" % _JS]
    return "".join(parts)


