"""The leak verdict in words: what every surface shows of it.

The engine decides (analysis/verdict.c, gp_snapshot_verdicts); this module
only groups and words it, once, for the CLI (--leaks, --deadlocks,
--verdict on a grouping), the JSON ("goparked/leaks"), the report, the
pprof label, `goparked check --max-leaked` and the debuggers' `go leaks`.

The words, the same everywhere (KEYS are the JSON spelling):

    leaked (proven)     leaked      nothing that can run reaches what it
                                    waits on: the Go runtime's goroutineleak
                                    profile would report it
    leaked (no waker)   no_waker    what it waits on is reachable, but no
                                    goroutine that can run has the waking
                                    operation (evidence, not proof)
    lingering           lingering   only timers wake it, and what else it
                                    waits on can never become ready: it
                                    loops forever (evidence)
    blocked             blocked     it can still be woken: one retention
                                    path of what it waits on
    unknown             unknown     the evidence cannot decide
"""

import collections
import ctypes

from . import _native as N
from . import text
from .text import func_location, target_str

# The judged verdicts, most severe first ("live" goroutines are not shown).
ORDER = ("leaked", "no_waker", "lingering", "blocked", "unknown")
WORDS = {N.VERDICT_KEYS[k]: N.VERDICT_WORDS[k] for k in N.VERDICT_KEYS}
# Verdicts that count as leaked for --max-leaked and the pprof label.
LEAKED = ("leaked", "no_waker")
EVIDENCE = ("no_waker", "lingering")
# Goroutine states the verdict judges (parked); every other one is "live".
PARKED_STATES = ("waiting", "leaked")

LEAKS_SCHEMA = "goparked/leaks"


