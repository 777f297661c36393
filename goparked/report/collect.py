"""The report's first stage: a snapshot turned into plain data (dicts
and lists, nothing from the engine), which html.py and markdown.py render.

Every conclusion comes from the engine: groups, channels, sync objects and
their holders, cycles, what nobody can wake, and which holder is an edge of
the wait-for graph (Holder.wakes, the engine's gp_holder_wakes).
"""

import datetime
import operator
import os
from array import array
from bisect import bisect_left
from collections import Counter
from itertools import compress

from ctypes import POINTER, byref, c_size_t

from .. import _native as N
from .. import analysis as A
from .. import text
from .graph import build_graph

__all__ = ["collect", "group_title"]


def _frame(f):
    return {"func": f.func or "?", "file": f.file or "", "line": f.line,
            "inlined": f.inlined}


# Label sets listed per group (the most common first), and the groups that
# get them: as many as the page lists (html.MAX_GROUPS).
MAX_LABEL_SETS = 10
MAX_LABEL_GROUPS = 500


def _label_sets_of(snap, grouping):
    """A function group -> ([{"labels": dict, "count": n}], sets left out):
    the distinct pprof label sets of the group's members, the most common
    first, "no labels" among them when some members have none; ([], 0)
    when no member has any. Members are counted by their label set id in
    the engine's array (no Python object per goroutine), and not at all
    when no goroutine of the snapshot has a label."""
    if not len(snap):
        return lambda g: ([], 0)
    ids = array("I", snap.field_view("labels").tobytes())
    if ids.count(N.NONE) == len(ids):
        return lambda g: ([], 0)
    members = grouping._members_view()

    def sets(g):
        first = g._first
        idx = members[first:first + g.count].tolist()
        if not idx:
            return [], 0
        # the members' label set ids, gathered in C
        got = operator.itemgetter(*idx)(ids)
        counts = Counter(got if len(idx) > 1 else (got,))
        if set(counts) == {N.NONE}:
            return [], 0
        rows = [(n, snap.labels(None if i == N.NONE else i))
                for i, n in counts.items()]
        rows.sort(key=lambda r: (-r[0], text.labels_text(r[1])))
        return ([{"labels": lab, "count": n}
                 for n, lab in rows[:MAX_LABEL_SETS]],
                max(0, len(rows) - MAX_LABEL_SETS))
    return sets


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


class Goids:
    """Goroutine ids of snapshot indexes (an array of uint32), read on
    demand: a channel a million goroutines wait on stays one array, not a
    million Python objects. len(), ids[i], ids[:k] (a list) and iteration
    give goids in the order of the indexes."""

    __slots__ = ("_goid", "_idx", "is_sorted")

    def __init__(self, goid, idx, is_sorted=False):
        self._goid = goid       # the snapshot's goid field view
        self._idx = idx         # array("I") of goroutine indexes
        self.is_sorted = is_sorted  # by goid, each once (unique())

    def __len__(self):
        return len(self._idx)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._goid[j] for j in self._idx[i]]
        return self._goid[self._idx[i]]

    def __iter__(self):
        return map(self._goid.__getitem__, self._idx)

    def unique(self, *more):
        """Goids of these and more, each once, sorted: the snapshot's
        goroutines are sorted by goid, so sorted indexes are sorted ids."""
        idx = array("I", self._idx)
        for m in more:
            idx.extend(m._idx)
        return Goids(self._goid, array("I", sorted(set(idx))), True)

    def contains_sorted(self, goid):
        """Whether goid is among these (sorted, as unique() gives)."""
        lo, hi = 0, len(self._idx)
        while lo < hi:
            mid = (lo + hi) // 2
            g = self._goid[self._idx[mid]]
            if g == goid:
                return True
            if g < goid:
                lo = mid + 1
            else:
                hi = mid
        return False


def _u32(view):
    a = array("I")
    a.frombytes(view.tobytes())
    return a


