"""The postmortem report: one self-contained HTML file, or Markdown.

    goparked report CORE [--exe BIN] -o report.html [--format html|md]
    goparked report --pid PID -o report.html

Three typed stages, as everywhere in goparked: collect() turns a snapshot
into plain data (dicts and lists, nothing from the engine), then html() or
markdown() renders that data. The wait-for graph is drawn by Graphviz
(`dot -Tsvg`) when it is installed, else by a small layered layout of our
own (graph_svg_builtin); both give the same node ids and classes, so the
page and its tests do not care which one drew it.

The HTML needs nothing from the network: CSS, the charts (SVG made here)
and the few lines of JavaScript are inline.
"""

import bisect
import datetime
import html as _html
import os
import shutil
import subprocess

from ctypes import POINTER, byref, c_size_t

from . import _native as N
from . import analysis as A
from .options import format_duration

__all__ = ["collect", "html", "markdown", "graph_dot", "graph_svg",
           "graph_svg_builtin", "AGE_BOUNDS"]

TOP_BARS = 12          # groups in the bar chart
MAX_GROUPS = 500       # groups listed in the HTML (the rest are counted)
MAX_IDS = 2000         # member ids listed per group
MAX_TABLE_ROWS = 300   # channels / sync objects per table
MAX_GRAPH_OBJECTS = 40 # objects drawn in the wait-for graph
MD_GROUPS = 20         # groups in the Markdown table
MD_STACKS = 5          # stacks printed in the Markdown report

# Age histogram bucket upper bounds, ns (log scale, ends open).
AGE_BOUNDS = [(10**6, "1ms"), (10**7, "10ms"), (10**8, "100ms"),
              (10**9, "1s"), (10**10, "10s"), (60 * 10**9, "1m"),
              (600 * 10**9, "10m"), (3600 * 10**9, "1h"),
              (6 * 3600 * 10**9, "6h"), (86400 * 10**9, "1d")]


# ================================================================ collect

def _frame(f):
    return {"func": f.func or "?", "file": f.file or "", "line": f.line,
            "inlined": f.inlined}


def _age_buckets(ages):
    """[(label, count)] for the known ages, first to last non-empty
    bucket (the empty ones between stay: a gap is information)."""
    bounds = [b for b, _ in AGE_BOUNDS]
    counts = [0] * (len(AGE_BOUNDS) + 1)
    for a in ages:
        counts[bisect.bisect_right(bounds, a)] += 1
    labels = []
    for i in range(len(AGE_BOUNDS) + 1):
        if i == 0:
            labels.append("< " + AGE_BOUNDS[0][1])
        elif i == len(AGE_BOUNDS):
            labels.append("> " + AGE_BOUNDS[-1][1])
        else:
            labels.append("%s–%s" % (AGE_BOUNDS[i - 1][1], AGE_BOUNDS[i][1]))
    nz = [i for i, c in enumerate(counts) if c]
    if not nz:
        return []
    return [(labels[i], counts[i]) for i in range(nz[0], nz[-1] + 1)]


def _raw_waiters(snap, what):
    """{channel address | (sync address, kind): [(goid, role, select)]},
    read from the engine's arrays: analysis.Waiter makes a Goroutine
    object per waiter, too slow for a million of them."""
    lib = N.lib()
    n, cnt = c_size_t(), c_size_t()
    if what == "chan":
        p = POINTER(N.Chan)()
        lib.check(lib.gp_snapshot_chans(snap._handle(), byref(n), byref(p)))
        arr = lib.gp_snapshot_chan_waiters(snap._handle(), byref(cnt))
    else:
        p = POINTER(N.Sync)()
        lib.check(lib.gp_snapshot_syncs(snap._handle(), byref(n), byref(p)))
        arr = lib.gp_snapshot_sync_waiters(snap._handle(), byref(cnt))
    out = {}
    goids = snap.goid_array()
    for i in range(n.value):
        o = p[i]
        ws = []
        for k in range(o.waiters_first,
                       min(o.waiters_first + o.nwaiters, cnt.value)):
            w = arr[k]
            ws.append((goids[w.goroutine],
                       N.ROLE_NAMES.get(w.role, "?"), bool(w.flags & 1)))
        key = o.address if what == "chan" else \
            (o.address, N.OBJ_KIND_NAMES.get(o.kind, "?"))
        out.setdefault(key, []).extend(ws)
    return out