def _code_view(verdicts):
    """verdict | reason << 32 of every goroutine, by index: a strided
    uint64 view over the engine's records (no object per goroutine)."""
    raw = verdicts._raw
    n = raw.ngoroutines
    if not n or not raw.goroutines:
        return memoryview(b"").cast("Q")
    size = ctypes.sizeof(N.VerdictRec)
    buf = (ctypes.c_uint8 * (size * n)).from_address(
        ctypes.cast(raw.goroutines, ctypes.c_void_p).value)
    off = N.VerdictRec.verdict.offset
    return memoryview(buf).cast("B").cast("Q")[off // 8::size // 8]


# (key, enum gp_verdict) of ORDER
_ORDER_CODES = tuple((k, N.VERDICT_BY_KEY[k]) for k in ORDER)


def _key(code):
    return N.VERDICT_KEYS.get(code & 0xFFFFFFFF, "unknown")


def _reason(code):
    return N.VERDICT_REASON_KEYS.get(code >> 32)


class Row:
    """Goroutines of one site with one verdict and reason."""

    __slots__ = ("verdict", "reason", "group", "indexes", "count")

    def __init__(self, verdict, reason, group, indexes):
        self.verdict = verdict
        self.reason = reason
        self.group = group
        self.indexes = indexes      # member indexes (all of them)
        self.count = len(indexes)

    @property
    def words(self):
        return WORDS[self.verdict]

    @property
    def reason_words(self):
        for k, v in N.VERDICT_REASON_KEYS.items():
            if v == self.reason:
                return N.VERDICT_REASON_WORDS[k]
        return ""


def _members(group):
    """A group's member indexes, a memoryview of the grouping's array (no
    list of a million ints)."""
    view = group._grouping._members_view()
    return view[group._first:min(group._first + group.count, len(view))]


class VerdictView:
    """The verdict of a snapshot, grouped by site: counts per group, rows
    per (site, verdict, reason), and one example of each row."""

    def __init__(self, snap, grouping=None):
        from .model import Filter
        self.snap = snap
        self.verdicts = snap.verdicts()
        self._codes = _code_view(self.verdicts)
        self.grouping = grouping or snap.group("site", Filter())
        self._signer = None
        self._counted = {}
        self._shown = None

    @property
    def counts(self):
        """{key: goroutines} over every goroutine (runtime ones included):
        the engine's count, JSON's "counts". The totals a view prints are
        shown(), of the goroutines it shows."""
        return self.verdicts.counts

    def shown(self):
        """The totals of the goroutines this view shows (its grouping's
        members), as a Shown: the same goroutines as its rows."""
        if self._shown is None:
            self._shown = Shown(self)
        return self._shown

    def key_of(self, index):
        return _key(self._codes[index])

    def reason_of(self, index):
        """The reason key of goroutine index's verdict (REASON_KEYS), or
        None."""
        return _reason(self._codes[index])

    def _group_verdicts(self, group):
        """The engine's count of a group's members by verdict, and their
        one verdict and reason when they share it (N.GroupVerdicts): made
        for every group of its grouping at once (gp_grouping_verdicts),
        kept (rows() and group_counts() both ask, the report of the same
        grouping)."""
        grouping = group._grouping
        hit = self._counted.get(id(grouping))
        if hit is None:
            if not grouping._h:
                raise N.Error(N.Error.INVALID_ARGUMENT, "grouping is closed")
            n = len(grouping.groups)
            arr = (N.GroupVerdicts * max(n, 1))()
            N.lib().check(N.lib().gp_grouping_verdicts(
                grouping._h, ctypes.byref(self.verdicts._raw), arr, n))
            # the grouping kept with its counts: its id is not reused
            hit = self._counted[id(grouping)] = (grouping, arr)
        return hit[1][group._index]

    def group_counts(self, group):
        """{key: n} of a group's members, in ORDER, zeros left out."""
        c = self._group_verdicts(group).counts
        return {k: c[v] for k, v in _ORDER_CODES if c[v]}

    def rows(self, verdicts=ORDER):
        """[Row] of every group split by (verdict, reason), most severe
        verdict first, then biggest."""
        out = []
        codes = self._codes
        # leaks and lingering are told apart by creator too (the go
        # statement's pc): "4 monitors started by X", not by whom first
        gopc = self.snap.field_view("gopc")
        creator = {N.VERDICT_BY_KEY[k] for k in LEAKED + ("lingering",)}
        for g in self.grouping.groups:
            members = _members(g)
            one = self._group_verdicts(g)
            if one.uniform and (one.verdict not in creator or
                                one.one_creator):
                # one row: the common case, without a loop in Python
                # (the engine knows whether the members share a creator)
                split = {(one.verdict | one.reason << 32, 0): members}
            else:
                split = collections.defaultdict(list)
                for i in members:
                    c = codes[i]
                    split[(c, gopc[i] if (c & 0xFFFFFFFF) in creator
                           else 0)].append(i)
            for (code, _), idx in split.items():
                k = _key(code)
                if k in verdicts:
                    out.append(Row(k, _reason(code), g, idx))
        rank = {k: n for n, k in enumerate(ORDER)}
        out.sort(key=lambda r: (rank[r.verdict], -r.count))
        return out

    def example(self, row):
        """The model.Verdict of the row's first goroutine."""
        return self.verdicts.of(row.indexes[0])

    def goids(self, row, limit=None):
        goid = self.snap.field_view("goid")
        idx = row.indexes if limit is None else row.indexes[:limit]
        return [goid[i] for i in idx]

    def creator(self, row):
        """'main.startMonitors' (the go statement's function) or None."""
        g = self.snap.goroutine_at(row.indexes[0])
        frames = g.creator_frames
        if frames:
            return target_str(frames[-1].func)
        return None

    def signature(self, row):
        """The stable signature (signature.py) of the row's first goroutine."""
        if self._signer is None:
            from .signature import Signer
            self._signer = Signer(self.snap)
        return self._signer.of_goroutine(self.snap.goroutine_at(row.indexes[0]))

    def wakers(self, v, limit=8):
        """Goroutine ids that could wake what v is about (holders.c's
        possible wakers or holders), best first; [] when none is known."""
        if not v.object:
            return []
        from . import analysis
        for find in (analysis.chan, analysis.sync):
            try:
                obj = find(self.snap, v.object)
            except N.Error:
                continue
            hs = getattr(obj, "wakers", None)
            if hs is None:
                hs = obj.holders
            seen = []
            for h in hs:
                if h.goid not in seen:
                    seen.append(h.goid)
            return seen[:limit]
        return []


class Shown:
    """The verdict totals of a view's goroutines, and what it leaves out,
    as the grouping's own header says it (render.header): runtime
    goroutines unless --system, and whatever the filter drops. Those that
    can still run ("live") are counted by state, as what they are
    (running, runnable, syscall), not as a verdict.

    goroutines  the view's goroutines (its grouping's total)
    counts      {key: n} of them, every key of "live" + ORDER
    live        {state: n} of the live ones, biggest first
    system      runtime goroutines left out (0 with --system)
    filtered    other goroutines the filter leaves out
    """

    def __init__(self, view):
        grouping = view.grouping
        snap = view.snap
        live = N.VERDICT_BY_KEY["live"]
        counts = dict.fromkeys(("live",) + ORDER, 0)
        states = collections.Counter()
        status = None
        for g in grouping.groups:
            c = view._group_verdicts(g).counts
            for k, v in _ORDER_CODES:
                counts[k] += c[v]
            if not c[live]:
                continue
            counts["live"] += c[live]
            running = [s for s in g.states if s not in PARKED_STATES]
            if len(running) == 1:
                states[running[0]] += c[live]
                continue
            # a group of several states: its live members one by one
            if status is None:
                status = snap.field_view("status")
            for i in _members(g):
                if _key(view._codes[i]) == "live":
                    states[N.STATUS_NAMES.get(status[i], "status%d"
                                              % status[i])] += 1
        self.goroutines = grouping.total
        self.counts = counts
        self.live = dict(sorted(states.items(), key=lambda kv: (-kv[1],
                                                                 kv[0])))
        _, system = snap.state_counts()
        self.system = 0 if grouping.filter.include_system else \
            sum(system.values())
        self.filtered = max(0, len(snap) - self.goroutines - self.system)

    def words(self):
        """'45 leaked (proven), 3 lingering, 27 blocked, 1 running'."""
        parts = ["%d %s" % (self.counts[k], WORDS[k]) for k in ORDER
                 if self.counts[k]]
        parts += ["%d %s" % (n, s) for s, n in self.live.items()]
        return ", ".join(parts) or "-"

    def left_out_words(self):
        """'7 runtime goroutines not grouped; --system' (render.header's
        words), and the filter's; "" when nothing is left out."""
        parts = []
        if self.system:
            parts.append("%d runtime goroutines not grouped; --system"
                         % self.system)
        if self.filtered:
            parts.append("%d goroutine%s the filter leaves out"
                         % (self.filtered, "" if self.filtered == 1 else "s"))
        return "; ".join(parts)

    def line(self, left_out=True):
        """'leak verdict of 76 goroutines: ...  (7 runtime goroutines not
        grouped; --system)'."""
        line = "leak verdict of %d goroutine%s: %s" % (
            self.goroutines, "" if self.goroutines == 1 else "s",
            self.words())
        more = self.left_out_words() if left_out else ""
        if more:
            line += "  (%s)" % more
        return line

    def json(self):
        """{goroutines, counts, live_by_state, system_left_out,
        filter_left_out}: JSON's "shown" (README, "JSON output")."""
        return {"goroutines": self.goroutines, "counts": dict(self.counts),
                "live_by_state": dict(self.live),
                "system_left_out": self.system,
                "filter_left_out": self.filtered}


def counts_words(counts):
    """'2 leaked (proven), 1 blocked' (ORDER; zeros left out)."""
    parts = ["%d %s" % (counts[k], WORDS[k]) for k in ORDER if counts.get(k)]
    return ", ".join(parts) or "-"


def step_words(s):
    """One step of a retention path, in words."""
    if s.kind == "global":
        return "global %s" % target_str(s.name, "0x%x" % s.address)
    if s.kind == "stack":
        return "goroutine %s frame %s %s(stack word 0x%x)" % (
            s.goid if s.goid is not None else "?",
            target_str(s.name, "?"),
            "local %s " % target_str(s.local) if s.local else "", s.address)
    if s.kind == "object":
        what = "%s 0x%x" % (target_str(s.name, "object"), s.address)
        return ("+%d -> %s" % (s.offset, what)) if s.offset else \
            "-> %s" % what
    return {"special": "a finalizer, cleanup or weak handle",
            "queue": "a queued finalizer or cleanup",
            "goroutine": "goroutine %s (context or defer)" % s.goid,
            "registers": "a running thread's registers",
            "unknown": "a span that cannot be trusted"}.get(s.kind, s.kind) \
        + " 0x%x" % s.address


def path_words(path):
    return " ".join(step_words(s) for s in path)


# ------------------------------------------------------------------ text

def summary_lines(view, left_out=True):
    """The verdict's head: its totals over the goroutines the view shows
    (left_out: and what it leaves out; a grouping's header says that
    already), then the heap's."""
    v = view.verdicts
    lines = [view.shown().line(left_out)]
    if v.heap_model:
        lines.append("  heap: %d of %d objects reachable; proof by "
                     "reachability, as Go's goroutineleak profile"
                     % (v.marked_objects, v.heap_objects))
    else:
        lines.append("  no heap model (%s): candidates are unknown"
                     % target_str(v.heap_error, "?"))
    if v.corrupt_spans or v.stack_errors:
        lines.append("  %d corrupt spans, %d stacks only partly read"
                     % (v.corrupt_spans, v.stack_errors))
    return lines


_HEADINGS = {
    "leaked": "leaked (proven): nothing that can run reaches what they wait on",
    "no_waker": "leaked (no waker): reachable, but nothing that can run "
                "will wake them (evidence, not proof)",
    "lingering": "lingering: only timers wake them, they loop forever "
                 "(evidence)",
    "blocked": "blocked: can still be woken",
    "unknown": "unknown: the evidence cannot decide",
}


def row_lines(view, row, ids=8, pad=" " * 9):
    snap = view.snap
    g = row.group
    site = func_location(g.site) if g.site else "?"
    lines = ["%7d  %s  %s" % (row.count, target_str(g.wait_reason, "-"),
                              site)]
    lines.append("%sgoroutine %s" % (pad, text.ids(view.goids(row, ids), ids,
                                                   total=row.count)))
    v = view.example(row)
    why = row.reason_words
    if v.object and row.reason not in ("nil_chan", "select_empty"):
        why += " (0x%x)" % v.object
    if v.holder_goid is not None:
        why += "; holder goroutine %d" % v.holder_goid
    if why:
        lines.append("%swhy: %s" % (pad, why))
    creator = view.creator(row)
    if creator and row.verdict in ("lingering", "leaked", "no_waker"):
        lines.append("%screated by %s" % (pad, creator))
    if row.verdict == "blocked":
        if v.path:
            lines.append("%sheld by: %s" % (pad, path_words(v.path)))
        w = view.wakers(v)
        if w:
            lines.append("%scould be woken by goroutine %s"
                         % (pad, text.ids(w, 8)))
    del snap
    return lines


def leaks_text(view, deadlocks=None, limit=None, ids=8,
               verdicts=ORDER):
    """The verdict view: the summary, then each verdict's rows, then the
    wait cycles (deadlocks)."""
    lines = summary_lines(view)
    rows = view.rows(verdicts)
    by = collections.defaultdict(list)
    for r in rows:
        by[r.verdict].append(r)
    for k in ORDER:
        if not by.get(k):
            continue
        total = sum(r.count for r in by[k])
        lines.append("")
        lines.append("%s  [%d]" % (_HEADINGS[k], total))
        shown = by[k][:limit] if limit else by[k]
        for r in shown:
            lines += row_lines(view, r, ids)
        if len(shown) < len(by[k]):
            lines.append("         ... %d more sites" % (len(by[k]) - len(shown)))
    if deadlocks is not None:
        # The cycles of the wait-for graph, and of its waiters nobody can
        # wake only the provable ones (nil channel, select {}): the rest
        # was the stack scan's evidence, which the verdict above replaces.
        from .analysis import deadlocks_text
        lines.append("")
        lines.append("wait cycles (a cycle is a proof when its members "
                     "are leaked (proven) above):")
        lines += deadlocks_text(view.snap, deadlocks,
                                evidence=False).splitlines()
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ JSON

def step_json(s):
    from .schema import hexaddr
    return {"kind": s.kind, "address": hexaddr(s.address),
            "name": s.name or None, "local": s.local, "goid": s.goid,
            "offset": s.offset if s.kind == "object" else None,
            "size": s.size or None}


def row_json(view, row, ids=None):
    from . import schema
    from .schema import hexaddr
    v = view.example(row)
    g = row.group
    return {
        "verdict": row.verdict,
        "words": row.words,
        "reason": row.reason,
        "reason_words": row.reason_words or None,
        "count": row.count,
        "wait_reason": g.wait_reason or None,
        "site": schema.frame_json(g.site) if g.site else None,
        "signature": view.signature(row),
        "object": hexaddr(v.object),
        "holder_goid": v.holder_goid,
        "created_by": view.creator(row),
        "path": [step_json(s) for s in v.path],
        "wakers": view.wakers(v) if row.verdict == "blocked" else [],
        "goids": view.goids(row, ids),
    }


def leaks_doc(view, deadlocks=None, ids=None):
    """The document for `goparked CORE --leaks --json` (README, "JSON
    output")."""
    from . import schema
    v = view.verdicts
    doc = schema._head(LEAKS_SCHEMA, view.snap)
    doc["counts"] = {k: view.counts.get(k, 0) for k in LEAKS_COUNT_KEYS}
    doc["shown"] = view.shown().json()
    doc["heap"] = {"model": v.heap_model, "error": v.heap_error,
                   "objects": v.heap_objects if v.heap_model else None,
                   "reachable": v.marked_objects if v.heap_model else None,
                   "corrupt_spans": v.corrupt_spans,
                   "stack_errors": v.stack_errors}
    doc["rows"] = [row_json(view, r, ids) for r in view.rows()]
    if deadlocks is not None:
        d = schema.deadlocks_doc(view.snap, deadlocks)
        doc["cycles"] = d["cycles"]
    else:
        doc["cycles"] = None
    return doc


LEAKS_KEYS = ["schema", "version", "program", "clock", "counts", "shown",
              "heap", "rows", "cycles"]
LEAKS_ROW_KEYS = ["verdict", "words", "reason", "reason_words", "count",
                  "wait_reason", "site", "signature", "object",
                  "holder_goid", "created_by", "path", "wakers", "goids"]
PATH_STEP_KEYS = ["kind", "address", "name", "local", "goid", "offset", "size"]
LEAKS_COUNT_KEYS = ["live"] + list(ORDER)
LEAKS_HEAP_KEYS = ["model", "error", "objects", "reachable", "corrupt_spans",
                   "stack_errors"]
# --deadlocks --verdict --json's "leaks": these keys of the document above
DEADLOCKS_LEAKS_KEYS = ["counts", "shown", "heap", "rows"]
# "shown": the totals of the goroutines the rows are of (Shown.json)
SHOWN_KEYS = ["goroutines", "counts", "live_by_state", "system_left_out",
              "filter_left_out"]


def leaked_count(snap):
    """(proven, no waker): goroutines counted by --max-leaked."""
    c = snap.verdicts().counts
    return c.get("leaked", 0), c.get("no_waker", 0)