def _where(idx, values, pred):
    """array of idx[i] for which pred(values[i]) (a C loop, no Python code
    per element)."""
    return array("I", compress(idx, map(pred, values)))


def _raw_waiters(snap, what):
    """{channel address | (sync address, kind): (goroutine indexes, roles,
    flags)}, three arrays("I") read from the engine's waiter array in its
    order: analysis.Waiter makes a Goroutine object per waiter, too slow
    for a million of them."""
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
    gor = N.u32_view(arr, cnt.value, N.Waiter, "goroutine")
    role = N.u32_view(arr, cnt.value, N.Waiter, "role")
    flags = N.u32_view(arr, cnt.value, N.Waiter, "flags")
    out = {}
    for i in range(n.value):
        o = p[i]
        lo = o.waiters_first
        hi = min(lo + o.nwaiters, cnt.value)
        key = o.address if what == "chan" else \
            (o.address, N.OBJ_KIND_NAMES.get(o.kind, "?"))
        have = out.get(key)
        if have is None:
            out[key] = (_u32(gor[lo:hi]), _u32(role[lo:hi]),
                        _u32(flags[lo:hi]))
        else:
            for a, v in zip(have, (gor, role, flags)):
                a.extend(_u32(v[lo:hi]))
    return out


_EMPTY = (array("I"), array("I"), array("I"))


def _chan_lists(goid, raw):
    """{"recv", "send", "other", "select", "all"}: Goids of a channel's
    waiters by role (other: neither receive nor send) and in a select."""
    gor, role, flags = raw
    n = len(gor)
    codes = set(role)
    out = {}
    for name, code in (("recv", 1), ("send", 2)):
        if codes == {code}:
            out[name] = gor
        elif code in codes:
            out[name] = _where(gor, role, code.__eq__)
        else:
            out[name] = array("I")
    rest = n - len(out["recv"]) - len(out["send"])
    out["other"] = gor if rest == n else array("I") if not rest else \
        _where(gor, role, lambda r: r not in (1, 2))
    sel = {f & 1 for f in set(flags)}
    out["select"] = gor if sel == {1} else array("I") if 1 not in sel else \
        _where(gor, flags, (1).__and__)
    out = {k: Goids(goid, v) for k, v in out.items()}
    out["all"] = Goids(goid, gor)
    return out


def _sync_roles(goid, raw):
    """[(role name, Goids)] of a sync object's waiters, roles in the order
    of their first waiter."""
    gor, role, _ = raw
    names = N.ROLE_NAMES
    codes = set(role)
    if len(codes) == 1:
        return [(names.get(codes.pop(), "?"), Goids(goid, gor))] if gor \
            else []
    out = {}
    for code in sorted(codes, key=role.index):
        name = names.get(code, "?")
        if name not in out:
            out[name] = _where(gor, role, lambda r, name=name:
                               names.get(r, "?") == name)
    return [(k, Goids(goid, v)) for k, v in out.items()]


MAX_GROUP_IDS = 2000    # member ids kept per group (html's MAX_IDS)


class GoidGroup:
    """goid -> index of the first group listing it (a goroutine in a
    select can be in several --by chan groups), found on demand: a
    search of each group's members (sorted by goid, so by index), not a
    dict of every goroutine."""

    def __init__(self, snap, grouping):
        self._snap = snap
        self._groups = [(g._first, g.count) for g in grouping.groups]
        self._view = grouping._members_view()
        self._memo = {}

    def get(self, goid, default=None):
        gi = self._memo.get(goid, -2)
        if gi == -2:
            gi = self._memo[goid] = self._find(goid)
        return default if gi < 0 else gi

    def _find(self, goid):
        i = self._snap.find(goid)
        if i is None:
            return -1
        view = self._view
        for gi, (lo, n) in enumerate(self._groups):
            hi = min(lo + n, len(view))
            j = bisect_left(view, i, lo, hi)
            if j < hi and view[j] == i:
                return gi
        return -1

    def __contains__(self, goid):
        return self.get(goid) is not None

    def __getitem__(self, goid):
        gi = self.get(goid)
        if gi is None:
            raise KeyError(goid)
        return gi


