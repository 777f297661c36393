"""JSON output of goparked: one family of versioned documents.

Every document goparked prints with --json (and every line of --jsonl)
is an object whose first keys are "schema" (what it is: "goparked/NAME")
and "version". SCHEMA_VERSION changes whenever a field changes meaning or
goes away; new fields may appear within a version. README.rst ("JSON
output") documents every field; the tests hold each document to the key
lists at the end of this file.

Conventions:
- Addresses (g, pc, channels, ...) are strings "0x..." because JSON numbers
  lose precision past 2**53 in many readers. Goroutine ids, counts, lines
  and nanosecond values are numbers.
- Something unknown is null, never 0 or "".
- Stacks are shared: "stacks" maps a stack id (a decimal string) to its
  frames, innermost first; goroutines and groups refer to it by "stack_id".
- Strings from the target keep every byte. One that is not valid UTF-8
  (the model holds such a byte as U+DC80..U+DCFF, "surrogateescape") is
  written with U+FFFD for each invalid run, and its exact bytes follow in
  a twin field NAME_b64 (base64); for a dict (labels), NAME_b64 lists every
  [key, value] pair, each string in base64. exact() applies the rule to
  every document; native/src/analysis/json.c applies the same one.
"""

import base64
import json
import re

_ESCAPED = re.compile("[\udc80-\udcff]")


def _bad(s):
    return not s.isascii() and _ESCAPED.search(s) is not None


def _shown(s):
    """s with each run of bytes outside UTF-8 as U+FFFD (Unicode's maximal
    subparts, as the engine's writer does)."""
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _b64(v):
    if not isinstance(v, str):
        return exact(v)
    return base64.b64encode(v.encode("utf-8", "surrogateescape")).decode()