def collect(snap, grouping, progress=None):
    """Everything the report shows, as plain data."""
    def phase(text):
        if progress is not None:
            progress.phase(text)

    prog = snap.program
    clock = snap.clock
    total, system = snap.state_counts()
    taken_ns = (clock.now + clock.unix_offset
                if clock.known and clock.unix_offset else None)
    data = {
        "program": {
            "name": os.path.basename(prog.exe_path or "") or "?",
            "exe": prog.exe_path or None,
            "go_version": prog.go_version or None,
            "source": "live" if prog.is_live else "core",
            "target": prog.description,
            "has_dwarf": prog.has_dwarf,
        },
        "taken": {
            "unix_ns": taken_ns,
            "text": (datetime.datetime.fromtimestamp(
                taken_ns / 1e9, datetime.timezone.utc)
                .strftime("%Y-%m-%d %H:%M:%S UTC") if taken_ns else None),
            "source": clock.source or None,
            "exact": clock.exact,
        },
        "generated": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M:%S UTC"),
        "goroutines": len(snap),
        "by_state": dict(sorted(total.items(), key=lambda kv: -kv[1])),
        "system_by_state": system,
        "system": sum(system.values()),
        "by": grouping.by,
        "include_system": bool(grouping.filter.include_system),
        "grouped": grouping.total,
    }

    phase("grouping")
    goid_group = {}
    groups = []
    ages, unknown = [], 0
    all_goids = snap.goid_array()
    all_since = snap.field_array("waitsince")
    for gi, g in enumerate(grouping.groups):
        idx = g.member_indexes()
        goids = [all_goids[i] for i in idx]
        for i in idx:
            age = clock.age(all_since[i])
            if age is None:
                unknown += 1
            else:
                ages.append(age)
        for goid in goids:
            goid_group.setdefault(goid, gi)
        site = g.site
        rng = g.age_range
        groups.append({
            "index": gi,
            "count": g.count,
            "key": g.key or None,
            "key_address": g.key_address or None,
            "wait_reason": g.wait_reason or None,
            "states": g.states,
            "site": _frame(site) if site else None,
            "site_frame": g.site_index,
            "frames": [_frame(f) for f in g.frames],
            "age_ns": list(rng) if rng else None,
            "age_known": g.age_known,
            "goids": goids,
        })
    data["groups"] = groups
    data["ages"] = _age_buckets(ages)
    data["ages_unknown"] = unknown
    data["oldest_ns"] = max(ages) if ages else None
    data["goid_group"] = goid_group

    phase("finding deadlocks")
    d = A.Deadlocks(snap)
    data["cycles"] = [{
        "select": c["select"],
        "edges": [{"from": e.from_goid, "to": e.to_goid, "kind": e.kind,
                   "object": e.object, "evidence": e.evidence}
                  for e in c["edges"]]} for c in d.cycles]
    # Provable first (nil channel, select {}), then the most goroutines.
    data["stuck"] = sorted((dict(s) for s in d.stuck),
                           key=lambda s: (not s["provable"],
                                          -len(s["goids"])))
    data["cycles_truncated"] = d.truncated
    stuck_by_object = {(s["object"], s["kind"]): s for s in d.stuck}

    phase("reading channels and locks")
    wait_reason = {}

    def reason_of(g):
        wait_reason[g.goid] = g.wait_reason or g.state
        return wait_reason[g.goid]

    chans = []
    # Wait reasons only for the goroutines drawn on their own (holders,
    # wakers, cycle members): a waiter list can be a million long.
    chan_waiters = _raw_waiters(snap, "chan")
    for c in A.chans(snap):
        ws = chan_waiters.get(c.address, [])
        for h in c.wakers:
            reason_of(h.goroutine)
        s = stuck_by_object.get((c.address, "chan"))
        chans.append({
            "address": c.address, "nil": c.nil, "elem_type": c.elem_type,
            "len": c.len, "cap": c.cap, "closed": c.closed,
            "timer": c.timer, "timer_period_ns": c.timer_period,
            "recv": [g for g, role, _ in ws if role == "recv"],
            "send": [g for g, role, _ in ws if role == "send"],
            "other": [g for g, role, _ in ws
                      if role not in ("recv", "send")],
            "select": [g for g, _, sel in ws if sel],
            "wakers": [{"goid": h.goid, "rank": h.rank,
                        "evidence": h.description} for h in c.wakers],
            "stuck": ({"reason": s["reason"], "provable": s["provable"]}
                      if s else None),
        })
    data["chans"] = chans
    syncs = []
    sync_waiters = _raw_waiters(snap, "sync")
    for s in A.syncs(snap):
        for h in s.holders:
            reason_of(h.goroutine)
        st = stuck_by_object.get((s.address, s.kind)) or \
            stuck_by_object.get((s.sema, s.kind))
        if s.unreadable:
            state = "unreadable"
        elif s.kind == "mutex":
            state = ("locked" if s.locked else "unlocked") + \
                (", starving" if s.starving else "")
        elif s.kind == "rwmutex":
            state = "writer %s, %d readers%s" % (
                "holds it" if s.locked else "free", s.readers,
                ", writer pending" if s.writer_pending else "")
        elif s.kind == "waitgroup":
            state = "counter %d" % s.counter
        else:
            state = ""
        syncs.append({
            "address": s.address, "kind": s.kind, "sema": s.sema,
            "state": state, "holder_status": s.holder_status,
            "waiters": [{"goid": g, "role": role} for g, role, _ in
                        sync_waiters.get((s.address, s.kind), [])],
            "holders": [{"goid": h.goid, "rank": h.rank,
                         "evidence": h.description} for h in s.holders],
            "stuck": ({"reason": st["reason"], "provable": st["provable"]}
                      if st else None),
        })
    data["syncs"] = syncs
    for c in data["cycles"]:
        for e in c["edges"]:
            for goid in (e["from"], e["to"]):
                if goid not in wait_reason:
                    i = snap.find(goid)
                    if i is not None:
                        reason_of(snap.goroutine_at(i))
    data["wait_reason"] = wait_reason
    data["graph"] = _graph(data)
    return data


