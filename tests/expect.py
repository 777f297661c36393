"""What goparked must say about a fixture core, from independent facts only:
the runtime's own goroutine dump of that moment (tests/oracle.py) and the
fixture's account of what it parked. Never from goparked's output.

Shared by the CLI, GDB, LLDB and report tests, so that every front end is
held to the same facts rather than to each other.
"""

import collections
import re


def user_goids(fc):
    """The goroutines the program made (grouped by default): the account's
    and main. The rest of the dump is the runtime's own."""
    acc = fc.load_account()
    return {acc["main_goid"]} | {i for g in acc["groups"] for i in g["goids"]}


def _partition(fc, key):
    parts = collections.defaultdict(set)
    dump = fc.parsed_dump().goroutines
    for goid in user_goids(fc):
        parts[key(dump[goid])].add(goid)
    return {frozenset(v) for v in parts.values()}


def stack_partition(fc):
    """{goids} with identical stacks as the runtime printed them (function,
    file, line and +0x offset of every frame): the groups of --by stack."""
    return _partition(fc, lambda g: tuple((f.func, f.file, f.line, f.offset)
                                          for f in g.frames))


def creator_partition(fc):
    """{goids} made by the same go statement (the dump's "created by" with
    its file, line and offset): the groups of --by creator."""
    def key(g):
        c = g.created_by
        return (c.func, c.file, c.line, c.offset) if c else None
    return _partition(fc, key)


def site_partition(fc):
    """{goids} per wait function and state at the core (the groups of
    --by site): the account's groups, merged where they share both."""
    acc = fc.load_account()
    parts = collections.defaultdict(set)
    for g in acc["groups"]:
        for goid in g["goids"]:
            parts[(g["wait_func"], fc.state_at_core(goid))].add(goid)
    main = acc["main_goid"]
    parts[(acc["main_wait_func"], fc.state_at_core(main))].add(main)
    return {frozenset(v) for v in parts.values()}


def chan_waiters(fc):
    """{channel address: {goids}} of every non-nil channel the account says
    goroutines block on (a select counts under each of its channels)."""
    out = collections.defaultdict(set)
    for goid, o in objects(fc):
        if o["kind"] == "chan" and not o.get("nil") and \
                o["role"] in ("recv", "send"):
            out[int(o["addr"], 16)].add(goid)
    return dict(out)


def objects(fc):
    """[(goid, object)] for every object of the account."""
    out = []
    for g in fc.load_account()["groups"]:
        for i, goid in enumerate(g["goids"]):
            objs = (g["per_goroutine"][i] if g.get("per_goroutine")
                    else g.get("objects") or [])
            out.extend((goid, o) for o in objs)
    return out


def threads(fc):
    """{m id: goid or None}: the goroutine each M printed in its own
    section of the dump (goroutine 0, its g0, as None)."""
    return {m: (g.goid or None) for m, g in fc.parsed_dump().per_m}


def states(fc):
    """Counter {state: goroutines} of every goroutine the dump printed."""
    return collections.Counter(g.state for g in fc.parsed_dump()
                               .goroutines.values())


_THREAD_ROW = re.compile(r"^(\d+)\s+m(\d+)\s+(\d+|-)\s+0x[0-9a-f]+")


def threads_of_text(text):
    """{m id: goid or None} from `--threads` / `go threads` text."""
    out = {}
    for line in text.splitlines():
        m = _THREAD_ROW.match(line)
        if m:
            out[int(m.group(2))] = None if m.group(3) == "-" \
                else int(m.group(3))
    return out


def labels_match(got, want):
    """The engine's labels of a goroutine (goparked's dict) hold the
    expected ones (str, bytes outside UTF-8 as "surrogateescape"): every
    key, every byte of each value; a value the engine kept only the start
    of (over its 1 MiB read limit) is that start, with the real length."""
    if got.keys() != want.keys():
        return False
    for k, v in want.items():
        g = got[k].encode("utf-8", "surrogateescape")
        w = v.encode("utf-8", "surrogateescape")
        full = getattr(got[k], "full_len", None)
        if full is None:
            if g != w:
                return False
        elif full != len(w) or not w.startswith(g) or len(g) != 1 << 20:
            return False
    return True
