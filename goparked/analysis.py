"""Channels, sync objects and deadlocks: the engine's analyses as Python
objects (chan.c, sema.c, holders.c, waitgraph.c), and their text and JSON.

Everything per goroutine is computed in C; Python sees one object per
channel, sync object, holder and cycle.
"""

from ctypes import POINTER, byref, c_size_t

from . import _native as N


def _flags(value, names):
    return [n for bit, n in sorted(names.items()) if value & bit]


class Waiter:
    def __init__(self, snap, w):
        self.goroutine = snap.goroutine_at(w.goroutine)
        self.goid = self.goroutine.goid
        self.role = N.ROLE_NAMES.get(w.role, "?")
        self.select = bool(w.flags & 1)
        self.sudog = w.sudog

    def json(self):
        return {"goid": self.goid, "role": self.role, "select": self.select}


class Holder:
    """A probable holder (sync object) or possible waker (channel)."""

    def __init__(self, snap, h):
        self.goroutine = snap.goroutine_at(h.goroutine)
        self.goid = self.goroutine.goid
        self.object = h.object
        self.rank = h.rank
        self.evidence = _flags(h.evidence, N.EVIDENCE_NAMES)
        self.evidence_bits = h.evidence
        self.slot = h.slot
        self.value = h.value
        self.offset = h.offset
        self.site_pc = h.site_pc
        self.frame = None if h.frame == N.NONE else h.frame
        self.description = snap.string(h.description)

    def json(self):
        return {"goid": self.goid, "rank": self.rank,
                "evidence": self.evidence, "slot": self.slot,
                "value": self.value, "offset": self.offset,
                "site_pc": self.site_pc, "frame": self.frame,
                "description": self.description}


def _holders(snap, first, n):
    if not n:
        return []
    cnt = c_size_t()
    arr = N.lib().gp_snapshot_holders(snap._handle(), byref(cnt))
    return [Holder(snap, arr[i]) for i in range(first, first + n)
            if i < cnt.value]


def _waiters(obj, fn):
    cached = obj.__dict__.get("_waiters")
    if cached is None:
        snap = obj._snap
        first, n = obj._span
        cnt = c_size_t()
        arr = fn(snap._handle(), byref(cnt))
        cached = [Waiter(snap, arr[i]) for i in range(first, first + n)
                  if i < cnt.value]
        obj.__dict__["_waiters"] = cached
    return cached


class Chan:
    def __init__(self, snap, c, waiters_fn):
        self.address = c.address
        self.len, self.cap = c.len, c.cap
        self.elem_size = c.elem_size
        self.elem_type = snap.string(c.elem_type) or None
        self.flags = c.flags
        self.nil = bool(c.flags & N.CHAN_NIL)
        self.closed = bool(c.flags & N.CHAN_CLOSED)
        self.timer = bool(c.flags & N.CHAN_TIMER)
        self.timer_unknown = bool(c.flags & N.CHAN_TIMER_UNKNOWN)
        self.timer_when = c.timer_when or None
        self.timer_period = c.timer_period if self.timer else None
        self.nrecv, self.nsend, self.nselect = c.nrecv, c.nsend, c.nselect
        self._snap, self._fn = snap, waiters_fn
        self._span = (c.waiters_first, c.nwaiters)
        self.wakers = _holders(snap, c.wakers_first, c.nwakers)

    @property
    def waiters(self):
        """Made on first use: a channel can have a million waiters and a
        summary needs none of them."""
        return _waiters(self, self._fn)

    def json(self):
        return {"address": self.address, "nil": self.nil,
                "elem_type": self.elem_type, "elem_size": self.elem_size,
                "len": self.len, "cap": self.cap, "closed": self.closed,
                "timer": self.timer, "timer_unknown": self.timer_unknown,
                "timer_when": self.timer_when,
                "timer_period_ns": self.timer_period,
                "recv": self.nrecv, "send": self.nsend,
                "select": self.nselect,
                "waiters": [w.json() for w in self.waiters],
                "wakers": [h.json() for h in self.wakers]}