# ============================================================ wait-for graph

def _short_ids(goids, n=6):
    s = " ".join(str(g) for g in goids[:n])
    return s + (" …+%d" % (len(goids) - n) if len(goids) > n else "")


def _graph(data):
    """Nodes and edges of the wait-for graph: goroutine -> object it waits
    on -> goroutine that holds it or could wake it (best-ranked only).
    Waiters that are nothing else are folded into one node per object."""
    cycle_nodes, cycle_edges = set(), set()
    for c in data["cycles"]:
        for e in c["edges"]:
            o = "o%x_%s" % (e["object"], e["kind"])
            cycle_nodes.update(("g%d" % e["from"], "g%d" % e["to"], o))
            cycle_edges.add(("g%d" % e["from"], o))
            cycle_edges.add((o, "g%d" % e["to"]))
    stuck_objs = set()
    objects = []  # (object node id, label, kind, waiters, targets, stuck)
    for c in data["chans"]:
        waiters = c["recv"] + c["send"] + c["other"]
        if c["nil"]:
            label = "nil channel"
        else:
            label = "chan %s\n0x%x" % (c["elem_type"] or "?", c["address"])
        objects.append(("o%x_chan" % c["address"], label, "chan",
                        sorted(set(waiters)),
                        [(h["goid"], "could send") for h in c["wakers"]
                         if h["rank"] == 1], c["stuck"]))
    for s in data["syncs"]:
        verb = "held by" if s["kind"] in ("mutex", "rwmutex") else \
            "could wake"
        objects.append(("o%x_%s" % (s["address"], s["kind"]),
                        "%s\n0x%x" % (s["kind"], s["address"]), s["kind"],
                        sorted({w["goid"] for w in s["waiters"]}),
                        [(h["goid"], verb) for h in s["holders"]
                         if h["rank"] == 1], s["stuck"]))
    for st in data["stuck"]:
        if st["reason"] == "select {}":
            objects.append(("oselect", "select {}", "select", st["goids"], [],
                            {"reason": st["reason"],
                             "provable": st["provable"]}))
    # Keep cycles and stuck objects, then the most waited-on.
    known = {o[0] for o in objects}
    # Cycle edges whose object the tables do not list (rare): add it.
    for c in data["cycles"]:
        for e in c["edges"]:
            oid = "o%x_%s" % (e["object"], e["kind"])
            if oid not in known:
                known.add(oid)
                objects.append((oid, "%s\n0x%x" % (e["kind"], e["object"]),
                                e["kind"], [e["from"]], [], None))
    extra_targets = {}
    for c in data["cycles"]:
        for e in c["edges"]:
            oid = "o%x_%s" % (e["object"], e["kind"])
            extra_targets.setdefault(oid, set()).add(e["to"])
    objects.sort(key=lambda o: (o[0] not in cycle_nodes, o[5] is None,
                                -len(o[3]), o[0]))
    dropped = max(0, len(objects) - MAX_GRAPH_OBJECTS)
    objects = objects[:MAX_GRAPH_OBJECTS]

    # A goroutine gets a node of its own when it is more than one
    # object's waiter: a holder, a waker, or in a cycle.
    individual = set()
    for o in objects:
        individual.update(g for g, _ in o[4])
        individual.update(extra_targets.get(o[0], ()))
    individual.update(int(n[1:]) for n in cycle_nodes if n[0] == "g")

    nodes, edges = {}, []
    reasons = data["wait_reason"]

    def gnode(goid):
        nid = "g%d" % goid
        if nid not in nodes:
            nodes[nid] = {"id": nid, "kind": "goroutine",
                          "label": "goroutine %d\n%s" % (
                              goid, reasons.get(goid, "")),
                          "cycle": nid in cycle_nodes, "stuck": False,
                          "group": data["goid_group"].get(goid)}
        return nid

    for oid, label, kind, waiters, targets, stuck in objects:
        nodes[oid] = {"id": oid, "kind": "object", "label": label,
                      "cycle": oid in cycle_nodes, "stuck": stuck is not None,
                      "group": None}
        if stuck is not None:
            stuck_objs.add(oid)
        folded = [g for g in waiters if g not in individual]
        for g in waiters:
            if g in individual:
                nid = gnode(g)
                edges.append({"from": nid, "to": oid, "label": "waits",
                              "cycle": (nid, oid) in cycle_edges})
        if folded:
            wid = "w" + oid[1:]
            nodes[wid] = {"id": wid, "kind": "waiters",
                          "label": "%d goroutine%s\n%s" % (
                              len(folded), "" if len(folded) == 1 else "s",
                              _short_ids(folded)),
                          "cycle": False, "stuck": stuck is not None,
                          "group": data["goid_group"].get(folded[0])}
            edges.append({"from": wid, "to": oid, "label": "wait",
                          "cycle": False})
        seen = set()
        tl = [(g, v) for g, v in targets] + [
            (g, "wakes") for g in sorted(extra_targets.get(oid, ()))]
        for g, verb in tl:
            if g in seen:
                continue
            seen.add(g)
            nid = gnode(g)
            edges.append({"from": oid, "to": nid, "label": verb,
                          "cycle": (oid, nid) in cycle_edges})
    return {"nodes": list(nodes.values()), "edges": edges,
            "dropped_objects": dropped}


