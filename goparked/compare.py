"""Snapshots compared: growth over time (watch), two snapshots side by
side (diff), and a gate for scripts (check).

Groups are matched across snapshots by their site key (wait reason and
first user frame), which holds no address, so two snapshots of one program
taken minutes apart, or a core and a JSON report of it, line up.
"""

import json
import sys
import time

from . import schema, text
from ._native import Error
from .live import snapshot_pid
from .model import Filter, Program
from .schema import RECORD_SCHEMA, SNAPSHOT_SCHEMA
from .text import target_str

__all__ = ["SiteCounts", "site_counts", "load_counts", "growth", "diff",
           "check", "watch", "run_diff", "run_check", "interval"]

# States that count as parked for check --max-parked / --max-age.
PARKED_STATES = ("waiting", "leaked")


class SiteCounts:
    """Parked goroutines per site key: what watch, diff and check compare.

    counts maps key -> count; info maps key -> (wait reason, location);
    when is the target's clock (ns) or None; oldest_age_ns the age of the
    oldest parked goroutine when the clock allows it.
    """

    def __init__(self, source, counts, info, when=None, total=0, parked=0,
                 oldest_age_ns=None, pause_ns=None):
        self.source = source
        self.counts = counts
        self.info = info
        self.when = when
        self.total = total
        self.parked = parked
        self.oldest_age_ns = oldest_age_ns
        self.pause_ns = pause_ns
        # (leaked (proven), leaked (no waker)) when the verdict was asked
        # for (check --max-leaked), else None
        self.leaked = None


def _location(site):
    """'func /full/path/file.go:12' of a Frame or a JSON frame; "" if
    none. The key diff and watch print when a group has no site key."""
    if not site:
        return ""
    return text.func_location(site, full=True, sep=" ")


def site_counts(snap, source="", pause_ns=None, verdict=False):
    """SiteCounts of a snapshot (system goroutines left out); verdict: with
    the leak verdict's counts too (it reads the heap)."""
    grouping = snap.group("site", Filter())
    counts, info = {}, {}
    oldest = None
    for g in grouping:
        counts[g.key] = counts.get(g.key, 0) + g.count
        info[g.key] = (g.wait_reason, _location(g.site))
        if set(g.states) & set(PARKED_STATES):
            ages = g.age_range
            if ages is not None and (oldest is None or ages[1] > oldest):
                oldest = ages[1]
    total, system = snap.state_counts()
    parked = sum(total.get(s, 0) - system.get(s, 0) for s in PARKED_STATES)
    clock = snap.clock
    when = clock.now if clock.known else None
    sc = SiteCounts(source, counts, info, when=when,
                    total=sum(total.values()) - sum(system.values()),
                    parked=parked, oldest_age_ns=oldest, pause_ns=pause_ns)
    if verdict:
        from .verdict import leaked_count
        sc.leaked = leaked_count(snap)
    return sc


# What made each document of the family: named in diff's refusal.
_MADE_BY = {"goparked/leaks": "--leaks --json",
            "goparked/deadlocks": "--deadlocks --json",
            "goparked/chan": "--chan ADDR --json",
            "goparked/sync": "--mutex ADDR --json",
            "goparked/goroutine": "--goroutine N --json",
            "goparked/watch": "--watch --json",
            "goparked/diff": "diff --json",
            "goparked/record": "--jsonl"}


def _not_a_grouping(doc, source):
    """The one-line refusal of diff for a goparked document that is not a
    grouping (a --leaks or --deadlocks verdict, one object, a --jsonl
    stream...), or None when doc is a snapshot document."""
    name = doc.get("schema") if isinstance(doc, dict) else None
    if name == SNAPSHOT_SCHEMA or not isinstance(name, str):
        return None
    made = _MADE_BY.get(name)
    return Error(Error.FORMAT, "%s is a %s document%s; diff compares "
                 "groupings: a core or a saved `goparked CORE --json` "
                 "(goparked/snapshot, grouped by site)"
                 % (source, name, " (%s)" % made if made else ""))


