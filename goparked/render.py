"""Text rendering, shared by the CLI and the debugger commands.

Every function returns a string (lines joined, ending in a newline) and
writes nothing: the CLI prints it, GDB gives it to gdb.write, LLDB to the
command result.
"""

import os

from . import schema, text
from ._native import Error
from .options import filter_from_options
from .text import (creator_shown, frame_location, func_for_print,
                   func_location, shown_frames, target_str)

# How the runtime names states in a traceback header (gStatusStrings).
_RUNTIME_STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall",
                   4: "waiting", 6: "dead", 8: "copystack", 9: "preempted",
                   10: "leaked"}

_KEY_COLUMN = {"site": "SITE", "stack": "STACK", "chan": "CHANNEL",
               "mutex": "MUTEX", "creator": "CREATED BY", "label": "LABELS",
               "age": "AGE"}


def render_snapshot(ns, snap, out):
    """What the goroutine options ask for, from a snapshot: the CLI and
    the debuggers' `go goroutines` both call this."""
    if ns.goroutine is not None:
        g = snap.goroutine(ns.goroutine)
        if ns.json:
            out.write(schema.dumps(schema.one_goroutine_json(snap, g),
                                 indent=1) + "\n")
        else:
            out.write(goroutine_text(snap, g,
                                     getattr(ns, "all_frames", False)))
        return
    if (getattr(ns, "chan", None) is not None or
            getattr(ns, "mutex", None) is not None or
            getattr(ns, "deadlocks", False)):
        from . import analysis
        analysis.render_options(ns, snap, out)
        return
    if ns.threads and not ns.json:
        out.write(threads_text(snap))
        return
    grouping = snap.group(ns.by, filter_from_options(ns))
    view = None
    if getattr(ns, "verdict", False):
        from .verdict import VerdictView
        view = VerdictView(snap, grouping)
    if getattr(ns, "jsonl", False):
        schema.write_jsonl(snap, grouping, out, detail=ns.detail,
                           max_ids=ns.ids, verdict=view)
    elif ns.json:
        from .jsonstream import write_snapshot_json
        write_snapshot_json(snap, grouping, out, verdict=view)
    else:
        out.write(grouping_text(
            snap, grouping, limit=ns.limit, ids=ns.ids,
            show_system=ns.system, verdict=view,
            all_frames=getattr(ns, "all_frames", False),
            verdict_hint=view is None and grouping.by == "site"))


def age_text(group):
    """'4m59s..5m3s', '5m', with '(k/n)' when only some ages are known."""
    return text.age_range(group.age_range, group.age_known, group.count)


def ids_text(group, n):
    return text.ids(group.goids(n), n, total=group.count)


def header(snap, show_system=False):
    prog = snap.program
    lines = []
    kind = "live" if prog.is_live else "core"
    facts = [target_str(prog.go_version, "go?"),
             "%s %s" % (kind, target_str(prog.description))]
    if not prog.has_dwarf:
        facts.append("no DWARF" + (": layout from tables"
                                   if prog.layout_from_table else ""))
    lines.append("%s  %s" % (target_str(os.path.basename(prog.exe_path or "")),
                             "  ".join(facts)))
    total, system = snap.state_counts()
    order = sorted(total, key=lambda s: (-total[s], s))
    parts = ["%d %s" % (total[s], s) for s in order]
    line = "%d goroutines" % len(snap)
    if parts:
        line += ": " + ", ".join(parts)
    nsys = sum(system.values())
    if nsys and not show_system:
        line += "  (%d runtime goroutines not grouped; --system)" % nsys
    lines.append(line)
    clock = snap.clock
    if clock.known and not clock.exact:
        lines.append("ages are lower bounds (clock from %s)"
                     % (clock.source or "the core"))
    elif not clock.known:
        lines.append("ages unknown (no clock in this %s)" % kind)
    return lines


def _object_describer(snap, by):
    """For --by chan/mutex: a short description of each object (channel
    element type, len/cap, timer; mutex kind, state, probable holder), from
    the engine's analyses, all objects at once."""
    if by not in ("chan", "mutex"):
        return lambda address: ""
    from . import analysis
    try:
        if by == "chan":
            table = {c.address: analysis.chan_summary(c)
                     for c in analysis.chans(snap)}
        else:
            table = {s.address: analysis.sync_summary(s)
                     for s in analysis.syncs(snap)}
    except Error:
        return lambda address: ""
    return lambda address: table.get(address, "")


