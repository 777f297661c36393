"""The report's first stage: a snapshot turned into plain data (dicts
and lists, nothing from the engine), which html.py and markdown.py render.

Every conclusion comes from the engine: groups, channels, sync objects and
their holders, cycles, what nobody can wake, and which holder is an edge of
the wait-for graph (Holder.wakes, the engine's gp_holder_wakes).
"""

import datetime
import os
from itertools import repeat

from ctypes import POINTER, byref, c_size_t

from .. import _native as N
from .. import analysis as A
from .. import text
from .graph import build_graph

__all__ = ["collect", "group_title"]


def _frame(f):
    return {"func": f.func or "?", "file": f.file or "", "line": f.line,
            "inlined": f.inlined}


def _age_buckets(snap, grouping):
    """([(label, count)], unknown, oldest ns or None) of the grouping's
    goroutines in the engine's age buckets (its --by age grouping, same
    filter), first to last non-empty bucket (the empty ones between stay:
    a gap is information)."""
    counts = dict.fromkeys((name for _, name in text.age_buckets()), 0)
    unknown, oldest = 0, None
    for g in snap.group("age", grouping.filter):
        if g.key in counts:
            counts[g.key] += g.count
        else:
            unknown += g.count
        rng = g.age_range
        if rng is not None:
            if oldest is None or rng[1] > oldest:
                oldest = rng[1]
    names = [name for _, name in text.age_buckets()]
    nz = [i for i, name in enumerate(names) if counts[name]]
    if not nz:
        return [], unknown, oldest
    return ([(names[i], counts[names[i]]) for i in range(nz[0], nz[-1] + 1)],
            unknown, oldest)


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
    goid = snap.field_view("goid")
    gor = N.u32_view(arr, cnt.value, N.Waiter, "goroutine")
    role = N.u32_view(arr, cnt.value, N.Waiter, "role")
    flags = N.u32_view(arr, cnt.value, N.Waiter, "flags")
    names = N.ROLE_NAMES
    out = {}
    for i in range(n.value):
        o = p[i]
        lo = o.waiters_first
        hi = min(lo + o.nwaiters, cnt.value)
        ws = [(goid[g], names.get(r, "?"), bool(f & 1)) for g, r, f in
              zip(gor[lo:hi], role[lo:hi], flags[lo:hi])]
        key = o.address if what == "chan" else \
            (o.address, N.OBJ_KIND_NAMES.get(o.kind, "?"))
        out.setdefault(key, []).extend(ws)
    return out


def _shown(g, all_frames):
    """(frame dicts, index of the site among them or None): the frames the
    runtime's own traceback shows (text.shown_frames) unless all_frames."""
    frames = g.frames
    keep = text.shown_frames(frames, all_frames)
    ids = {id(f) for f in keep}
    index = [i for i, f in enumerate(frames) if id(f) in ids]
    site = g.site_index
    return ([_frame(frames[i]) for i in index],
            index.index(site) if site in index else None)


def collect(snap, grouping, progress=None, all_frames=False):
    """Everything the report shows, as plain data (stacks as the runtime's
    non-crash traceback shows them, every frame with all_frames)."""
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
    groups = []
    for gi, g in enumerate(grouping.groups):
        site = g.site
        rng = g.age_range
        frames, site_frame = _shown(g, all_frames)
        groups.append({
            "index": gi,
            "count": g.count,
            "key": g.key or None,
            "key_address": g.key_address or None,
            "wait_reason": g.wait_reason or None,
            "states": g.states,
            "site": _frame(site) if site else None,
            "site_frame": site_frame,
            "frames": frames,
            "age_ns": list(rng) if rng else None,
            "age_known": g.age_known,
            "goids": g.goids(),
            "labels": g.labels if grouping.by == "label" else None,
        })
    # goid -> the first group listing it (a goroutine in a select can be
    # in several --by chan groups): later groups first, earlier overwrite
    goid_group = {}
    for gr in reversed(groups):
        goid_group.update(zip(gr["goids"], repeat(gr["index"])))
    data["groups"] = groups
    data["ages"], data["ages_unknown"], data["oldest_ns"] = \
        _age_buckets(snap, grouping)
    data["goid_group"] = goid_group

    phase("deciding the leak verdict")
    data["leaks"] = _leaks(snap, grouping)
    for g, raw in zip(groups, grouping.groups):
        g["verdicts"] = data["leaks"]["view"].group_counts(raw)
    del data["leaks"]["view"]

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
            "wakers": [{"goid": h.goid, "rank": h.rank, "wakes": h.wakes,
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
            "holders": [{"goid": h.goid, "rank": h.rank, "wakes": h.wakes,
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
    data["graph"] = build_graph(data)
    return data


LEAK_ROWS = 40          # verdict rows kept for the page (most severe first)


def _leaks(snap, grouping):
    """The leak verdict (goparked/verdict.py) as plain data: counts, and
    the rows by site, most severe first, with cause, creator and, for what
    can still be woken, a retention path in words."""
    from .. import verdict as V
    view = V.VerdictView(snap, snap.group("site", grouping.filter))
    rows = []
    for r in view.rows()[:LEAK_ROWS]:
        v = view.example(r)
        g = r.group
        rows.append({
            "verdict": r.verdict, "words": r.words, "reason": r.reason,
            "reason_words": r.reason_words, "count": r.count,
            "wait_reason": g.wait_reason or None,
            "site": _frame(g.site) if g.site else None,
            "object": v.object or None, "holder_goid": v.holder_goid,
            "created_by": view.creator(r),
            "path": V.path_words(v.path) if r.verdict == "blocked" else "",
            "goids": view.goids(r, 10),
        })
    vv = view.verdicts
    return {"view": V.VerdictView(snap, grouping),
            "counts": {k: view.counts.get(k, 0) for k in V.ORDER},
            "heap_model": vv.heap_model, "heap_error": vv.heap_error,
            "rows": rows}


def group_title(g, by):
    """(title, where) of a group for the page and the Markdown: its key
    object or name, else its site; strings from the target made safe."""
    site = g["site"]
    func = text.target_str(site["func"]) if site else None
    if by in ("chan", "mutex") and g["key_address"]:
        return "0x%x" % g["key_address"], func
    if by == "label":
        return text.labels_text(g.get("labels")), func
    if by in ("creator", "age") and g["key"]:
        return text.target_str(g["key"]), func
    if site:
        return func, text.frame_location(site)
    return text.target_str(g["key"]), ""