_NODE_STYLE = {  # fill, stroke, text
    "goroutine": ("#eef4ff", "#7a9cd6", "#1d2b4f"),
    "waiters": ("#f4f5f7", "#a5adba", "#333c4a"),
    "object": ("#fff8e6", "#d9a93d", "#4a3a10"),
}
_CYCLE = "#d1343e"
_STUCK = "#e07b1f"


def _node_colors(n):
    fill, stroke, text = _NODE_STYLE[n["kind"]]
    if n["cycle"]:
        fill, stroke = "#fde8e9", _CYCLE
    elif n["stuck"] and n["kind"] == "object":
        fill, stroke = "#fff0e0", _STUCK
    return fill, stroke, text


def _node_class(n):
    cls = ["wf-" + n["kind"]]
    if n["cycle"]:
        cls.append("cycle")
    if n["stuck"]:
        cls.append("stuck")
    return " ".join(cls)


def _components(graph):
    """The graph cut into connected components, cycles first, then bigger
    first: [{"nodes": [...], "edges": [(index, edge)]}]. Each is drawn as
    a picture of its own; the page lays them out side by side."""
    und = {n["id"]: set() for n in graph["nodes"]}
    for e in graph["edges"]:
        und[e["from"]].add(e["to"])
        und[e["to"]].add(e["from"])
    byid = {n["id"]: n for n in graph["nodes"]}
    seen, comps = set(), []
    for k in und:
        if k in seen:
            continue
        seen.add(k)
        stack, members = [k], []
        while stack:
            x = stack.pop()
            members.append(x)
            for y in sorted(und[x]):
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        mset = set(members)
        comps.append({"nodes": [n for n in graph["nodes"] if n["id"] in mset],
                      "edges": [(i, e) for i, e in enumerate(graph["edges"])
                                if e["from"] in mset]})
    comps.sort(key=lambda c: (not any(n["cycle"] for n in c["nodes"]),
                              not any(n["stuck"] for n in c["nodes"]),
                              -len(c["nodes"]),
                              min(byid[n["id"]]["label"]
                                  for n in c["nodes"])))
    return comps


def _dot_one(comp, name):
    def q(s):
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"') \
            .replace("\n", "\\n")
    out = ["digraph %s {" % name,
           ' rankdir=LR; bgcolor="transparent"; nodesep=0.25; ranksep=0.45;'
           ' pad=0.05;',
           ' node [shape=box style="rounded,filled" fontname="Helvetica"'
           ' fontsize=10 penwidth=1.2 margin="0.12,0.06"];',
           ' edge [fontname="Helvetica" fontsize=8 color="#8c96a5"'
           ' fontcolor="#6b7584" arrowsize=0.7];']
    for n in comp["nodes"]:
        fill, stroke, text = _node_colors(n)
        href = (' href="#group-%d"' % n["group"]) \
            if n["group"] is not None else ""
        out.append(" %s [id=%s class=%s label=%s fillcolor=%s color=%s "
                   "fontcolor=%s%s%s];" % (
                       q(n["id"]), q(n["id"]), q(_node_class(n)),
                       q(n["label"]), q(fill), q(stroke), q(text), href,
                       " penwidth=2" if n["cycle"] else ""))
    for i, e in comp["edges"]:
        attrs = 'id="e%d" label=%s' % (i, q(e["label"]))
        if e["cycle"]:
            attrs += ' class="cycle" color="%s" fontcolor="%s" penwidth=2' \
                % (_CYCLE, _CYCLE)
        out.append(" %s -> %s [%s];" % (q(e["from"]), q(e["to"]), attrs))
    out.append("}")
    return "\n".join(out) + "\n"


