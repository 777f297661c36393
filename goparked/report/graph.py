"""The wait-for graph as the report draws it: goroutine -> object it
waits on -> goroutine that holds it or could wake it. The edges out of an
object are the engine's (the holders its gp_holder_wakes accepts, the same
rule waitgraph.c builds its cycles on); this file only chooses what to
draw (the objects in cycles, nobody can wake, then the most waited on)
and lays it out: Graphviz (`dot -Tsvg`) when installed, else a small
layered layout of its own; both give the same node ids and classes.
"""

import html as _html
import os
import shutil
import subprocess

from .. import text

__all__ = ["build_graph", "graph_dot", "graph_svg", "graph_svg_builtin",
           "MAX_GRAPH_OBJECTS", "CYCLE_COLOR", "STUCK_COLOR"]

MAX_GRAPH_OBJECTS = 40  # objects drawn in the wait-for graph


def build_graph(data):
    """Nodes and edges of the wait-for graph (collect()'s data): goroutine
    -> object it waits on -> goroutine that holds it or could wake it, as
    the engine decides (the holders whose "wakes" is true). Waiters that
    are nothing else are folded into one node per object."""
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
        if c["nil"]:
            label = "nil channel"
        else:
            label = "chan %s\n0x%x" % (text.target_str(c["elem_type"]),
                                        c["address"])
        objects.append(("o%x_chan" % c["address"], label, "chan",
                        c["waiters"].unique(),
                        [(h["goid"], "could send") for h in c["wakers"]
                         if h["wakes"]], c["stuck"]))
    for s in data["syncs"]:
        verb = "held by" if s["kind"] in ("mutex", "rwmutex") else \
            "could wake"
        objects.append(("o%x_%s" % (s["address"], s["kind"]),
                        "%s\n0x%x" % (s["kind"], s["address"]), s["kind"],
                        s["waiters"].unique(),
                        [(h["goid"], verb) for h in s["holders"]
                         if h["wakes"]], s["stuck"]))
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
                              goid, text.target_str(reasons.get(goid), "")),
                          "cycle": nid in cycle_nodes, "stuck": False,
                          "group": data["goid_group"].get(goid)}
        return nid

    for oid, label, kind, waiters, targets, stuck in objects:
        nodes[oid] = {"id": oid, "kind": "object", "label": label,
                      "cycle": oid in cycle_nodes, "stuck": stuck is not None,
                      "group": None}
        if stuck is not None:
            stuck_objs.add(oid)
        # waiters: sorted goids, a list or a collect.Goids (a million
        # long, read only for the few ids drawn)
        if getattr(waiters, "is_sorted", False):
            mine = sorted(g for g in individual
                          if waiters.contains_sorted(g))
        else:
            mine = [g for g in waiters if g in individual]
        for g in mine:
            nid = gnode(g)
            edges.append({"from": nid, "to": oid, "label": "waits",
                          "cycle": (nid, oid) in cycle_edges})
        nfolded = len(waiters) - len(mine)
        if nfolded:
            folded = []
            for g in waiters:
                if g not in individual:
                    folded.append(g)
                    if len(folded) == 6:
                        break
            wid = "w" + oid[1:]
            nodes[wid] = {"id": wid, "kind": "waiters",
                          "label": "%d goroutine%s\n%s" % (
                              nfolded, "" if nfolded == 1 else "s",
                              text.ids(folded, 6, total=nfolded)),
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
CYCLE_COLOR = "#d1343e"
STUCK_COLOR = "#e07b1f"


def _node_colors(n):
    fill, stroke, text = _NODE_STYLE[n["kind"]]
    if n["cycle"]:
        fill, stroke = "#fde8e9", CYCLE_COLOR
    elif n["stuck"] and n["kind"] == "object":
        fill, stroke = "#fff0e0", STUCK_COLOR
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
                % (CYCLE_COLOR, CYCLE_COLOR)
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
             % CYCLE_COLOR]
    for i, e in comp["edges"]:
        ax, ay, aw, ah = pos[e["from"]]
        bx, by, bw, bh = pos[e["to"]]
        color = CYCLE_COLOR if e["cycle"] else "#8c96a5"
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


