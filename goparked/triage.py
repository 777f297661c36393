"""goparked triage: many cores at once, one table of signatures.

    goparked triage CORE... | DIR [--exe BIN] [--jobs N] [--jsonl FILE]

Each core is read in a process of its own (a pool as big as the machine
has CPUs), its executable found as for `goparked CORE` (or --exe). Its
goroutines (the runtime's own left out) are grouped by signature
(signature.py): per core, how many goroutines have each signature, the
oldest of them and the one with the smallest id. The table then ranks the
signatures across cores: on how many cores each appears, how many
goroutines in all, the worst age, and an example (core and goroutine).

A core that cannot be read gives one line on stderr and leaves the others
alone. Exit status: 0 when every core was read, 1 when one or more could
not be, 2 when nothing could be tried (bad options, no core).

--jsonl FILE writes one line per (core, signature) and one per core that
failed, for aggregation elsewhere (README: DuckDB's read_json_auto).
"""

import os
import sys

from . import schema, text
from .text import target_str

__all__ = ["triage_core", "rank", "find_cores", "run_triage"]

def _is_core(path):
    """An ELF core file (e_type ET_CORE), by its header alone."""
    try:
        with open(path, "rb") as f:
            head = f.read(18)
    except OSError:
        return False
    return len(head) == 18 and head[:4] == b"\x7fELF" and \
        int.from_bytes(head[16:18], "little" if head[5] == 1 else "big") == 4


def find_cores(args):
    """The cores named: files as given, directories by their core files
    (sorted, not recursive)."""
    out = []
    for a in args:
        if os.path.isdir(a):
            for name in sorted(os.listdir(a)):
                p = os.path.join(a, name)
                if os.path.isfile(p) and _is_core(p):
                    out.append(p)
        else:
            out.append(a)
    return out


def triage_core(core, exe=None):
    """One core's signatures as plain data (runs in a worker process):
    {"core", "exe", "go_version", "goroutines", "signatures": [row]}
    or {"core", "error"}. A row is {"signature", "wait_reason", "site",
    "count", "worst_age_ns", "example_goid"}."""
    from .api import find_exe
    from .model import Program
    from ._native import Error
    try:
        exe = exe or find_exe(core)
        with Program.from_core(core, exe) as prog:
            with prog.snapshot() as snap:
                return {"core": core, "exe": exe,
                        "go_version": prog.go_version or None,
                        "goroutines": len(snap),
                        "signatures": signature_rows(snap)}
    except Error as e:
        return {"core": core, "error": e.message}
    except (OSError, ValueError) as e:
        return {"core": core, "error": str(e)}
    except Exception as e:  # a bug: still this core's line only
        return {"core": core, "error": "internal error: %s: %s"
                % (type(e).__name__, e)}


def signature_rows(snap, filter=None):
    """[row] of one snapshot, biggest first (see triage_core)."""
    return [schema.signature_json(sg) for sg in snap.signatures(filter)]


def rank(results):
    """The table across cores: [{"signature", "cores", "goroutines",
    "worst_age_ns", "wait_reason", "site", "example_core",
    "example_goid"}], on most cores first, then most goroutines, then by
    signature. The example is the first core (in the order given) that
    has the signature."""
    table = {}
    for res in results:
        if "error" in res:
            continue
        for r in res["signatures"]:
            t = table.get(r["signature"])
            if t is None:
                t = table[r["signature"]] = {
                    "signature": r["signature"], "cores": 0,
                    "goroutines": 0, "worst_age_ns": None,
                    "wait_reason": r["wait_reason"], "site": r["site"],
                    "example_core": res["core"],
                    "example_goid": r["example_goid"]}
            t["cores"] += 1
            t["goroutines"] += r["count"]
            age = r["worst_age_ns"]
            if age is not None and (t["worst_age_ns"] is None or
                                    age > t["worst_age_ns"]):
                t["worst_age_ns"] = age
    return sorted(table.values(),
                  key=lambda t: (-t["cores"], -t["goroutines"],
                                 t["signature"]))


def jsonl_lines(res):
    """The JSONL records of one core's result (dicts): the records
    `goparked CORE --jsonl` writes for its signatures, plus "error"."""
    head = {"schema": schema.RECORD_SCHEMA,
            "version": schema.SCHEMA_VERSION}
    if "error" in res:
        return [dict(head, record="error", target=res["core"],
                     error=res["error"])]
    return [dict(head, record="signature", target=res["core"], **r)
            for r in res["signatures"]]