def graph_dot(graph):
    """The graph in Graphviz's language: one digraph per component (dot
    draws each into an SVG document of its own, in order)."""
    return "".join(_dot_one(c, "wf%d" % i)
                   for i, c in enumerate(_components(graph)))


def graph_svg(graph, layout=None):
    """([svg text per component], which layout drew them). layout: "dot",
    "builtin" or None (dot when installed; GOPARKED_GRAPH_LAYOUT
    overrides)."""
    if not graph["nodes"]:
        return [], "none"
    layout = layout or os.environ.get("GOPARKED_GRAPH_LAYOUT") or "auto"
    comps = _components(graph)
    if layout in ("auto", "dot") and shutil.which("dot"):
        try:
            r = subprocess.run(["dot", "-Tsvg"], input=graph_dot(graph),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=60)
            svgs = ["<svg" + part[:part.rindex("</svg>") + 6]
                    for part in r.stdout.split("<svg")[1:]
                    if "</svg>" in part]
            if r.returncode == 0 and len(svgs) == len(comps):
                return svgs, "dot"
        except (OSError, subprocess.SubprocessError):
            pass
    return [_builtin_one(c) for c in comps], "builtin"


def _text_width(s, size=10):
    return max(len(line) for line in s.split("\n")) * size * 0.58


def graph_svg_builtin(graph):
    """Every component drawn by the built-in layout: [svg text]."""
    return [_builtin_one(c) for c in _components(graph)]


def _builtin_one(comp):
    """A layered left-to-right layout of one component, as dot would do it
    in small: layers by longest path once the edges that close cycles are
    turned round, order within a layer by the barycenter of the
    neighbours (a few sweeps)."""
    nodes = {n["id"]: n for n in comp["nodes"]}
    members = list(nodes)
    out_e = {k: [] for k in nodes}
    und = {k: set() for k in nodes}
    for _, e in comp["edges"]:
        out_e[e["from"]].append(e["to"])
        und[e["from"]].add(e["to"])
        und[e["to"]].add(e["from"])
    size = {}
    for k, n in nodes.items():
        lines = n["label"].count("\n") + 1
        size[k] = (max(70, _text_width(n["label"]) + 20), 14 * lines + 12)
    # DFS: an edge to a node on the stack closes a cycle; reverse it.
    dag = {k: [] for k in members}
    state = {}
    for root in members:
        if root in state:
            continue
        stack = [(root, iter(out_e[root]))]
        state[root] = 1
        while stack:
            x, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[x] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                dag[nxt].append(x)
            else:
                dag[x].append(nxt)
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(out_e[nxt])))
    indeg = {k: 0 for k in members}
    for k in members:
        for y in dag[k]:
            indeg[y] += 1
    layer = {k: 0 for k in members}
    ready = [k for k in members if indeg[k] == 0]
    while ready:
        x = ready.pop()
        for y in dag[x]:
            layer[y] = max(layer[y], layer[x] + 1)
            indeg[y] -= 1
            if indeg[y] == 0:
                ready.append(y)
    nl = max(layer.values()) + 1
    layers = [[k for k in members if layer[k] == i] for i in range(nl)]
    for _ in range(4):
        for i in list(range(1, nl)) + list(range(nl - 2, -1, -1)):
            ref = layers[i - 1] if i > 0 else layers[i + 1]
            rpos = {k: j for j, k in enumerate(ref)}

            def bary(k):
                ps = [rpos[y] for y in und[k] if y in rpos]
                return sum(ps) / len(ps) if ps else 1e9
            layers[i].sort(key=bary)
    col_w = [max(size[k][0] for k in ly) for ly in layers]
    col_h = [sum(size[k][1] for k in ly) + 14 * (len(ly) - 1)
             for ly in layers]
    band = max(col_h)
    pos, x = {}, 6
    for i, ly in enumerate(layers):
        y = 6 + (band - col_h[i]) / 2
        for k in ly:
            w, h = size[k]
            pos[k] = (x + (col_w[i] - w) / 2, y, w, h)
            y += h + 14
        x += col_w[i] + 70
    has_back = any(pos[e["to"]][0] <= pos[e["from"]][0]
                   for _, e in comp["edges"])
    width, height = x - 70 + 6, band + 12 + (40 if has_back else 0)

    esc = _html.escape
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d"'
             ' viewBox="0 0 %d %d" class="builtin">' % (
                 width, height, width, height),
             '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" '
             'refY="5" markerWidth="7" markerHeight="7" orient="auto">'
             '<path d="M0,0L10,5L0,10z" fill="#8c96a5"/></marker>'
             '<marker id="wf-arrow-cycle" viewBox="0 0 10 10" refX="9" '
             'refY="5" markerWidth="7" markerHeight="7" orient="auto">'
             '<path d="M0,0L10,5L0,10z" fill="%s"/></marker></defs>'
             % _CYCLE]
    for i, e in comp["edges"]:
        ax, ay, aw, ah = pos[e["from"]]
        bx, by, bw, bh = pos[e["to"]]
        color = _CYCLE if e["cycle"] else "#8c96a5"
        if bx > ax + aw:  # forward: right side to left side
            x1, y1, x2, y2 = ax + aw, ay + ah / 2, bx, by + bh / 2
            dx = (x2 - x1) / 2
            d = "M%.1f,%.1fC%.1f,%.1f %.1f,%.1f %.1f,%.1f" % (
                x1, y1, x1 + dx, y1, x2 - dx, y2, x2, y2)
            lx, ly = (x1 + x2) / 2, (y1 + y2) / 2 - 4
        else:  # closes a cycle: loop below both boxes
            x1, y1 = ax + aw / 2, ay + ah
            x2, y2 = bx + bw / 2, by + bh
            low = max(y1, y2) + 34
            d = "M%.1f,%.1fC%.1f,%.1f %.1f,%.1f %.1f,%.1f" % (
                x1, y1, x1, low, x2, low, x2, y2)
            lx, ly = (x1 + x2) / 2, low - 4
        parts.append(
            '<g id="e%d" class="edge%s"><path d="%s" fill="none" stroke="%s"'
            ' stroke-width="%s" marker-end="url(#%s)"/>'
            '<text x="%.1f" y="%.1f" font-size="8" fill="%s" '
            'text-anchor="middle">%s</text></g>' % (
                i, " cycle" if e["cycle"] else "", d, color,
                "2" if e["cycle"] else "1.2",
                "wf-arrow-cycle" if e["cycle"] else "wf-arrow", lx, ly,
                color if e["cycle"] else "#6b7584", esc(e["label"])))
    for k, n in nodes.items():
        x, y, w, h = pos[k]
        fill, stroke, text = _node_colors(n)
        lines = n["label"].split("\n")
        body = ['<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="6" '
                'fill="%s" stroke="%s" stroke-width="%s"/>' % (
                    x, y, w, h, fill, stroke, "2" if n["cycle"] else "1.2")]
        for j, line in enumerate(lines):
            body.append('<text x="%.1f" y="%.1f" font-size="10" fill="%s" '
                        'text-anchor="middle">%s</text>' % (
                            x + w / 2, y + 16 + 14 * j, text, esc(line)))
        inner = "".join(body)
        if n["group"] is not None:
            inner = '<a href="#group-%d">%s</a>' % (n["group"], inner)
        parts.append('<g id="%s" class="node %s"><title>%s</title>%s</g>'
                     % (esc(k), _node_class(n), esc(n["label"]), inner))
    parts.append("</svg>")
    return "".join(parts)


