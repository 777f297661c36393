"""Channels, sync objects and deadlocks: the engine's analyses as Python
objects (chan.c, sema.c, holders.c, waitgraph.c), and their text and JSON.

Everything per goroutine is computed in C; Python sees one object per
channel, sync object, holder and cycle.
"""

from ctypes import POINTER, byref, c_size_t

from . import _native as N
from . import text
from .text import target_str


def _flags(value, names):
    return [n for bit, n in sorted(names.items()) if value & bit]


class Waiter:
    def __init__(self, snap, w):
        self.goroutine = snap.goroutine_at(w.goroutine)
        self.goid = self.goroutine.goid
        self.role = N.ROLE_NAMES.get(w.role, "?")
        self.select = bool(w.flags & 1)
        self.sudog = w.sudog

class Holder:
    """A probable holder (sync object) or possible waker (channel)."""

    def __init__(self, snap, h, kind):
        self.goroutine = snap.goroutine_at(h.goroutine)
        self.goid = self.goroutine.goid
        self.object = h.object
        # An edge object -> this goroutine in the engine's wait-for graph.
        self.wakes = bool(N.lib().gp_holder_wakes(byref(h), kind))
        self.rank = h.rank
        self.evidence = _flags(h.evidence, N.EVIDENCE_NAMES)
        self.evidence_bits = h.evidence
        self.slot = h.slot
        self.value = h.value
        self.offset = h.offset
        self.site_pc = h.site_pc
        self.frame = None if h.frame == N.NONE else h.frame
        self.description = snap.string(h.description)
        # sync objects: "lock" (holds a Mutex, or an RWMutex to write) or
        # "rlock" (a reader); channels and others: None
        self.role = N.ROLE_NAMES.get(h.role) if h.role else None