# The last line of a plain --by site listing with parked goroutines: the
# verdict is opt-in (it reads the heap), and this says where it is.
VERDICT_HINT = ("leak verdict not read (it reads the heap): --verdict "
                "counts each group's leaked (proven), leaked (no waker), "
                "lingering, blocked; --leaks gives the proof")

# States of a goroutine the verdict judges (parked).
_PARKED = ("waiting", "leaked")


def grouping_text(snap, grouping, limit=None, ids=8, show_system=False,
                  verdict=None, all_frames=False, verdict_hint=False):
    """The grouped view; verdict (a verdict.VerdictView of the same
    grouping) adds each group's verdict counts; stacks as the runtime's
    non-crash traceback shows them unless all_frames. verdict_hint: end
    with VERDICT_HINT when a group has parked goroutines."""
    by = grouping.by
    lines = header(snap, show_system)
    if verdict is not None:
        from .verdict import summary_lines
        lines += summary_lines(verdict, left_out=False)
    lines.append("")
    groups = grouping.groups
    if not groups:
        lines.append("no goroutines match")
        return "\n".join(lines) + "\n"
    shown = groups[:limit] if limit else groups
    reasons = [target_str(g.wait_reason, "-") for g in shown]
    states = [",".join(g.states) or "-" for g in shown]
    ages = [age_text(g) for g in shown]
    wr = max(12, max(len(r) for r in reasons))
    ws = max(5, max(len(s) for s in states))
    wa = max(6, max(len(a) for a in ages))
    lines.append("%7s  %-*s  %-*s  %-*s  %s" % (
        "COUNT", wr, "WAIT", ws, "STATE", wa, "PARKED", _KEY_COLUMN[by]))
    pad = " " * 9
    describe = _object_describer(snap, by)
    minor = _minor(snap)

    def frame_line(f):
        return "%s%s%s" % (pad, func_location(f),
                           "  (inlined)" if f.inlined else "")
    for g, reason, state, age in zip(shown, reasons, states, ages):
        site = g.site
        site_text = func_location(site) if site else "?"
        if by == "site":
            key = site_text
        elif by in ("chan", "mutex"):
            key = ("0x%x" % g.key_address) if g.key_address else \
                target_str(g.key, "(none)")
            more = describe(g.key_address)
            if more:
                key += "  " + more
        elif by == "stack":
            frames = shown_frames(g.frames, all_frames)
            key = "%d frames" % len(frames)
            if len(frames) < len(g.frames):
                key += " (%d more: --all-frames)" % (len(g.frames)
                                                     - len(frames))
        elif by == "label":
            key = text.labels_text(g.labels)
        else:
            key = target_str(g.key, "(none)")
        lines.append("%7d  %-*s  %-*s  %-*s  %s" % (
            g.count, wr, reason, ws, state, wa, age, key))
        if by == "stack":
            # a deep stack as the runtime's traceback cuts it
            head, elided, tail = text.traceback_frames(g.frames, minor,
                                                       all_frames)
            for f in head:
                lines.append(frame_line(f))
            if elided is not None:
                lines.append(pad + text.elided_line(elided))
            for f in tail:
                lines.append(frame_line(f))
        elif by != "site":
            lines.append("%sat %s" % (pad, site_text))
        lines.append("%sgoroutine %s" % (pad, ids_text(g, ids)))
        if verdict is not None:
            from .verdict import counts_words
            lines.append("%sverdict: %s" % (pad, counts_words(
                verdict.group_counts(g))))
    total = grouping.total
    foot = "%d goroutines in %d groups" % (total, len(groups))
    if limit and len(groups) > limit:
        rest = groups[limit:]
        foot += "; %d more groups (%d goroutines) not shown" % (
            len(rest), sum(g.count for g in rest))
    lines.append("")
    lines.append(foot)
    if verdict_hint and any(set(g.states) & set(_PARKED) for g in groups):
        lines.append(VERDICT_HINT)
    return "\n".join(lines) + "\n"


def _minor(snap):
    """The target's Go minor version (None when unknown)."""
    try:
        return text.go_minor(snap.program.go_version)
    except (AttributeError, Error):
        return None