def _shown(g, all_frames, minor=None):
    """(frame dicts, index of the site among them or None, elided, tail
    frame dicts): the frames the runtime's own traceback shows
    (text.shown_frames) unless all_frames, a deep stack cut as the
    target's runtime cuts it (text.traceback_frames: elided is None, N or
    -1, the tail's frames follow the cut; the site's index counts the head
    and then the tail)."""
    frames = g.frames
    head, elided, tail = text.traceback_frames(frames, minor, all_frames)
    keep = {id(f) for f in head + tail}
    index = [i for i, f in enumerate(frames) if id(f) in keep]
    site = g.site_index
    return ([_frame(f) for f in head],
            index.index(site) if site in index else None, elided,
            [_frame(f) for f in tail])


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
    label_sets = _label_sets_of(snap, grouping)
    minor = text.go_minor(prog.go_version)
    for gi, g in enumerate(grouping.groups):
        site = g.site
        rng = g.age_range
        frames, site_frame, elided, tail = _shown(g, all_frames, minor)
        lsets, lmore = label_sets(g) if gi < MAX_LABEL_GROUPS else ([], 0)
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
            "elided": elided,
            "frames_tail": tail,
            "age_ns": list(rng) if rng else None,
            "age_known": g.age_known,
            "goids": g.goids(MAX_GROUP_IDS),   # the first; count is all
            "labels": g.labels if grouping.by == "label" else None,
            "label_sets": lsets,
            "label_sets_more": lmore,
        })
    data["groups"] = groups
    data["ages"], data["ages_unknown"], data["oldest_ns"] = \
        _age_buckets(snap, grouping)
    data["goid_group"] = GoidGroup(snap, grouping)

    phase("deciding the leak verdict")
    data["leaks"] = _leaks(snap, grouping)
    for g, raw in zip(groups, grouping.groups):
        g["verdicts"] = data["leaks"]["view"].group_counts(raw)
    del data["leaks"]["view"]

    phase("finding deadlocks")
    d = A.Deadlocks(snap, ids=lambda goid, idx: Goids(goid, _u32(idx)))
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
    goid = snap.field_view("goid")
    chan_waiters = _raw_waiters(snap, "chan")
    for c in A.chans(snap):
        ws = _chan_lists(goid, chan_waiters.get(c.address, _EMPTY))
        for h in c.wakers:
            reason_of(h.goroutine)
        s = stuck_by_object.get((c.address, "chan"))
        chans.append({
            "address": c.address, "nil": c.nil, "elem_type": c.elem_type,
            "len": c.len, "cap": c.cap, "closed": c.closed,
            "timer": c.timer, "timer_period_ns": c.timer_period,
            "recv": ws["recv"], "send": ws["send"], "other": ws["other"],
            "select": ws["select"], "waiters": ws["all"],
            "wakers": [{"goid": h.goid, "rank": h.rank, "wakes": h.wakes,
                        "evidence": h.description} for h in c.wakers],
            "stuck": ({"reason": s["reason"], "provable": s["provable"]}
                      if s else None),
        })
    data["chans"] = chans
    syncs = []
    sync_waiters = _raw_waiters(snap, "sync")
    for s in A.syncs(snap):
        raw = sync_waiters.get((s.address, s.kind), _EMPTY)
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
            "waiters": Goids(goid, raw[0]),
            "roles": _sync_roles(goid, raw),
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
    # the grouping itself when it is by site: one grouping less
    view = V.VerdictView(snap, grouping if grouping.by == "site" else
                         snap.group("site", grouping.filter))
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
    # the totals of the goroutines the report's rows are of (not the
    # runtime's own unless --system), as --leaks prints them
    shown = view.shown()
    return {"view": view if view.grouping is grouping else
            V.VerdictView(snap, grouping),
            "counts": {k: shown.counts[k] for k in V.ORDER},
            "line": shown.line(),
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