def exact(obj):
    """obj ready for json: a string holding bytes outside UTF-8 shown with
    U+FFFD and its bytes in a NAME_b64 twin (see the module's docstring)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, str):
                if _bad(v):
                    out[k] = _shown(v)
                    out[k + "_b64"] = _b64(v)
                else:
                    out[k] = v
            elif isinstance(v, dict) and any(
                    isinstance(x, str) and _bad(x)
                    for kv in v.items() for x in kv):
                out[k] = {(_shown(a) if isinstance(a, str) else a):
                          (_shown(b) if isinstance(b, str) else exact(b))
                          for a, b in v.items()}
                out[k + "_b64"] = [[_b64(a), _b64(b)] for a, b in v.items()]
            elif isinstance(v, (dict, list, tuple)):
                out[k] = exact(v)
            else:
                out[k] = v
        return out
    if isinstance(obj, (list, tuple)):
        return [exact(x) for x in obj]
    if isinstance(obj, str) and _bad(obj):
        return _shown(obj)
    return obj


def dumps(obj, **kw):
    """json.dumps of exact(obj): every goparked JSON goes through here."""
    return json.dumps(exact(obj), **kw)


_compact = json.JSONEncoder(separators=(",", ":")).encode


def compact(obj):
    """dumps(obj) without spaces (--json's pieces, --jsonl's lines)."""
    return _compact(exact(obj))

SCHEMA_VERSION = 1
SNAPSHOT_SCHEMA = "goparked/snapshot"
GOROUTINE_SCHEMA = "goparked/goroutine"
CHAN_SCHEMA = "goparked/chan"
SYNC_SCHEMA = "goparked/sync"
DEADLOCKS_SCHEMA = "goparked/deadlocks"
WATCH_SCHEMA = "goparked/watch"
RECORD_SCHEMA = "goparked/record"
DIFF_SCHEMA = "goparked/diff"


def hexaddr(v):
    """An address: "0x..." or null (0 is no address)."""
    return "0x%x" % v if v else None


def hexword(v):
    """A bit word read from the target (a lock's state): always "0x..."."""
    return "0x%x" % v


def _str(s):
    return s if s else None


def _head(schema, snap):
    return {"schema": schema, "version": SCHEMA_VERSION,
            "program": program_json(snap.program),
            "clock": clock_json(snap.clock)}


def frame_json(f):
    return {
        "func": f.func or None,
        "file": f.file or None,
        "line": f.line or None,
        "pc": hexaddr(f.pc),
        "entry": hexaddr(f.entry),
        "inlined": f.inlined,
        "trap": f.trap,
        "wrapper": f.wrapper,
        "runtime": f.runtime,
    }


def program_json(prog):
    return {
        "source": "live" if prog.is_live else "core",
        "target": prog.description,
        "exe": prog.exe_path or None,
        "go_version": prog.go_version or None,
        "has_dwarf": prog.has_dwarf,
        "has_symtab": prog.has_symtab,
        "layout_from_table": prog.layout_from_table,
    }


def clock_json(clock):
    return {
        "now_ns": clock.now if clock.known else None,
        "unix_offset_ns": clock.unix_offset or None,
        "source": clock.source or None,
        "exact": clock.exact,
    }


def goroutine_json(g, inline_stacks=False, signature=None):
    labels = g.labels
    d = {
        "goid": g.goid,
        "state": g.state,
        "status": g.status,
        "raw_status": g.raw_status,
        "wait_reason": g.wait_reason or None,
        "wait_reason_code": (g.waitreason_code
                             if g.waitreason_code >= 0 else None),
        "waitsince_ns": g.waitsince or None,
        "age_ns": g.age_ns,
        "system": g.system,
        "locked_to_thread": g.locked,
        "flags": g.flag_names,
        "parent_goid": g.parent_goid or None,
        "start_func": g.start_func or None,
        "address": hexaddr(g.address),
        "gopc": hexaddr(g.gopc),
        "startpc": hexaddr(g.startpc),
        "pc": hexaddr(g.pc),
        "sp": hexaddr(g.sp),
        "stack_lo": hexaddr(g.stack_lo),
        "stack_hi": hexaddr(g.stack_hi),
        "m": hexaddr(g.m_address),
        "thread_tid": None,
        "wait_address": hexaddr(g.wait_address),
        "waiting_on": [{"kind": w.kind, "object": hexaddr(w.object),
                        "sudog": hexaddr(w.sudog), "select": w.is_select}
                       for w in g.waiting],
        "labels": labels,
        "labels_truncated": {k: v.full_len for k, v in labels.items()
                             if getattr(v, "full_len", None) is not None},
        "error": g.error,
        "signature": signature,
    }
    t = g.thread
    if t is not None:
        d["thread_tid"] = t.tid
    if inline_stacks:
        d["frames"] = [frame_json(f) for f in g.frames]
        d["creator_frames"] = [frame_json(f) for f in g.creator_frames]
    else:
        d["stack_id"] = g.stack_id
        d["creator_stack_id"] = g.creator_stack_id
    return d


def group_json(group, max_ids=None, signature=None):
    site = group.site
    age = group.age_range
    return {
        "key": group.key or None,
        "key_address": hexaddr(group.key_address),
        "count": group.count,
        "wait_reason": group.wait_reason or None,
        "states": group.states,
        "stack_id": group.stack_id,
        "site_frame": group.site_index,
        "site": frame_json(site) if site else None,
        "age_known": group.age_known,
        "age_ns": {"min": age[0], "max": age[1]} if age else None,
        "oldest_waitsince_ns": group.oldest_waitsince or None,
        "youngest_waitsince_ns": group.youngest_waitsince or None,
        "goids": group.goids(max_ids),
        "signature": signature,
    }


def thread_json(t):
    return {
        "tid": t.tid,
        "m": hexaddr(t.m_address),
        "m_id": t.m_id if t.m_address else None,
        "goid": t.curg_goid or None,
        "pc": hexaddr(t.pc),
        "sp": hexaddr(t.sp),
        "crashed": t.crashed,
        "in_signal": t.in_signal,
        "signal": t.signal or None,
    }


def filter_json(f):
    return {
        "states": list(f.states),
        "include_system": bool(f.include_system),
        "min_age_ns": f.min_age_ns or 0,
        "func": f.func_regex,
        "label": {"key": f.label[0], "value": f.label[1]} if f.label else None,
    }


def snapshot_json(snap, grouping):
    """The whole document for `goparked CORE --json`."""
    from .signature import Signer
    signer = Signer(snap)
    total, system = snap.state_counts()
    goroutines, stack_ids, sigs = [], set(), []
    for g in snap.goroutines():
        sig = signer.of_goroutine(g)
        sigs.append(sig)
        goroutines.append(goroutine_json(g, signature=sig))
        for sid in (g.stack_id, g.creator_stack_id):
            if sid is not None:
                stack_ids.add(sid)
    groups = [group_json(gr, signature=group_signature(gr, sigs))
              for gr in grouping.groups]
    for gr in grouping.groups:
        if gr.stack_id is not None:
            stack_ids.add(gr.stack_id)
    return {
        "schema": SNAPSHOT_SCHEMA,
        "version": SCHEMA_VERSION,
        "program": program_json(snap.program),
        "clock": clock_json(snap.clock),
        "summary": {
            "goroutines": len(snap),
            "by_state": total,
            "system_by_state": system,
        },
        "grouping": {"by": grouping.by,
                     "filter": filter_json(grouping.filter),
                     "goroutines": grouping.total},
        "groups": groups,
        "goroutines": goroutines,
        "stacks": {str(sid): [frame_json(f) for f in snap.stack(sid)]
                   for sid in sorted(stack_ids)},
        "threads": [thread_json(t) for t in snap.threads()],
    }


def verdict_counts_json(counts, keys):
    """{key: goroutines} of a verdict count, every key of keys (0 when
    none)."""
    return {k: counts.get(k, 0) for k in keys}


def write_jsonl(snap, grouping, out, detail=False, max_ids=8, verdict=None):
    """`goparked CORE --jsonl`: one JSON object per line, each written as
    soon as it is made (no document held in memory): a "snapshot" record,
    then with detail a "stack" record before the first goroutine that uses
    it and a "goroutine" record per goroutine, then a "group" record per
    group (its first max_ids member ids). Every record carries schema,
    version, record and target. verdict (a verdict.VerdictView of the
    grouping, --verdict): the snapshot record has "verdicts" (goroutines
    per verdict key, as --leaks --json's counts) and "shown" (those of the
    grouping's goroutines, as --leaks --json's), each goroutine record
    "verdict" and "verdict_reason", each group record "verdicts"."""
    from .verdict import ORDER
    from .signature import Signer
    target = snap.program.description

    def emit(kind, d):
        head = {"schema": RECORD_SCHEMA, "version": SCHEMA_VERSION,
                "record": kind, "target": target}
        head.update(d)
        out.write(compact(head) + "\n")

    total, system = snap.state_counts()
    head = {
        "program": program_json(snap.program),
        "clock": clock_json(snap.clock),
        "summary": {"goroutines": len(snap), "by_state": total,
                    "system_by_state": system},
        "grouping": {"by": grouping.by,
                     "filter": filter_json(grouping.filter),
                     "goroutines": grouping.total}}
    if verdict is not None:
        head["verdicts"] = verdict_counts_json(verdict.counts,
                                               ("live",) + ORDER)
        head["shown"] = verdict.shown().json()
    emit("snapshot", head)
    signer = Signer(snap)
    sigs = None
    if detail:
        sigs = []
        written = set()
        for g in snap.goroutines():
            for sid in (g.stack_id, g.creator_stack_id):
                if sid is not None and sid not in written:
                    written.add(sid)
                    emit("stack", {"stack_id": sid, "frames": [
                        frame_json(f) for f in snap.stack(sid)]})
            sig = signer.of_goroutine(g)
            sigs.append(sig)
            d = goroutine_json(g, signature=sig)
            if verdict is not None:
                d["verdict"] = verdict.key_of(g.index)
                d["verdict_reason"] = verdict.reason_of(g.index)
            emit("goroutine", d)
    for gr in grouping.groups:
        if sigs is not None:
            sig = group_signature(gr, sigs)
        elif grouping.by == "stack":
            sig = signer.of_group(gr)
        else:
            sig = None
        d = group_json(gr, max_ids, signature=sig)
        if verdict is not None:
            d["verdicts"] = verdict_counts_json(verdict.group_counts(gr),
                                                ORDER)
        emit("group", d)
    for sg in snap.signatures(grouping.filter):
        emit("signature", signature_json(sg))


def signature_json(sg):
    """A signature.SignatureGroup: the row `goparked triage` ranks."""
    from .text import func_location
    return {"signature": sg.signature, "wait_reason": sg.wait_reason,
            "site": func_location(sg.site, sep=" ") if sg.site else None,
            "count": sg.count, "worst_age_ns": sg.worst_age_ns,
            "example_goid": sg.goids[0] if sg.goids else None}


def group_signature(group, sigs):
    """The members' one signature (sigs: per goroutine index), or None
    when they have several."""
    found = None
    for i in group.member_indexes():
        if found is None:
            found = sigs[i]
        elif sigs[i] != found:
            return None
    return found


def one_goroutine_json(snap, g):
    """The document for `goparked CORE --goroutine N --json`."""
    from .signature import Signer
    doc = _head(GOROUTINE_SCHEMA, snap)
    doc["goroutine"] = goroutine_json(g, inline_stacks=True,
                                      signature=Signer(snap).of_goroutine(g))
    return doc


# ----------------------------------------- channels, sync objects, deadlocks

def waiter_json(w):
    return {"goid": w.goid, "role": w.role, "select": w.select,
            "sudog": hexaddr(w.sudog)}


def holder_json(h):
    """A probable holder (sync object) or possible waker (channel)."""
    return {"goid": h.goid, "rank": h.rank, "evidence": h.evidence,
            "description": _str(h.description), "frame": h.frame,
            "slot": hexaddr(h.slot), "value": hexaddr(h.value),
            "offset": h.offset if h.evidence_bits & 2 else None,
            "site_pc": hexaddr(h.site_pc), "role": h.role}


def chan_json(c):
    return {
        "address": hexaddr(c.address),
        "nil": c.nil,
        "elem_type": _str(c.elem_type),
        "elem_size": c.elem_size if c.elem_type else None,
        "len": None if c.nil else c.len,
        "cap": None if c.nil else c.cap,
        "closed": c.closed,
        "timer": c.timer,
        "timer_unknown": c.timer_unknown,
        "timer_when_ns": c.timer_when,
        "timer_period_ns": c.timer_period or None,
        "recv": c.nrecv,
        "send": c.nsend,
        "select": c.nselect,
        "waiters": [waiter_json(w) for w in c.waiters],
        "wakers": [holder_json(h) for h in c.wakers],
    }


def sync_json(s):
    locks = s.kind in ("mutex", "rwmutex") and not s.unreadable

    def only(cond, v):
        return v if cond else None
    return {
        "address": hexaddr(s.address),
        "kind": s.kind,
        "sema": hexaddr(s.sema),
        "state_word": None if s.unreadable else hexword(s.state),
        "unreadable": s.unreadable,
        "locked": only(locks, s.locked),
        "woken": only(locks and s.kind == "mutex", s.woken),
        "starving": only(locks and s.kind == "mutex", s.starving),
        "writer_pending": only(locks and s.kind == "rwmutex",
                               s.writer_pending),
        "state_waiters": only(s.kind in ("mutex", "waitgroup")
                              and not s.unreadable, s.state_waiters),
        "counter": only(s.kind in ("waitgroup", "rwmutex")
                        and not s.unreadable, s.counter),
        "readers": only(s.kind == "rwmutex" and not s.unreadable, s.readers),
        "holder_status": s.holder_status,
        "waiters": [waiter_json(w) for w in s.waiters],
        "holders": [holder_json(h) for h in s.holders],
    }


def edge_json(e):
    return {"goid": e.from_goid,
            "waits_on": {"kind": e.kind, "address": hexaddr(e.object)},
            "waits_for": e.to_goid, "evidence": _str(e.evidence)}


def stuck_json(st):
    return {"object": hexaddr(st["object"]),
            "kind": st["kind"] if st["reason"] != "select {}" else None,
            "reason": st["reason"], "provable": st["provable"],
            "goids": st["goids"]}


def chan_doc(snap, c):
    """The document for `goparked CORE --chan ADDR --json`."""
    doc = _head(CHAN_SCHEMA, snap)
    doc["chan"] = chan_json(c)
    return doc


def sync_doc(snap, s):
    """The document for `goparked CORE --mutex ADDR --json`."""
    doc = _head(SYNC_SCHEMA, snap)
    doc["sync"] = sync_json(s)
    return doc


def deadlocks_doc(snap, d):
    """The document for `goparked CORE --deadlocks --json`."""
    doc = _head(DEADLOCKS_SCHEMA, snap)
    doc["cycles"] = [{"select": c["select"],
                      "edges": [edge_json(e) for e in c["edges"]]}
                     for c in d.cycles]
    doc["stuck"] = [stuck_json(st) for st in d.stuck]
    doc["truncated"] = d.truncated
    return doc


# Keys every document of each schema has, in order (the README lists them;
# the tests hold both to these lists).
HEAD_KEYS = ["schema", "version", "program", "clock"]
SNAPSHOT_KEYS = HEAD_KEYS + ["summary", "grouping", "groups", "goroutines",
                             "stacks", "threads"]
ONE_GOROUTINE_KEYS = HEAD_KEYS + ["goroutine"]
CHAN_DOC_KEYS = HEAD_KEYS + ["chan"]
SYNC_DOC_KEYS = HEAD_KEYS + ["sync"]
DEADLOCKS_KEYS = HEAD_KEYS + ["cycles", "stuck", "truncated", "leaks"]
WATCH_KEYS = ["schema", "version", "pid", "samples", "seconds", "groups"]
WATCH_GROUP_KEYS = ["key", "count", "change", "rate_per_min", "wait_reason",
                    "site"]
DIFF_KEYS = ["schema", "version", "a", "b", "grew", "shrank", "appeared",
             "vanished"]
DIFF_ROW_KEYS = ["key", "a", "b", "change"]
RECORD_HEAD_KEYS = ["schema", "version", "record", "target"]
RECORD_SNAPSHOT_KEYS = RECORD_HEAD_KEYS + ["program", "clock", "summary",
                                           "grouping"]
RECORD_STACK_KEYS = RECORD_HEAD_KEYS + ["stack_id", "frames"]
SIGNATURE_KEYS = ["signature", "wait_reason", "site", "count",
                  "worst_age_ns", "example_goid"]
TRIAGE_ERROR_KEYS = RECORD_HEAD_KEYS + ["error"]
PROGRAM_KEYS = ["source", "target", "exe", "go_version", "has_dwarf",
                "has_symtab", "layout_from_table"]
CLOCK_KEYS = ["now_ns", "unix_offset_ns", "source", "exact"]
SUMMARY_KEYS = ["goroutines", "by_state", "system_by_state"]
GROUPING_KEYS = ["by", "filter", "goroutines"]
FILTER_KEYS = ["states", "include_system", "min_age_ns", "func", "label"]
THREAD_KEYS = ["tid", "m", "m_id", "goid", "pc", "sp", "crashed",
               "in_signal", "signal"]
WAITING_ON_KEYS = ["kind", "object", "sudog", "select"]
CHAN_KEYS = ["address", "nil", "elem_type", "elem_size", "len", "cap",
             "closed", "timer", "timer_unknown", "timer_when_ns",
             "timer_period_ns", "recv", "send", "select", "waiters",
             "wakers"]
SYNC_KEYS = ["address", "kind", "sema", "state_word", "unreadable", "locked",
             "woken", "starving", "writer_pending", "state_waiters",
             "counter", "readers", "holder_status", "waiters", "holders"]
WAITER_KEYS = ["goid", "role", "select", "sudog"]
HOLDER_KEYS = ["goid", "rank", "evidence", "description", "frame", "slot",
               "value", "offset", "site_pc", "role"]
CYCLE_KEYS = ["select", "edges"]
EDGE_KEYS = ["goid", "waits_on", "waits_for", "evidence"]
STUCK_KEYS = ["object", "kind", "reason", "provable", "goids"]
GOROUTINE_KEYS = ["goid", "state", "status", "raw_status", "wait_reason",
                  "wait_reason_code", "waitsince_ns", "age_ns", "system",
                  "locked_to_thread", "flags", "parent_goid", "start_func",
                  "address", "gopc", "startpc", "pc", "sp", "stack_lo",
                  "stack_hi", "m", "thread_tid", "wait_address", "waiting_on",
                  "labels", "labels_truncated", "error", "signature",
                  "stack_id",
                  "creator_stack_id"]
GROUP_KEYS = ["key", "key_address", "count", "wait_reason", "states",
              "stack_id", "site_frame", "site", "age_known", "age_ns",
              "oldest_waitsince_ns", "youngest_waitsince_ns", "goids",
              "signature"]
# With --verdict, after the keys above: a group (--json, --jsonl) has
# "verdicts" {key: goroutines} over VERDICT_KEYS; a --jsonl goroutine
# record "verdict" (a key of VERDICT_KEYS or "live") and "verdict_reason"
# (a key of VERDICT_REASON_KEYS, null for a live goroutine); the --jsonl
# snapshot record "verdicts" over "live" and VERDICT_KEYS (every goroutine)
# and "shown" (the grouping's goroutines: verdict.SHOWN_KEYS).
GROUP_VERDICT_KEYS = ["verdicts"]
GOROUTINE_VERDICT_KEYS = ["verdict", "verdict_reason"]
RECORD_SNAPSHOT_VERDICT_KEYS = ["verdicts", "shown"]
VERDICT_KEYS = ["leaked", "no_waker", "lingering", "blocked", "unknown"]
# The words of each verdict key, the same in every surface (text, report,
# GDB, LLDB; the JSON rows' "words").
VERDICT_WORDS = {"leaked": "leaked (proven)", "no_waker": "leaked (no waker)",
                 "lingering": "lingering", "blocked": "blocked",
                 "unknown": "unknown"}
VERDICT_REASON_KEYS = ["unreachable", "nil_chan", "select_empty",
                       "holder_leaked", "no_consumer", "no_decrement",
                       "timer_loop", "reachable", "timer", "not_judged",
                       "not_in_heap", "no_heap", "corrupt", "no_wait_object"]
FRAME_KEYS = ["func", "file", "line", "pc", "entry", "inlined", "trap",
              "wrapper", "runtime"]
