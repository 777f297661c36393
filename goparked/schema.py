"""JSON output of goparked, with a versioned schema.

SCHEMA_VERSION changes whenever a field changes meaning or goes away; new
fields may appear within a version. README.rst ("JSON output") documents
every field; tests/test_cli.py checks the documented keys are there.

Conventions:
- Addresses (g, pc, channels, ...) are strings "0x..." because JSON numbers
  lose precision past 2**53 in many readers. Goroutine ids, counts, lines
  and nanosecond values are numbers.
- Something unknown is null, never 0 or "".
- Stacks are shared: "stacks" maps a stack id (a decimal string) to its
  frames, innermost first; goroutines and groups refer to it by "stack_id".
"""

SCHEMA_VERSION = 1
SNAPSHOT_SCHEMA = "goparked/snapshot"
GOROUTINE_SCHEMA = "goparked/goroutine"


def hexaddr(v):
    return "0x%x" % v if v else None


def frame_json(f):
    return {
        "func": f.func or None,
        "file": f.file or None,
        "line": f.line or None,
        "pc": hexaddr(f.pc),
        "entry": hexaddr(f.entry),
        "inlined": f.inlined,
        "trap": f.trap,
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


def goroutine_json(g, inline_stacks=False):
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
        "labels": g.labels,
        "error": g.error,
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


def group_json(group, max_ids=None):
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
    total, system = snap.state_counts()
    goroutines, stack_ids = [], set()
    for g in snap.goroutines():
        goroutines.append(goroutine_json(g))
        for sid in (g.stack_id, g.creator_stack_id):
            if sid is not None:
                stack_ids.add(sid)
    groups = [group_json(gr) for gr in grouping.groups]
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


def one_goroutine_json(snap, g):
    """The document for `goparked CORE --goroutine N --json`."""
    return {
        "schema": GOROUTINE_SCHEMA,
        "version": SCHEMA_VERSION,
        "program": program_json(snap.program),
        "clock": clock_json(snap.clock),
        "goroutine": goroutine_json(g, inline_stacks=True),
    }


# Keys every document of each schema has (the README lists them; the tests
# hold both to this list).
SNAPSHOT_KEYS = ["schema", "version", "program", "clock", "summary",
                 "grouping", "groups", "goroutines", "stacks", "threads"]
GOROUTINE_KEYS = ["goid", "state", "status", "raw_status", "wait_reason",
                  "wait_reason_code", "waitsince_ns", "age_ns", "system",
                  "locked_to_thread", "flags", "parent_goid", "start_func",
                  "address", "gopc", "startpc", "pc", "sp", "stack_lo",
                  "stack_hi", "m", "thread_tid", "wait_address", "waiting_on",
                  "labels", "error", "stack_id", "creator_stack_id"]
GROUP_KEYS = ["key", "key_address", "count", "wait_reason", "states",
              "stack_id", "site_frame", "site", "age_known", "age_ns",
              "oldest_waitsince_ns", "youngest_waitsince_ns", "goids"]
FRAME_KEYS = ["func", "file", "line", "pc", "entry", "inlined", "trap"]