def table_text(table, ncores, nfailed, limit=None):
    lines = ["%d cores: %d read, %d failed" % (ncores, ncores - nfailed,
                                               nfailed), ""]
    if not table:
        lines.append("no goroutines")
        return "\n".join(lines) + "\n"
    shown = table[:limit] if limit else table
    lines.append("%-16s  %5s  %10s  %8s  %-20s  %s" % (
        "SIGNATURE", "CORES", "GOROUTINES", "WORST", "WAIT",
        "SITE / EXAMPLE"))
    for t in shown:
        lines.append("%-16s  %5d  %10d  %8s  %-20s  %s" % (
            t["signature"], t["cores"], t["goroutines"],
            text.duration(t["worst_age_ns"]) if t["worst_age_ns"]
            is not None else "-",
            target_str(t["wait_reason"], "-"), target_str(t["site"])))
        lines.append("%-16s  %5s  %10s  %8s  %-20s  e.g. goroutine %d in %s"
                     % ("", "", "", "", "", t["example_goid"],
                        target_str(t["example_core"])))
    if limit and len(table) > limit:
        lines.append("... %d more signatures" % (len(table) - limit))
    return "\n".join(lines) + "\n"


def build_parser():
    from .options import OptionParser
    p = OptionParser(
        prog="goparked triage",
        description="Many cores at once: which signatures of parked "
        "goroutines are common across them. Exit 0 when every core was "
        "read, 1 when some could not be (one line each on stderr), 2 on "
        "bad options.")
    p.add_argument("cores", nargs="+", metavar="CORE|DIR",
                   help="core files, or directories of them")
    p.add_argument("--exe", metavar="BIN",
                   help="the executable of every core (default: found per "
                   "core as for goparked CORE)")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="cores read at once (default: the number of CPUs)")
    p.add_argument("--jsonl", metavar="FILE",
                   help="also write one JSON line per core and signature "
                   "('-' for stdout instead of the table)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="show at most N signatures")
    return p


def _pool_map(cores, exe, jobs):
    """Results in the order of cores, read jobs at a time in worker
    processes (one core's crash cannot take the others down)."""
    if jobs <= 1 or len(cores) == 1:
        return [triage_core(c, exe) for c in cores]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    ctx = multiprocessing.get_context("fork")
    results = [None] * len(cores)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(triage_core, c, exe) for c in cores]
        broken = []
        for i, f in enumerate(futures):
            try:
                results[i] = f.result()
            except BrokenProcessPool:
                broken.append(i)
            except Exception as e:
                results[i] = {"core": cores[i], "error": "worker failed: %s"
                              % e}
    # A worker that died (a signal) broke the pool: read those cores again
    # one by one, each in a process of its own, so only the bad one fails.
    for i in broken:
        results[i] = _alone(cores[i], exe, ctx)
    return results


def _alone(core, exe, ctx):
    from concurrent.futures import ProcessPoolExecutor
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(triage_core, core, exe).result()
    except Exception as e:
        return {"core": core, "error": "the reader died: %s"
                % (e or type(e).__name__)}


def run_triage(argv, out, err):
    import json
    from .options import OptionError
    ns = build_parser().parse_args(argv)
    cores = find_cores(ns.cores)
    if not cores:
        raise OptionError("no core files in %s" % " ".join(ns.cores))
    jobs = ns.jobs or os.cpu_count() or 1
    results = _pool_map(cores, ns.exe, max(1, min(jobs, len(cores))))
    failed = [r for r in results if "error" in r]
    for r in failed:
        err.write("goparked: %s: %s\n" % (
            target_str(r["core"]), " ".join(str(r["error"]).split())))
    if ns.jsonl:
        f = out if ns.jsonl == "-" else open(ns.jsonl, "w")
        try:
            for r in results:
                for rec in jsonl_lines(r):
                    f.write(schema.compact(rec) + "\n")
        finally:
            if f is not out:
                f.close()
    if ns.jsonl != "-":
        out.write(table_text(rank(results), len(cores), len(failed),
                             ns.limit))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_triage(sys.argv[1:], sys.stdout, sys.stderr))