def counts_from_json(doc, source, diff=False):
    """SiteCounts from a saved `goparked --json` report (grouped by site),
    or the leak counts alone of a saved `--leaks --json` (not for diff:
    diff compares groups, and refuses every other document)."""
    if diff:
        refusal = _not_a_grouping(doc, source)
        if refusal is not None:
            raise refusal
    if isinstance(doc, dict) and doc.get("schema") == "goparked/leaks" and \
            isinstance(doc.get("counts"), dict):
        c = doc["counts"]
        sc = SiteCounts(source, {}, {}, when=(doc.get("clock") or {}).get(
            "now_ns"))
        sc.leaked = (int(c.get("leaked", 0)), int(c.get("no_waker", 0)))
        sc.parked = None
        return sc
    if not isinstance(doc, dict) or "groups" not in doc:
        raise Error(Error.FORMAT, "%s is not a goparked JSON report" % source)
    by = doc.get("grouping", {}).get("by", "site")
    if by != "site":
        raise Error(Error.FORMAT, "%s is grouped by %s; diff compares "
                    "reports grouped by site (the default)" % (source, by))
    counts, info = {}, {}
    oldest = None
    for g in doc["groups"]:
        key = g.get("key", "")
        counts[key] = counts.get(key, 0) + int(g.get("count", 0))
        info[key] = (g.get("wait_reason", ""), _location(g.get("site")))
        age = g.get("age_ns")
        if isinstance(age, list) and age:
            age = max(a for a in age if a is not None) if any(
                a is not None for a in age) else None
        if isinstance(age, (int, float)) and (oldest is None or age > oldest):
            oldest = age
    summary = doc.get("summary", {})
    by_state = summary.get("by_state", {})
    sys_state = summary.get("system_by_state", {})
    parked = sum(by_state.get(s, 0) - sys_state.get(s, 0)
                 for s in PARKED_STATES)
    total = sum(by_state.values()) - sum(sys_state.values())
    when = (doc.get("clock") or {}).get("now_ns")
    return SiteCounts(source, counts, info, when=when, total=total,
                      parked=parked, oldest_age_ns=oldest)