# ==================================================================== HTML

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
table.stack tr.site td{background:#fff7d6;color:var(--ink);font-weight:600}
table.stack td.loc{color:var(--muted);word-break:break-all}
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
    return _html.escape(str(s), quote=True)


def _loc(f, full=False):
    if not f or not f.get("file"):
        return "?"
    path = f["file"] if full else "/".join(f["file"].split("/")[-2:])
    return "%s:%d" % (path, f["line"])


def _age_text(g):
    if not g["age_ns"]:
        return "age unknown" if g["count"] else ""
    lo, hi = (format_duration(v) for v in g["age_ns"])
    t = lo if lo == hi else "%s – %s" % (lo, hi)
    if g["age_known"] < g["count"]:
        t += " (%d/%d)" % (g["age_known"], g["count"])
    return t


def _group_title(g, by):
    if by in ("chan", "mutex") and g["key_address"]:
        return "0x%x" % g["key_address"], (g["site"] and g["site"]["func"])
    if by in ("creator", "label", "age") and g["key"]:
        return g["key"], (g["site"] and g["site"]["func"])
    if g["site"]:
        return g["site"]["func"], _loc(g["site"])
    return g["key"] or "?", ""


def _goid_links(data, goids, limit=12):
    gg = data["goid_group"]
    out = []
    for goid in goids[:limit]:
        if goid in gg:
            out.append('<a href="#group-%d">%d</a>' % (gg[goid], goid))
        else:
            out.append(str(goid))
    s = " ".join(out)
    if len(goids) > limit:
        s += " <span class=ev>+%d more</span>" % (len(goids) - limit)
    return s


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
        title, loc = _group_title(g, data["by"])
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
                g["index"], g["count"], _e(title), _e(reason), g["count"],
                g["index"], lw - 8, y + 11, _e(label), lw - 8, y + 22,
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
    cols = list(buckets) + ([("unknown", unknown)] if unknown else [])
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
        color = "#b0b8c4" if label == "unknown" else "#4c7fd9"
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


def _verdict_items(data):
    """[(tag class, tag, html)] the verdict, most severe first."""
    items = []
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
        title, loc = _group_title(g, data["by"])
        items.append(("grey", "group", "<b>%d</b> × %s at <code>%s</code> "
                      "<span class=ev>%s</span> <a href=\"#group-%d\">"
                      "stack</a>" % (
                          g["count"], _e(g["wait_reason"] or
                                         ",".join(g["states"])),
                          _e(title), _e(loc), g["index"])))
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
    cards = [
        ("goroutines", data["goroutines"], ""),
        ("parked (waiting)", parked, ""),
        ("deadlock cycles", len(data["cycles"]),
         "bad" if data["cycles"] else "ok"),
        ("blocked forever", provable, "bad" if provable else "ok"),
        ("likely leaked objects", sum(1 for s in data["stuck"]
                                      if not s["provable"]),
         "warn" if any(not s["provable"] for s in data["stuck"]) else "ok"),
        ("oldest wait", format_duration(data["oldest_ns"])
         if data["oldest_ns"] is not None else "–", ""),
    ]
    keys = ["goroutines", "waiting", "cycles", "blocked", "leaks", "oldest"]
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
        title, loc = _group_title(g, by)
        reason = g["wait_reason"] or ",".join(g["states"])
        rows = []
        for j, f in enumerate(g["frames"]):
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
                            if f["inlined"] else "", _e(_loc(f, True))))
        ids = g["goids"][:MAX_IDS]
        more = len(g["goids"]) - len(ids)
        out.append(
            '<details class="group" id="group-%d" data-count="%d">'
            '<summary><span class="count">%d</span><span class="reason">%s'
            '</span><span class="site">%s <span class="loc">%s</span></span>'
            '<span class="age">%s</span></summary><div class="gbody">'
            '<table class="stack">%s</table>'
            '<p><span class=ev>goroutine%s</span> <span class="ids">%s</span>'
            '%s</p></div></details>' % (
                g["index"], g["count"], g["count"], _e(reason), _e(title),
                _e(loc), _e(_age_text(g)), "".join(rows) or
                "<tr><td>(no stack)</td></tr>",
                "" if g["count"] == 1 else "s",
                " ".join(str(i) for i in ids),
                " <span class=ev>+%d more</span>" % more if more else ""))
    rest = data["groups"][MAX_GROUPS:]
    if rest:
        out.append('<p class=ev>%d more groups (%d goroutines) not listed; '
                   'goparked --json has them all.</p>'
                   % (len(rest), sum(g["count"] for g in rest)))
    return "".join(out)


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
            notes.append("timer" + (", every %s" % format_duration(
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
        roles = {}
        for w in s["waiters"]:
            roles.setdefault(w["role"], []).append(w["goid"])
        waiting = "".join('<div><span class=ev>%s</span> %d: <span class=ids>'
                          '%s</span></div>' % (_e(r), len(g),
                                               _goid_links(data, g, 6))
                          for r, g in roles.items())
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
                _CYCLE, _STUCK,
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


# ================================================================ Markdown

def _md(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def markdown(data):
    """The same summary as the HTML, for pasting into a postmortem."""
    p, t = data["program"], data["taken"]
    out = ["# goparked report: %s" % p["name"], ""]
    out.append("| | |")
    out.append("|---|---|")
    out.append("| Program | `%s` |" % _md(p["exe"] or p["name"]))
    out.append("| Go | %s |" % _md(p["go_version"] or "unknown"))
    out.append("| %s | `%s` |" % (p["source"].capitalize(), _md(p["target"])))
    out.append("| Taken | %s |" % (
        "%s (%s%s)" % (t["text"], _md(t["source"] or ""),
                       "" if t["exact"] else "; ages are lower bounds")
        if t["text"] else "unknown"))
    out.append("| Goroutines | %d |" % data["goroutines"])
    out.append("| Runtime goroutines | %d |" % data["system"])
    out.append("| Deadlock cycles | %d |" % len(data["cycles"]))
    out.append("| Blocked forever | %d |" % sum(
        len(s["goids"]) for s in data["stuck"] if s["provable"]))
    out.append("| Oldest wait | %s |" % (
        format_duration(data["oldest_ns"]) if data["oldest_ns"] is not None
        else "–"))
    out += ["", "## Goroutines by state", "", "| State | Goroutines |",
            "|---|---:|"]
    for s, n in data["by_state"].items():
        out.append("| %s | %d |" % (s, n))
    out += ["", "## Verdict", ""]
    if data["cycles"]:
        out.append("**%d wait cycle%s:**" % (
            len(data["cycles"]), "" if len(data["cycles"]) == 1 else "s"))
        out.append("")
        for i, c in enumerate(data["cycles"], 1):
            chain = " → ".join("goroutine %d (%s 0x%x)" % (
                e["from"], e["kind"], e["object"]) for e in c["edges"])
            out.append("%d. %s → goroutine %d" % (i, chain,
                                                  c["edges"][0]["from"]))
        out.append("")
    if data["stuck"]:
        out += ["**Nobody can wake:**", "",
                "| Object | Reason | Proof | Goroutines |",
                "|---|---|---|---|"]
        for s in data["stuck"]:
            what = ("select {}" if s["reason"] == "select {}" else
                    "nil channel" if s["object"] == 0 else
                    "%s 0x%x" % (s["kind"], s["object"]))
            out.append("| %s | %s | %s | %d: %s |" % (
                _md(what), _md(s["reason"]),
                "provable" if s["provable"] else "evidence",
                len(s["goids"]), _md(_short_ids(s["goids"], 12))))
        out.append("")
    if not data["cycles"] and not data["stuck"]:
        out += ["No wait cycles, and nothing found that nobody can wake.", ""]
    out += ["## Biggest groups (by %s)" % data["by"], "",
            "%d goroutines in %d groups." % (data["grouped"],
                                              len(data["groups"])), "",
            "| # | Count | Wait | Where | Parked | Goroutines |",
            "|---:|---:|---|---|---|---|"]
    for g in data["groups"][:MD_GROUPS]:
        title, loc = _group_title(g, data["by"])
        out.append("| %d | %d | %s | `%s` %s | %s | %s |" % (
            g["index"] + 1, g["count"],
            _md(g["wait_reason"] or ",".join(g["states"])), _md(title),
            _md(loc), _md(_age_text(g)), _md(_short_ids(g["goids"], 10))))
    rest = data["groups"][MD_GROUPS:]
    if rest:
        out.append("")
        out.append("%d more groups (%d goroutines) in the HTML report." % (
            len(rest), sum(g["count"] for g in rest)))
    if data["chans"] or data["syncs"]:
        out += ["", "## Channels and locks", "",
                "| Object | State | Waiters | Holder / waker | Verdict |",
                "|---|---|---:|---|---|"]
        for c in data["chans"][:MD_GROUPS]:
            what = "nil channel" if c["nil"] else "chan %s 0x%x" % (
                c["elem_type"] or "?", c["address"])
            best = [h for h in c["wakers"] if h["rank"] == 1]
            out.append("| `%s` | %s | %d | %s | %s |" % (
                _md(what), "" if c["nil"] else "%d/%d%s" % (
                    c["len"], c["cap"], " closed" if c["closed"] else ""),
                len(c["recv"]) + len(c["send"]) + len(c["other"]),
                _md("; ".join("goroutine %d" % h["goid"] for h in best)),
                _md(c["stuck"]["reason"] if c["stuck"] else "")))
        for s in data["syncs"][:MD_GROUPS]:
            best = [h for h in s["holders"] if h["rank"] == 1]
            out.append("| `%s 0x%x` | %s | %d | %s | %s |" % (
                s["kind"], s["address"], _md(s["state"]), len(s["waiters"]),
                _md("; ".join("goroutine %d: %s" % (h["goid"], h["evidence"])
                              for h in best)),
                _md(s["stuck"]["reason"] if s["stuck"] else "")))
    out += ["", "## Stacks of the biggest groups", ""]
    for g in data["groups"][:MD_STACKS]:
        title, loc = _group_title(g, data["by"])
        out.append("**%d × %s** at `%s`" % (
            g["count"], _md(g["wait_reason"] or ",".join(g["states"])),
            _md(title)))
        out.append("")
        out.append("```")
        for f in g["frames"]:
            out.append("%s%s\n\t%s" % (f["func"], " (inlined)"
                                       if f["inlined"] else "",
                                       _loc(f, True)))
        out.append("```")
        out.append("")
    out.append("_Made with goparked %s._" % data["generated"])
    return "\n".join(out) + "\n"


# ================================================================ the command

def build_parser():
    from .options import OptionParser, add_filter_options
    p = OptionParser(
        prog="goparked report",
        description="A postmortem report of a Go program's goroutines: one "
        "self-contained HTML file (charts, wait-for graph, every group's "
        "stack) or Markdown.")
    p.add_argument("core", nargs="?", metavar="CORE",
                   help="core file of a Go program")
    p.add_argument("--exe", metavar="BIN",
                   help="the executable the core came from")
    p.add_argument("--pid", type=int, metavar="PID",
                   help="a live process instead of a core")
    p.add_argument("-o", "--output", metavar="FILE", default="-",
                   help="where to write (default: standard output)")
    p.add_argument("--format", choices=("html", "md"), default=None,
                   help="html (default) or md; FILE ending in .md means md")
    add_filter_options(p)
    return p


def render(ns, snap, progress=None):
    """The report text the options ask for, from a snapshot."""
    from .options import filter_from_options
    grouping = snap.group(ns.by, filter_from_options(ns))
    data = collect(snap, grouping, progress)
    fmt = ns.format or ("md" if ns.output.endswith((".md", ".markdown"))
                        else "html")
    if progress is not None:
        progress.phase("drawing")
    return html(data) if fmt == "html" else markdown(data)


def write(text, path):
    import sys
    if path == "-":
        sys.stdout.write(text)
        return
    from .outfile import write_output
    write_output(path, text.encode("utf-8"))