class Sync:
    def __init__(self, snap, s):
        self.address = s.address
        self.sema = s.sema
        self.kind = N.OBJ_KIND_NAMES.get(s.kind, "?")
        self.state = s.state
        self.counter = s.counter
        self.readers = s.readers
        self.locked = bool(s.flags & N.SYNC_LOCKED)
        self.woken = bool(s.flags & N.SYNC_WOKEN)
        self.starving = bool(s.flags & N.SYNC_STARVING)
        self.writer_pending = bool(s.flags & N.SYNC_WRITER_PENDING)
        self.unreadable = bool(s.flags & N.SYNC_UNREADABLE)
        self.state_waiters = s.state_waiters
        self.holder_status = N.HOLDER_STATUS_NAMES.get(s.holder_status, "?")
        self._snap = snap
        self._span = (s.waiters_first, s.nwaiters)
        self.holders = _holders(snap, s.holders_first, s.nholders)

    @property
    def waiters(self):
        return _waiters(self, N.lib().gp_snapshot_sync_waiters)

    @property
    def best_holders(self):
        return [h for h in self.holders if h.rank == 1]

    def json(self):
        d = {"address": self.address, "kind": self.kind, "sema": self.sema,
             "state": self.state, "waiters": [w.json() for w in self.waiters],
             "holder_status": self.holder_status,
             "holders": [h.json() for h in self.holders]}
        if self.kind in ("mutex", "rwmutex"):
            d.update(locked=self.locked, woken=self.woken,
                     starving=self.starving, state_waiters=self.state_waiters)
        if self.kind == "rwmutex":
            d.update(reader_count=self.counter, readers=self.readers,
                     writer_pending=self.writer_pending)
        if self.kind == "waitgroup":
            d.update(counter=self.counter, state_waiters=self.state_waiters)
        return d


def chans(snap):
    n = c_size_t()
    p = POINTER(N.Chan)()
    N.lib().check(N.lib().gp_snapshot_chans(snap._handle(), byref(n),
                                            byref(p)))
    return [Chan(snap, p[i], N.lib().gp_snapshot_chan_waiters)
            for i in range(n.value)]


def chan(snap, address):
    c = N.Chan()
    N.lib().check(N.lib().gp_snapshot_chan(snap._handle(), address, byref(c)))
    return Chan(snap, c, N.lib().gp_snapshot_chan_waiters)


def syncs(snap):
    n = c_size_t()
    p = POINTER(N.Sync)()
    N.lib().check(N.lib().gp_snapshot_syncs(snap._handle(), byref(n),
                                            byref(p)))
    return [Sync(snap, p[i]) for i in range(n.value)]


def sync(snap, address):
    s = N.Sync()
    N.lib().check(N.lib().gp_snapshot_sync(snap._handle(), address, byref(s)))
    return Sync(snap, s)


class Edge:
    def __init__(self, snap, e, holders):
        self.from_goid = snap.goroutine_at(e.from_).goid
        self.to_goid = snap.goroutine_at(e.to).goid
        self.object = e.object
        self.kind = N.OBJ_KIND_NAMES.get(e.kind, "?")
        self.holder = (Holder(snap, holders[e.holder])
                       if e.holder != N.NONE else None)

    @property
    def evidence(self):
        return self.holder.description if self.holder else ""

    def json(self):
        return {"goid": self.from_goid, "waits_on": {"kind": self.kind,
                "address": self.object}, "waits_for": self.to_goid,
                "evidence": self.evidence}


