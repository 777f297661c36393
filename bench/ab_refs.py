#!/usr/bin/env python3
"""A/B of the holders and wakers between two builds: byte for byte.

    python3 bench/ab_refs.py --a PYDIR:LIB --b PYDIR:LIB [--cli] CORE_DIR...

PYDIR is a directory holding the goparked package of a build, LIB its
libgoparked.so. A CORE_DIR holds a core and a meta.json naming its
executable (corefiles/generate.py's cells, bench/make_core.py's cores);
--fixtures takes every cell cached in ~/.cache/goparked/corefiles.

For each core and each build, one process dumps every channel's wakers
and every sync object's holders (all fields of the engine's holder
array, the goroutines by goid, descriptions as text), and with --cli the
command line's ``--by chan --json``, ``--by mutex --json``,
``--leaks --json`` and ``--chan``/``--mutex ADDR --json`` of up to four
objects of each kind. Prints the cores whose outputs differ; exit 1 if
any does.
"""

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys

DUMP = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import inspect
from goparked import api, analysis
from goparked import _native as N
from ctypes import byref, c_size_t
core, exe = sys.argv[2], sys.argv[3]
with api.open(core, exe) as prog:
    kw = {}
    if "refs" in inspect.signature(prog.snapshot).parameters:
        kw["refs"] = True
    with prog.snapshot(**kw) as snap:
        out = {"chans": [], "syncs": []}
        cs = analysis.chans(snap)
        ss = analysis.syncs(snap)
        cnt = c_size_t()
        arr = N.lib().gp_snapshot_holders(snap._handle(), byref(cnt))
        def h(x):
            return [x.object, x.slot, x.value, x.site_pc, x.offset,
                    snap.goroutine_at(x.goroutine).goid, x.rank,
                    x.evidence, x.frame, snap.string(x.description),
                    x.role]
        out["holders"] = [h(arr[i]) for i in range(cnt.value)]
        for c in cs:
            out["chans"].append([c.address, [w.goid for w in c.wakers]])
        for s in ss:
            out["syncs"].append([s.address, s.holder_status,
                                 [w.goid for w in s.holders]])
        print(json.dumps(out))
"""


def cores_of(args):
    dirs = list(args.dirs)
    if args.fixtures:
        root = os.path.expanduser("~/.cache/goparked/corefiles")
        dirs += sorted(os.path.dirname(p) for p in
                       glob.glob(os.path.join(root, "**", "core"),
                                 recursive=True))
    for d in dirs:
        meta = os.path.join(d, "meta.json")
        exe = None
        if os.path.exists(meta):
            with open(meta) as f:
                m = json.load(f)
            exe = m.get("paths", {}).get("exe") or m.get("exe")
        for where in (d, os.path.dirname(d)):
            for name in ("fixture", "heapcore", "leaks"):
                p = os.path.join(where, name)
                if not exe and os.path.isfile(p):
                    exe = p
        if exe and not os.path.isabs(exe):
            exe = os.path.join(d, exe)
        if exe and os.path.exists(os.path.join(d, "core")):
            yield os.path.join(d, "core"), exe


def run(side, argv):
    pydir, lib = side.split(":", 1)
    env = dict(os.environ, GOPARKED_LIB=lib, PYTHONPATH=pydir)
    p = subprocess.run(argv, env=env, capture_output=True, timeout=3600,
                       cwd=pydir)
    return p.returncode, p.stdout, p.stderr


def outputs(side, core, exe, cli):
    pydir = side.split(":", 1)[0]
    res = {"dump": run(side, [sys.executable, "-c", DUMP, pydir, core, exe])}
    if not cli:
        return res
    base = [sys.executable, "-m", "goparked", core, "--exe", exe]
    for view in ("chan", "mutex"):
        rc, out, err = run(side, base + ["--by", view, "--json"])
        res["by " + view] = (rc, out, err)
        try:
            groups = json.loads(out)["groups"]
        except (ValueError, KeyError):
            groups = []
        addrs = [g["key_address"] for g in groups if g.get("key_address")]
        for a in addrs[:4]:
            opt = "--chan" if view == "chan" else "--mutex"
            res[opt + " " + a] = run(side, base + [opt, a, "--json"])
    res["leaks"] = run(side, base + ["--leaks", "--json"])
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--cli", action="store_true")
    ap.add_argument("--fixtures", action="store_true")
    ap.add_argument("dirs", nargs="*")
    args = ap.parse_args()
    bad = n = 0
    for core, exe in cores_of(args):
        n += 1
        a = outputs(args.a, core, exe, args.cli)
        b = outputs(args.b, core, exe, args.cli)
        diff = [k for k in sorted(set(a) | set(b))
                if a.get(k, (None,))[:2] != b.get(k, (None,))[:2]]
        nh = a["dump"][1].count(b"],[") if a["dump"][0] == 0 else -1
        digest = hashlib.sha1(a["dump"][1]).hexdigest()[:8]
        if diff:
            bad += 1
            print("DIFF %s: %s" % (core, ", ".join(diff)))
            for k in diff[:2]:
                print("  A %r" % (a.get(k, (None, b"", b""))[2][-300:],))
                print("  B %r" % (b.get(k, (None, b"", b""))[2][-300:],))
        else:
            print("same %s (%d outputs, dump %s, %d bytes)"
                  % (core, len(a), digest, len(a["dump"][1])))
        sys.stdout.flush()
    print("%d cores, %d differ" % (n, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
