"""`goparked CORE --json` as a stream: the goparked/snapshot document of
schema.py, written piece by piece, never held as one object tree.

The goroutines, the bulk of it, are written by the engine
(native/src/analysis/json.c) in 64 KiB chunks, with the names (states,
flags, wait kinds) and each goroutine's signature given from here; the rest (head,
groups, stacks, threads) is small and written here. Memory stays bounded
by the chunks, the signatures (4 bytes a goroutine) and the number of
distinct stacks, whatever the number of goroutines.
The document is the one schema.snapshot_json describes (tests compare
them); only its layout differs (one goroutine, group or stack a line).
"""

import ctypes

from . import _native as N
from . import schema
from .verdict import ORDER

__all__ = ["write_snapshot_json"]

CHUNK = 1 << 16

_enc = schema.compact


def _signature_table(snap, signer):
    """{key: signature} for every (stack id << 32 | wait reason string id)
    of the snapshot, from the engine's --by stack groups (a goroutine
    never needs to be visited, but in a group of several wait reasons)."""
    from .model import Filter
    table = {}
    for g in snap.group("stack", Filter(include_system=True)):
        sid = N.NONE if g.stack_id is None else g.stack_id
        if g.wait_reason != "(several)":
            table[sid << 32 | g.waitreason_str] = signer.of(
                g.stack_id, g.site_index, g.wait_reason)
            continue
        wr = snap.field_view("waitreason_str")
        for i in g.member_indexes():
            k = sid << 32 | wr[i]
            if k not in table:
                table[k] = signer.of(g.stack_id, g.site_index,
                                     snap.string(wr[i]))
    return table


def _group_signature(snap, group, table):
    """The members' one signature, or None when they have several."""
    sid = snap.field_view("stack_id")
    wr = snap.field_view("waitreason_str")
    view = group._grouping._members_view()
    end = min(group._first + group.count, len(view))
    last, found = None, None
    for i in view[group._first:end]:
        k = sid[i] << 32 | wr[i]
        if k == last:
            continue
        last = k
        sig = table.get(k)
        if found is None:
            found = sig
        elif sig != found:
            return None
    return found


def write_snapshot_json(snap, grouping, out, verdict=None):
    """Writes the --json document of snap grouped as grouping to out;
    verdict (a verdict.VerdictView of the grouping, --verdict): each group
    also has "verdicts", its goroutines per verdict key, and each
    goroutine "verdict" and "verdict_reason" (as --jsonl --detail's
    goroutine records)."""
    from .signature import Signer
    signer = Signer(snap)
    table = _signature_table(snap, signer) if len(snap) else {}
    total, system = snap.state_counts()
    w = out.write
    w('{"schema":%s,"version":%d,"program":%s,"clock":%s,"summary":%s,'
      '"grouping":%s,\n"groups":[' % (
          _enc(schema.SNAPSHOT_SCHEMA), schema.SCHEMA_VERSION,
          _enc(schema.program_json(snap.program)),
          _enc(schema.clock_json(snap.clock)),
          _enc({"goroutines": len(snap), "by_state": total,
                "system_by_state": system}),
          _enc({"by": grouping.by,
                "filter": schema.filter_json(grouping.filter),
                "goroutines": grouping.total})))
    stack_ids = set()
    for k, gr in enumerate(grouping.groups):
        if gr.stack_id is not None:
            stack_ids.add(gr.stack_id)
        doc = schema.group_json(gr, signature=_group_signature(snap, gr, table))
        if verdict is not None:
            counts = verdict.group_counts(gr)
            doc["verdicts"] = {v: counts.get(v, 0) for v in ORDER}
        w("%s\n%s" % ("," if k else "", _enc(doc)))
    w('],\n"goroutines":[')
    _write_goroutines(snap, table, stack_ids, out,
                      verdict.verdicts if verdict is not None else None)
    w('],\n"stacks":{')
    for k, sid in enumerate(sorted(stack_ids)):
        w('%s\n"%d":%s' % ("," if k else "", sid, _enc(
            [schema.frame_json(f) for f in snap.stack(sid)])))
    w('},\n"threads":%s}\n' % _enc(
        [schema.thread_json(t) for t in snap.threads()]))


def _c_names(table, n):
    arr = (ctypes.c_char_p * max(n, 1))()
    for k, v in table.items():
        if 0 <= k < n:
            arr[k] = v.encode()
    return arr


def _write_goroutines(snap, table, stack_ids, out, verdicts=None):
    """The goroutines, written by the engine's JSON writer
    (native/src/analysis/json.c) with the names defined here in Python;
    with verdicts (model.Verdicts), each one's verdict and reason keys."""
    n = len(snap)
    for name in ("stack_id", "creator_stack"):
        view = snap.field_view(name)
        for start in range(0, n, CHUNK):
            stack_ids.update(view[start:start + CHUNK].tolist())
    stack_ids.discard(N.NONE)
    nstatus = max(N.STATUS_NAMES) + 1
    nkind = max(N.WAIT_KIND_NAMES) + 1
    flags = {bit.bit_length() - 1: name
             for bit, name in N.G_FLAG_NAMES.items()}
    keys = sorted(table)
    sigs = sorted(set(table.values()))
    index = {sig: i for i, sig in enumerate(sigs)}
    c_keys = (ctypes.c_uint64 * max(len(keys), 1))(*keys)
    c_of = (ctypes.c_uint32 * max(len(keys), 1))(
        *[index[table[k]] for k in keys])
    c_sigs = (ctypes.c_char_p * max(len(sigs), 1))(
        *[x.encode() for x in sigs])
    names = N.JsonNames(
        status=_c_names(N.STATUS_NAMES, nstatus), nstatus=nstatus,
        flag=_c_names(flags, 32),
        wait_kind=_c_names(N.WAIT_KIND_NAMES, nkind), nwait_kind=nkind,
        sig_keys=c_keys, sig_of=c_of, nkeys=len(keys),
        sigs=c_sigs, nsigs=len(sigs), flag_system=N.G_SYSTEM,
        flag_locked=N.G_LOCKED, clock_known=int(snap.clock.known))
    if verdicts is not None:
        raw = verdicts._raw
        nv, nr = max(N.VERDICT_KEYS) + 1, max(N.VERDICT_REASON_KEYS) + 1
        names.verdicts = ctypes.cast(raw.goroutines, ctypes.c_void_p)
        names.nverdicts = raw.ngoroutines
        names.verdict = _c_names(N.VERDICT_KEYS, nv)
        names.nverdict = nv
        names.reason = _c_names({k: v for k, v in N.VERDICT_REASON_KEYS.items() if v}, nr)
        names.nreason = nr
    failure = []
    # Bytes straight to the binary stream under a text one (stdout).
    out.write("\n")
    raw = getattr(out, "buffer", None)
    if raw is not None:
        out.flush()

        def emit(data):
            raw.write(data)
    else:
        def emit(data):
            out.write(data.decode("ascii"))

    def write(_arg, buf, size):
        try:
            emit(ctypes.string_at(buf, size))
            return 0
        except BaseException as e:  # (BrokenPipe ...) raised again below
            failure.append(e)
            return 1

    cb = N.JSON_WRITE_FN(write)
    err = N.lib().gp_snapshot_write_goroutines_json(
        snap._handle(), ctypes.byref(names), cb, None)
    if raw is not None:
        raw.flush()
    if failure:
        try:
            N.lib().check(err)  # frees it
        except N.Error:
            pass
        raise failure[0]
    N.lib().check(err)