class Deadlocks:
    def __init__(self, snap):
        d = N.Deadlocks()
        lib = N.lib()
        lib.check(lib.gp_snapshot_deadlocks(snap._handle(), byref(d)))
        cnt = c_size_t()
        holders = lib.gp_snapshot_holders(snap._handle(), byref(cnt))
        self.cycles = []
        for i in range(d.ncycles):
            c = d.cycles[i]
            edges = [Edge(snap, d.edges[k], holders)
                     for k in range(c.edges_first, c.edges_first + c.nedges)]
            self.cycles.append({"edges": edges, "select": bool(c.flags & 1)})
        self.stuck = []
        all_goids = snap.goid_array()
        for i in range(d.nstuck):
            s = d.stuck[i]
            goids = [all_goids[d.waiters[k]] for k in
                     range(s.waiters_first, s.waiters_first + s.nwaiters)]
            self.stuck.append({
                "object": s.object,
                "kind": N.OBJ_KIND_NAMES.get(s.kind, "?"),
                "reason": N.STUCK_REASON_NAMES.get(s.reason, "?"),
                "provable": bool(s.provable), "goids": goids})
        self.truncated = bool(d.truncated)

    def cycle_goids(self):
        return [[e.from_goid for e in c["edges"]] for c in self.cycles]

    def json(self):
        return {"cycles": [{"select": c["select"],
                            "edges": [e.json() for e in c["edges"]]}
                           for c in self.cycles],
                "stuck": self.stuck, "truncated": self.truncated}


# ------------------------------------------------------------------ text

def _ids(goids, limit=8):
    s = " ".join(str(g) for g in goids[:limit])
    return s + (" ... (%d)" % len(goids) if len(goids) > limit else "")


def _dur(ns):
    if ns is None:
        return "?"
    for unit, size in (("h", 3600e9), ("m", 60e9), ("s", 1e9), ("ms", 1e6)):
        if abs(ns) >= size:
            return "%g%s" % (round(ns / size, 2), unit)
    return "%dns" % ns


def chan_summary(c):
    """One line: "chan main.Order 0/100 closed timer 1h"."""
    if c.nil:
        return "nil channel: blocked forever"
    parts = ["chan %s" % (c.elem_type or "?"), "%d/%d" % (c.len, c.cap)]
    if c.closed:
        parts.append("closed")
    if c.timer:
        parts.append("timer %s" % (_dur(c.timer_period) if c.timer_period
                                   else "one-shot"))
    return " ".join(parts)


def sync_summary(s):
    """One line: "sync.Mutex locked, held by goroutine 57 (probable)"."""
    parts = [{"mutex": "sync.Mutex", "rwmutex": "sync.RWMutex",
              "waitgroup": "sync.WaitGroup", "cond": "sync.Cond"}.get(
                  s.kind, s.kind)]
    if s.locked:
        parts.append("locked")
    if s.kind == "waitgroup":
        parts.append("counter %d" % s.counter)
    if s.readers:
        parts.append("%d reader%s" % (s.readers, "" if s.readers == 1 else "s"))
    # A mutex is held; a WaitGroup or Cond is only ever woken.
    what = "probable holder" if s.kind in ("mutex", "rwmutex") else "could be woken by"
    if s.holders:
        parts.append("%s goroutine %d" % (what, s.holders[0].goid))
    elif s.locked:
        parts.append("holder unknown")
    return ", ".join(parts)


def chan_text(snap, c):
    if c.nil:
        head = "nil channel: blocked forever (%d waiters)\n" % len(c.waiters)
    else:
        head = "channel 0x%x chan %s  len %d/cap %d%s\n" % (
            c.address, c.elem_type or "?", c.len, c.cap,
            "  closed" if c.closed else "")
    out = [head]
    if c.timer:
        out.append("  timer channel: period %s, next fire at nanotime %s\n"
                   % (_dur(c.timer_period) if c.timer_period else "one-shot",
                      c.timer_when))
    elif c.timer_unknown:
        out.append("  time.Time channel: its timer was not found\n")
    recv = [w.goid for w in c.waiters if w.role == "recv"]
    send = [w.goid for w in c.waiters if w.role == "send"]
    other = [w.goid for w in c.waiters if w.role not in ("recv", "send")]
    sel = [w.goid for w in c.waiters if w.select]
    def who(goids):
        return "%d (goroutine %s)" % (len(goids), _ids(goids)) if goids \
            else "none"
    out.append("  blocked receivers: %s\n" % who(recv))
    out.append("  blocked senders:   %s\n" % who(send))
    if other:
        out.append("  in select, direction unknown: %s\n" % _ids(other))
    if sel:
        out.append("  in select: %s\n" % _ids(sel))
    for h in c.wakers:
        out.append("  could wake (rank %d): goroutine %d: %s\n"
                   % (h.rank, h.goid, h.description))
    return "".join(out)