def _is_json(path):
    if path.endswith(".json"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
        return head.startswith(b"{")
    except OSError:
        return False


def _first_record(path):
    """The first line of path as JSON (a --jsonl stream's first record),
    or None."""
    try:
        with open(path) as f:
            return json.loads(f.readline())
    except (OSError, ValueError):
        return None


def load_counts(path, exe=None, guess_exe=None, verdict=False, diff=False):
    """SiteCounts of a core file or of a saved JSON report (diff: only a
    grouping document, see counts_from_json)."""
    if _is_json(path):
        try:
            with open(path) as f:
                doc = json.load(f)
        except OSError as e:
            raise Error(Error.OS, "cannot read %s: %s" % (path, e.strerror))
        except ValueError as e:
            first = _first_record(path)
            if isinstance(first, dict) and \
                    first.get("schema") == RECORD_SCHEMA:
                raise _not_a_grouping(first, path)
            raise Error(Error.FORMAT, "%s: not JSON (%s)" % (path, e))
        return counts_from_json(doc, path, diff=diff)
    if exe is None and guess_exe is not None:
        exe = guess_exe(path)
    with Program.from_core(path, exe) as prog:
        with prog.snapshot() as snap:
            return site_counts(snap, path, verdict=verdict)


# ------------------------------------------------------------------ watch

def growth(samples):
    """{key: goroutines per minute}: the least-squares slope of each key's
    count over the samples' times (seconds), 0 for a key seen once."""
    keys = set()
    for _, c in samples:
        keys.update(c)
    rates = {}
    n = len(samples)
    if n < 2:
        return {k: 0.0 for k in keys}
    ts = [t for t, _ in samples]
    tm = sum(ts) / n
    var = sum((t - tm) ** 2 for t in ts)
    for k in keys:
        ys = [c.get(k, 0) for _, c in samples]
        ym = sum(ys) / n
        cov = sum((t - tm) * (y - ym) for t, y in zip(ts, ys))
        rates[k] = (cov / var) * 60.0 if var > 0 else 0.0
    return rates


def growth_table(samples, info, limit=None):
    """Rows (rate per minute, last count, change since first, key), the
    fastest-growing first."""
    rates = growth(samples)
    first, last = samples[0][1], samples[-1][1]
    rows = [(rates[k], last.get(k, 0), last.get(k, 0) - first.get(k, 0), k)
            for k in rates]
    rows.sort(key=lambda r: (-r[0], -r[1], r[3]))
    return rows[:limit] if limit else rows


def _rate_text(r):
    return "%+.1f/min" % r


def render_growth(samples, info, out, limit=None):
    rows = growth_table(samples, info, limit)
    span = samples[-1][0] - samples[0][0]
    out.write("growth over %d samples, %s:\n" % (
        len(samples), text.duration(span * 1e9)))
    out.write("%12s %9s %9s  %s\n" % ("rate", "count", "change", "site"))
    for rate, count, change, key in rows:
        reason, loc = info.get(key, ("", ""))
        out.write("%12s %9d %+9d  %s\n" % (_rate_text(rate), count, change,
                                          target_str(key or loc or reason)))


def watch(pid, interval, count, exe=None, out=sys.stdout, limit=None,
          as_json=False, sleep=time.sleep):
    """Samples pid count times, interval seconds apart, printing per site
    the count and its growth rate (per minute), the fastest-growing first.
    Returns the samples [(seconds, {key: count})]."""
    samples, info = [], {}
    for i in range(count):
        if i:
            sleep(interval)
        prog, snap = snapshot_pid(pid, exe)
        with prog:
            with snap:
                sc = site_counts(snap, "pid %d" % pid, prog.pause_ns)
        t = sc.when / 1e9 if sc.when is not None else time.monotonic()
        samples.append((t, sc.counts))
        info.update(sc.info)
        if not as_json:
            out.write("sample %d/%d: %d goroutines, %d parked (paused %s)\n"
                      % (i + 1, count, sc.total, sc.parked,
                         text.pause(sc.pause_ns)))
            if i == count - 1 or i:
                render_growth(samples, info, out, limit)
            out.flush()
    if as_json:
        rows = growth_table(samples, info, limit)
        out.write(schema.dumps({"schema": schema.WATCH_SCHEMA,
                   "version": schema.SCHEMA_VERSION, "pid": pid,
                   "samples": len(samples),
                   "seconds": samples[-1][0] - samples[0][0],
                   "groups": [{"key": k or None, "count": c, "change": d,
                               "rate_per_min": r,
                               "wait_reason": info.get(k, ("", ""))[0]
                               or None,
                               "site": info.get(k, ("", ""))[1] or None}
                              for r, c, d, k in rows]}, indent=1))
        out.write("\n")
    return samples




# ------------------------------------------------------------------- diff

def diff(a, b):
    """{"grew": [...], "shrank": [...], "appeared": [...], "vanished": [...]}
    of (key, count in a, count in b), biggest change first."""
    out = {"grew": [], "shrank": [], "appeared": [], "vanished": []}
    for k in set(a.counts) | set(b.counts):
        ca, cb = a.counts.get(k, 0), b.counts.get(k, 0)
        if ca == cb:
            continue
        if not ca:
            out["appeared"].append((k, ca, cb))
        elif not cb:
            out["vanished"].append((k, ca, cb))
        elif cb > ca:
            out["grew"].append((k, ca, cb))
        else:
            out["shrank"].append((k, ca, cb))
    for rows in out.values():
        rows.sort(key=lambda r: (-abs(r[2] - r[1]), r[0]))
    return out


def render_diff(a, b, d, out):
    out.write("A: %s (%d goroutines)\nB: %s (%d goroutines)\n"
              % (target_str(a.source), a.total, target_str(b.source),
                 b.total))
    if not any(d.values()):
        out.write("no group changed\n")
        return
    for what in ("grew", "appeared", "shrank", "vanished"):
        rows = d[what]
        if not rows:
            continue
        out.write("%s:\n" % what)
        for k, ca, cb in rows:
            out.write("  %7d -> %-7d %+8d  %s\n" % (ca, cb, cb - ca,
                                                     target_str(k)))


def diff_json(a, b, d):
    return {"schema": schema.DIFF_SCHEMA, "version": schema.SCHEMA_VERSION,
            "a": a.source, "b": b.source,
            **{what: [{"key": k or None, "a": ca, "b": cb,
                       "change": cb - ca}
                      for k, ca, cb in rows] for what, rows in d.items()}}


# ------------------------------------------------------------------ check

def check(sc, max_parked=None, max_group=None, max_age_ns=None,
          max_leaked=None):
    """Lines naming every limit sc exceeds (empty: all hold)."""
    bad = []
    if max_leaked is not None and sc.leaked is not None and \
            sum(sc.leaked) > max_leaked:
        from .verdict import WORDS
        bad.append("leaked goroutines: %d > %d (--max-leaked): %d %s, %d %s"
                   % (sum(sc.leaked), max_leaked, sc.leaked[0],
                      WORDS["leaked"], sc.leaked[1], WORDS["no_waker"]))
    if max_parked is not None and sc.parked > max_parked:
        bad.append("parked goroutines: %d > %d (--max-parked)"
                   % (sc.parked, max_parked))
    if max_group is not None:
        for k, c in sorted(sc.counts.items(), key=lambda kv: -kv[1]):
            if c <= max_group:
                break
            bad.append("group of %d > %d (--max-group): %s"
                       % (c, max_group, target_str(k)))
    if max_age_ns is not None:
        # Unknown ages (no GC has stamped waitsince yet, or a core with no
        # clock) are not a failure: the CLI says the limit was not checked.
        if sc.oldest_age_ns is not None and sc.oldest_age_ns > max_age_ns:
            bad.append("oldest parked goroutine: %s > %s (--max-age)"
                       % (text.duration(sc.oldest_age_ns),
                          text.duration(max_age_ns)))
    return bad


# ------------------------------------------------------- CLI: diff, check

def interval(value):
    """--watch's interval in seconds: '5', '5s', '1m'."""
    from .options import parse_duration
    try:
        return float(value)
    except ValueError:
        pass
    return parse_duration(value) / 1e9


def build_diff_parser():
    from .options import OptionParser
    p = OptionParser(
        prog="goparked diff",
        description="Compare two snapshots (cores or saved --json reports, "
        "or one of each): which groups of parked goroutines grew, shrank, "
        "appeared or vanished. Groups match by site (wait reason and first "
        "user frame).")
    p.add_argument("a", metavar="A", help="core file or JSON report")
    p.add_argument("b", metavar="B", help="core file or JSON report")
    p.add_argument("--exe", metavar="BIN",
                   help="the executable of the cores (default: guessed per "
                   "core as for goparked CORE)")
    p.add_argument("--json", action="store_true", help="machine output")
    return p


def run_diff(argv, out, guess_exe):
    ns = build_diff_parser().parse_args(argv)
    a = load_counts(ns.a, ns.exe, guess_exe, diff=True)
    b = load_counts(ns.b, ns.exe, guess_exe, diff=True)
    d = diff(a, b)
    if ns.json:
        out.write(schema.dumps(diff_json(a, b, d), indent=1))
        out.write("\n")
    else:
        render_diff(a, b, d, out)
    return 0


def build_check_parser():
    from .options import OptionParser, parse_duration

    def duration(text):
        try:
            return parse_duration(text)
        except ValueError as e:
            import argparse
            raise argparse.ArgumentTypeError(str(e))

    p = OptionParser(
        prog="goparked check",
        description="A gate for scripts: exit 0 when every limit holds, 1 "
        "with a short report when one does not, 2 on errors.")
    p.add_argument("core", nargs="?", metavar="CORE",
                   help="core file (or a saved --json report)")
    p.add_argument("--pid", type=int, metavar="PID", help="a live process")
    p.add_argument("--exe", metavar="BIN", help="the executable")
    p.add_argument("--max-parked", type=int, metavar="N",
                   help="at most N parked (waiting) goroutines, system "
                   "goroutines left out")
    p.add_argument("--max-group", type=int, metavar="N",
                   help="at most N goroutines parked at any one site")
    p.add_argument("--max-age", type=duration, metavar="DURATION",
                   help="no goroutine parked for longer (e.g. 10m)")
    p.add_argument("--max-leaked", type=int, metavar="N",
                   help="at most N leaked goroutines: leaked (proven) and "
                   "leaked (no waker) of the leak verdict (reads the heap; "
                   "a saved report must be a --leaks --json)")
    return p


def run_check(argv, out, err, guess_exe):
    ns = build_check_parser().parse_args(argv)
    if (ns.core is None) == (ns.pid is None):
        from .options import OptionError
        raise OptionError("give a CORE or --pid PID")
    if ns.pid is not None:
        prog, snap = snapshot_pid(ns.pid, ns.exe,
                                  hold=ns.max_leaked is not None)
        with prog:
            with snap:
                sc = site_counts(snap, "pid %d" % ns.pid, prog.pause_ns,
                                 verdict=ns.max_leaked is not None)
    else:
        sc = load_counts(ns.core, ns.exe, guess_exe,
                         verdict=ns.max_leaked is not None)
    if ns.max_leaked is not None and sc.leaked is None:
        raise Error(Error.FORMAT, "%s has no leak verdict (--max-leaked "
                    "needs the core, or a saved --leaks --json)"
                    % target_str(sc.source))
    if sc.parked is None and (ns.max_parked is not None or
                              ns.max_group is not None or
                              ns.max_age is not None):
        raise Error(Error.FORMAT, "%s is a --leaks report: only --max-leaked "
                    "can be checked on it" % target_str(sc.source))
    bad = check(sc, ns.max_parked, ns.max_group, ns.max_age, ns.max_leaked)
    if ns.max_age is not None and sc.oldest_age_ns is None and sc.parked:
        err.write("goparked: note: no parked goroutine has a known age yet "
                  "(the runtime stamps it at a GC); --max-age not checked\n")
    if bad:
        out.write("goparked check: %s: %d limit%s exceeded\n"
                  % (target_str(sc.source), len(bad),
                     "" if len(bad) == 1 else "s"))
        for line in bad:
            out.write("  " + line + "\n")
        return 1
    return 0