def goroutine_header(g):
    """'goroutine 18 [chan receive, 5 minutes, locked to thread]:'."""
    if g.status == 4 and g.wait_reason:
        status = target_str(g.wait_reason)
    else:
        status = _RUNTIME_STATUS.get(g.status, "status %d" % g.status)
    text = "goroutine %d [%s" % (g.goid, status)
    age = g.age_ns
    if age is not None and age >= 60 * 10**9:
        text += ", %d minutes" % (age // (60 * 10**9))
    if g.locked:
        text += ", locked to thread"
    return text + "]:"


def frames_text(frames):
    lines = []
    for f in frames:
        lines.append("%s(...)" % func_for_print(f.func))
        loc = "\t" + frame_location(f, full=True) if f.file else \
            "\t?:0 pc=0x%x" % f.pc
        # runtime/traceback.go prints the offset only past the entry: a
        # goroutine preempted at asyncPreempt's first instruction has none.
        if not f.inlined and f.entry and f.pc > f.entry:
            loc += " +0x%x" % f.offset
        lines.append(loc)
    return lines


def goroutine_text(snap, g, all_frames=False):
    """One goroutine in full, in the runtime's traceback shape (its
    non-crash traceback's frames, text.shown_frames, unless all_frames),
    then what goparked knows beyond it."""
    lines = [goroutine_header(g)]
    head, elided, tail = text.traceback_frames(
        g.frames, _minor(snap), all_frames, bool(g.flags & (1 << 7)))
    lines += frames_text(head)
    if elided is not None:
        lines.append(text.elided_line(elided))
    lines += frames_text(tail)
    creator = g.creator_frames
    if creator and not all_frames and not creator_shown(creator[-1]):
        pass  # printcreatedby shows no wrapper or runtime creator
    elif creator:
        # As the runtime does: the physical function that ran the go
        # statement, the innermost file:line at it.
        outer, inner = creator[-1], creator[0]
        line = "created by %s" % func_for_print(outer.func)
        if g.parent_goid:
            line += " in goroutine %d" % g.parent_goid
        lines.append(line)
        loc = "\t" + (frame_location(inner, full=True) if inner.file
                      else "?:%d" % inner.line)
        if outer.entry and outer.pc > outer.entry:
            loc += " +0x%x" % (outer.pc - outer.entry)
        lines.append(loc)
    elif g.parent_goid:
        lines.append("created by %s in goroutine %d"
                     % (target_str(g.start_func), g.parent_goid))
    lines.append("")
    facts = []
    if g.age_ns is not None:
        clock = snap.clock
        facts.append("parked %s%s" % (
            text.duration(g.age_ns),
            "" if clock.exact else " at least"))
    facts.append("state %s (status 0x%x)" % (g.state, g.raw_status))
    for w in g.waiting:
        facts.append("waits on %s 0x%x%s" % (w.kind, w.object,
                                              " (select)" if w.is_select
                                              else ""))
    if not g.waiting and g.wait_address:
        facts.append("waits on 0x%x" % g.wait_address)
    labels = g.labels
    if labels:
        facts.append("labels " + text.labels_text(labels))
    t = g.thread
    if t is not None:
        facts.append("on thread %d (m%d)" % (t.tid, t.m_id))
    facts.append("g 0x%x  stack [0x%x, 0x%x)  pc 0x%x  sp 0x%x" % (
        g.address, g.stack_lo, g.stack_hi, g.pc, g.sp))
    if g.error:
        facts.append("incomplete: %s" % target_str(g.error))
    lines += ["# " + f for f in facts]
    return "\n".join(lines) + "\n"


def threads_text(snap):
    threads = snap.threads()
    lines = ["%-8s %-5s %-9s %-18s %s" % ("TID", "M", "GOROUTINE", "PC",
                                          "WHERE")]
    for t in threads:
        where = ""
        if t.curg_goid:
            i = snap.find(t.curg_goid)
            if i is not None:
                frames = snap.goroutine_at(i).frames
                if frames:
                    where = func_location(frames[0])
        # a thread in C code (cgo, libc): its C frames, innermost first
        try:
            cframes = snap.program.c_frames(t.tid, 8)
        except Exception:  # noqa: BLE001 - no C frames is no error here
            cframes = []
        if cframes:
            where = ("in C: %s  %s" % (" <- ".join(str(f) for f in cframes[:3]), where)).strip()
        marks = []
        if t.crashed:
            marks.append("crashed")
        if t.signal:
            marks.append("signal %d" % t.signal)
        if t.in_signal:
            marks.append("in signal handler")
        if marks:
            where = ("%s  [%s]" % (where, ", ".join(marks))).strip()
        lines.append("%-8d %-5s %-9s 0x%-16x %s" % (
            t.tid, ("m%d" % t.m_id) if t.m_address else "-",
            str(t.curg_goid) if t.curg_goid else "-", t.pc, where))
    if not threads:
        lines.append("(no threads)")
    return "\n".join(lines) + "\n"