def sync_text(snap, s):
    out = ["%s 0x%x" % (s.kind, s.address)]
    if s.unreadable:
        out.append("  (unreadable)")
    elif s.kind == "mutex":
        out.append("  %s%s%s, %d waiters recorded" % (
            "locked" if s.locked else "unlocked",
            ", woken" if s.woken else "", ", starving" if s.starving else "",
            s.state_waiters))
    elif s.kind == "rwmutex":
        out.append("  writer lock %s, readers %d%s" % (
            "held" if s.locked else "free", s.readers,
            ", writer pending" if s.writer_pending else ""))
    elif s.kind == "waitgroup":
        out.append("  counter %d, %d waiters recorded"
                   % (s.counter, s.state_waiters))
    out.append("\n")
    for role in ("lock", "rlock", "wait"):
        g = [w.goid for w in s.waiters if w.role == role]
        if g:
            out.append("  waiting (%s): %d %s\n" % (role, len(g), _ids(g)))
    if s.kind in ("mutex", "rwmutex"):
        if not s.holders:
            out.append("  holder: %s\n" % ("not held" if s.holder_status
                                          == "not held" else "unknown"))
        for h in s.holders:
            out.append("  probable holder (rank %d): goroutine %d [%s]: %s\n"
                       % (h.rank, h.goid, h.goroutine.wait_reason,
                          h.description))
    else:
        for h in s.holders:
            out.append("  could wake (rank %d): goroutine %d: %s\n"
                       % (h.rank, h.goid, h.description))
    return "".join(out)


def deadlocks_text(snap, d):
    out = []
    if not d.cycles:
        out.append("no wait cycles found\n")
    for i, c in enumerate(d.cycles, 1):
        out.append("cycle %d%s:\n" % (i, " (a member is in select)"
                                      if c["select"] else ""))
        for e in c["edges"]:
            out.append("  goroutine %d waits on %s 0x%x held/woken by "
                       "goroutine %d\n      %s\n"
                       % (e.from_goid, e.kind, e.object, e.to_goid,
                          e.evidence))
    for s in d.stuck:
        what = ("select {}" if s["reason"] == "select {}" else
                "nil channel" if s["object"] == 0 else
                "%s 0x%x" % (s["kind"], s["object"]))
        out.append("nobody can wake %s (%s%s): %d goroutines %s\n"
                   % (what, s["reason"], "" if s["provable"] else
                      "; evidence, not proof", len(s["goids"]),
                      _ids(s["goids"])))
    if d.truncated:
        out.append("(cycle search stopped at its bound)\n")
    return "".join(out)


def render_options(ns, snap, out):
    """--chan ADDR, --mutex ADDR, --deadlocks (text or --json)."""
    import json
    if ns.chan is not None:
        c = chan(snap, ns.chan)
        out.write(json.dumps(c.json(), indent=1) + "\n" if ns.json
                  else chan_text(snap, c))
    if ns.mutex is not None:
        s = sync(snap, ns.mutex)
        out.write(json.dumps(s.json(), indent=1) + "\n" if ns.json
                  else sync_text(snap, s))
    if ns.deadlocks:
        d = Deadlocks(snap)
        out.write(json.dumps(d.json(), indent=1) + "\n" if ns.json
                  else deadlocks_text(snap, d))