def _holders(snap, first, n, kind):
    if not n:
        return []
    cnt = c_size_t()
    arr = N.lib().gp_snapshot_holders(snap._handle(), byref(cnt))
    return [Holder(snap, arr[i], kind) for i in range(first, first + n)
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
        self.wakers = _holders(snap, c.wakers_first, c.nwakers, N.OBJ_CHAN)

    @property
    def waiters(self):
        """Made on first use: a channel can have a million waiters and a
        summary needs none of them."""
        return _waiters(self, self._fn)

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
        self.holders = _holders(snap, s.holders_first, s.nholders, s.kind)

    @property
    def waiters(self):
        return _waiters(self, N.lib().gp_snapshot_sync_waiters)

    @property
    def best_holders(self):
        """The goroutines that hold it, when that is decided: the writer or
        the readers of a Mutex/RWMutex (none when "ambiguous": its
        candidates have rank 0), the best ranked wakers of a WaitGroup or
        Cond."""
        if self.kind in ("mutex", "rwmutex") and self.holder_status != "found":
            return []
        return [h for h in self.holders if h.rank == 1]

    @property
    def writer(self):
        """The goroutine holding a Mutex (or an RWMutex to write), if decided."""
        w = [h for h in self.best_holders if h.role == "lock"]
        return w[0] if len(w) == 1 else None

    @property
    def readers_holding(self):
        return [h for h in self.best_holders if h.role == "rlock"]

def chans(snap):
    snap.program._beyond_copy()
    n = c_size_t()
    p = POINTER(N.Chan)()
    N.lib().check(N.lib().gp_snapshot_chans(snap._handle(), byref(n),
                                            byref(p)))
    return [Chan(snap, p[i], N.lib().gp_snapshot_chan_waiters)
            for i in range(n.value)]


def chan(snap, address):
    snap.program._beyond_copy()
    c = N.Chan()
    N.lib().check(N.lib().gp_snapshot_chan(snap._handle(), address, byref(c)))
    return Chan(snap, c, N.lib().gp_snapshot_chan_waiters)


def syncs(snap):
    snap.program._beyond_copy()
    n = c_size_t()
    p = POINTER(N.Sync)()
    N.lib().check(N.lib().gp_snapshot_syncs(snap._handle(), byref(n),
                                            byref(p)))
    return [Sync(snap, p[i]) for i in range(n.value)]


def sync(snap, address):
    snap.program._beyond_copy()
    s = N.Sync()
    N.lib().check(N.lib().gp_snapshot_sync(snap._handle(), address, byref(s)))
    return Sync(snap, s)


class Edge:
    def __init__(self, snap, e, holders):
        self.from_goid = snap.goroutine_at(e.from_).goid
        self.to_goid = snap.goroutine_at(e.to).goid
        self.object = e.object
        self.kind = N.OBJ_KIND_NAMES.get(e.kind, "?")
        self.holder = (Holder(snap, holders[e.holder], e.kind)
                       if e.holder != N.NONE else None)

    @property
    def evidence(self):
        return self.holder.description if self.holder else ""

class Deadlocks:
    """gp_snapshot_deadlocks: cycles, and the waiters nobody can wake
    (provable_only: only those the runtime's rules prove, a nil channel
    and select {}; the verdict view has replaced the others)."""

    def __init__(self, snap, provable_only=False, ids=None):
        """ids(goid view, memoryview of goroutine indexes) makes each
        stuck entry's "goids" (default: a list of goids)."""
        snap.program._beyond_copy()
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
        goid = snap.field_view("goid")
        waiters = N.u32_view(d.waiters, d.nwaiters)
        # the provable ones picked from a view, not a ctypes struct read
        # per entry: 200,000 leaked receivers are 200,000 entries
        provable = N.u32_view(d.stuck, d.nstuck, N.Stuck, "provable")
        for i in range(d.nstuck):
            if provable_only and not provable[i]:
                continue
            s = d.stuck[i]
            idx = waiters[s.waiters_first:s.waiters_first + s.nwaiters]
            goids = ids(goid, idx) if ids else [goid[k] for k in idx]
            self.stuck.append({
                "object": s.object,
                "kind": N.OBJ_KIND_NAMES.get(s.kind, "?"),
                "reason": N.STUCK_REASON_NAMES.get(s.reason, "?"),
                "provable": bool(s.provable), "goids": goids})
        self.truncated = bool(d.truncated)

    def cycle_goids(self):
        return [[e.from_goid for e in c["edges"]] for c in self.cycles]

# ------------------------------------------------------------------ text

def _ids(goids, limit=8):
    return text.ids(goids, limit)


def _period(c):
    return text.duration(c.timer_period) if c.timer_period else "one-shot"


def chan_summary(c):
    """One line: "chan main.Order 0/100 closed timer 1h"."""
    if c.nil:
        return "nil channel: blocked forever"
    parts = ["chan %s" % target_str(c.elem_type), "%d/%d" % (c.len, c.cap)]
    if c.closed:
        parts.append("closed")
    if c.timer:
        parts.append("timer %s" % _period(c))
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
    if s.kind in ("mutex", "rwmutex"):
        parts += _holder_words(s)
    elif s.holders:
        parts.append("could be woken by goroutine %d" % s.holders[0].goid)
    return ", ".join(parts)


def _holder_words(s):
    """What is known of who holds a Mutex/RWMutex, in words."""
    if s.holder_status == "found":
        out = []
        if s.writer:
            out.append("probable holder goroutine %d" % s.writer.goid)
        if s.readers_holding:
            out.append("read-held by goroutine %s"
                       % _ids([h.goid for h in s.readers_holding]))
        return out
    if s.holder_status == "ambiguous":
        return ["holder unknown (candidates: goroutine %s)"
                % _ids(sorted({h.goid for h in s.holders}))]
    if s.holder_status == "no decoder":
        return ["holder unknown (no code evidence on this architecture yet)"]
    if s.locked or (s.kind == "rwmutex" and s.readers):
        return ["holder unknown"]
    return []


def chan_text(snap, c):
    if c.nil:
        head = "nil channel: blocked forever (%d waiters)\n" % len(c.waiters)
    else:
        head = "channel 0x%x chan %s  len %d/cap %d%s\n" % (
            c.address, target_str(c.elem_type), c.len, c.cap,
            "  closed" if c.closed else "")
    out = [head]
    if c.timer:
        out.append("  timer channel: period %s, next fire at nanotime %s\n"
                   % (_period(c), c.timer_when))
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
                   % (h.rank, h.goid, target_str(h.description)))
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
        if s.holder_status == "not held":
            out.append("  holder: not held\n")
        elif s.holder_status != "found":
            out.append("  holder: %s\n" % ", ".join(_holder_words(s) or ["unknown"]))
        label = {"lock": "holder", "rlock": "read holder"}
        for h in s.holders:
            # "(rank 1)" only for an answer; candidates of an ambiguous
            # one are listed, none ranked above the others
            out.append("  %s: goroutine %d [%s]: %s\n"
                       % ("probable %s (rank %d)" % (label.get(h.role, "holder"), h.rank)
                          if s.holder_status == "found" else
                          "candidate %s (ambiguous)" % label.get(h.role, "holder"),
                          h.goid, target_str(h.goroutine.wait_reason),
                          target_str(h.description)))
    else:
        for h in s.holders:
            out.append("  could wake (rank %d): goroutine %d: %s\n"
                       % (h.rank, h.goid, target_str(h.description)))
    return "".join(out)


def deadlocks_text(snap, d, evidence=True):
    """The cycles, then the waiters nobody can wake (evidence=False: the
    provable ones only)."""
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
                          target_str(e.evidence, "")))
    for s in d.stuck:
        if not evidence and not s["provable"]:
            continue
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
    from . import schema

    def emit(obj, doc, text):
        out.write(schema.dumps(doc(snap, obj), indent=1) + "\n" if ns.json
                  else text(snap, obj))
    if ns.chan is not None:
        emit(chan(snap, ns.chan), schema.chan_doc, chan_text)
    if ns.mutex is not None:
        emit(sync(snap, ns.mutex), schema.sync_doc, sync_text)
    if ns.deadlocks == "deadlocks" and not getattr(ns, "verdict", False):
        # The wait-for graph alone: its cycles and the waiters provably
        # nobody wakes (a nil channel, select {}). It does not read the
        # heap, so it costs about what --by chan and --by mutex do; the
        # proof of which goroutines can never wake is --leaks.
        d = Deadlocks(snap, provable_only=not ns.json)
        if ns.json:
            doc = schema.deadlocks_doc(snap, d)
            doc["leaks"] = None
            out.write(schema.dumps(doc, indent=1) + "\n")
        else:
            out.write(deadlocks_text(snap, d, evidence=False))
            out.write("(which goroutines can never wake, proven from the "
                      "heap: --leaks)\n")
    elif ns.deadlocks:
        from . import verdict
        from .model import Filter
        from .options import filter_from_options
        # the debuggers' `go deadlocks` has no filter options
        view = verdict.VerdictView(snap, snap.group(
            "site", filter_from_options(ns) if hasattr(ns, "state")
            else Filter()))
        d = Deadlocks(snap, provable_only=not ns.json)
        if not ns.json:
            out.write(verdict.leaks_text(view, d,
                                         limit=getattr(ns, "limit", None),
                                         ids=getattr(ns, "ids", 8)))
        elif ns.deadlocks == "leaks":
            out.write(schema.dumps(verdict.leaks_doc(view, d), indent=1)
                      + "\n")
        else:
            doc = schema.deadlocks_doc(snap, d)
            leaks = verdict.leaks_doc(view)
            doc["leaks"] = {k: leaks[k] for k in verdict.DEADLOCKS_LEAKS_KEYS}
            out.write(schema.dumps(doc, indent=1) + "\n")
