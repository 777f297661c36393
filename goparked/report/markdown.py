"""The report as Markdown: the same summary, verdict, group table,
channel and lock table and the biggest groups' stacks as the HTML, for a
postmortem document."""

import re

from .. import text
from .collect import group_title

__all__ = ["markdown", "MD_GROUPS", "MD_STACKS"]

MD_GROUPS = 20         # groups in the Markdown table
MD_STACKS = 5          # stacks printed in the Markdown report


# What Markdown would read as markup or raw HTML (CommonMark lets any ASCII
# punctuation be escaped with a backslash; "|" ends a GFM table cell).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~])")


def _md(s, safe=False):
    """Text of a table cell or paragraph: a string from the target made
    safe for a terminal (text.target_str, unless it is already: safe), then
    its markup escaped, so that a hostile name shows as written and never
    as HTML."""
    return _MD_SPECIAL.sub(r"\\\1",
                           str(s) if safe else text.target_str(str(s), ""))


def _code(s, safe=False):
    """A code span of s (made safe by text.target_str, unless it is
    already: safe): delimited by more backticks than s holds in a row;
    "|" escaped for the table."""
    t = (str(s) if safe else text.target_str(str(s), "")).replace("|", "\\|")
    run = max((len(r) for r in re.findall("`+", t)), default=0)
    tick = "`" * (run + 1)
    pad = " " if run else ""
    return "%s%s%s%s%s" % (tick, pad, t, pad, tick)


def _fence(lines):
    """A fenced block of lines, its fence longer than any backtick run."""
    run = max((len(r) for ln in lines for r in re.findall("`+", ln)),
              default=0)
    fence = "`" * max(3, run + 1)
    return [fence] + lines + [fence]


def _age_text(g):
    return text.age_range(g["age_ns"], g["age_known"], g["count"],
                          sep=" – ", none="age unknown" if g["count"] else "")


def markdown(data):
    """The same summary as the HTML, for pasting into a postmortem."""
    p, t = data["program"], data["taken"]
    out = ["# goparked report: %s" % p["name"], ""]
    out.append("| | |")
    out.append("|---|---|")
    out.append("| Program | %s |" % _code(p["exe"] or p["name"]))
    out.append("| Go | %s |" % _md(p["go_version"] or "unknown"))
    out.append("| %s | %s |" % (p["source"].capitalize(), _code(p["target"])))
    out.append("| Taken | %s |" % (
        "%s (%s%s)" % (t["text"], _md(t["source"] or ""),
                       "" if t["exact"] else "; ages are lower bounds")
        if t["text"] else "unknown"))
    out.append("| Goroutines | %d |" % data["goroutines"])
    out.append("| Runtime goroutines | %d |" % data["system"])
    out.append("| Deadlock cycles | %d |" % len(data["cycles"]))
    out.append("| Blocked forever | %d |" % sum(
        len(s["goids"]) for s in data["stuck"] if s["provable"]))
    out.append("| Oldest wait | %s |" % (
        text.duration(data["oldest_ns"]) if data["oldest_ns"] is not None
        else "–"))
    out += ["", "## Goroutines by state", "", "| State | Goroutines |",
            "|---|---:|"]
    for s, n in data["by_state"].items():
        out.append("| %s | %d |" % (s, n))
    # the verdict's words: verdict.py's, as every other surface
    out += ["", "## Leak verdict", "", _md(data["leaks"]["line"]), ""]
    rows = [r for r in data["leaks"]["rows"] if r["verdict"] != "blocked"]
    if rows:
        out += ["| Verdict | Count | Wait | Where | Why | Created by |"
                " Goroutines |", "|---|---:|---|---|---|---|---|"]
        for r in rows:
            out.append("| %s | %d | %s | `%s` | %s | %s | %s |" % (
                _md(r["words"]), r["count"], _md(r["wait_reason"] or ""),
                _md(text.func_location(r["site"]) if r["site"] else "?"),
                _md(r["reason_words"]), _md(r["created_by"] or ""),
                _md(text.ids(r["goids"], 10))))
    out += ["", "## Verdict", ""]
    if data["cycles"]:
        out.append("**%d wait cycle%s:**" % (
            len(data["cycles"]), "" if len(data["cycles"]) == 1 else "s"))
        out.append("")
        for i, c in enumerate(data["cycles"], 1):
            chain = " → ".join("goroutine %d (%s 0x%x)" % (
                e["from"], e["kind"], e["object"]) for e in c["edges"])
            out.append("%d. %s → goroutine %d" % (i, chain,
                                                  c["edges"][0]["from"]))
        out.append("")
    if data["stuck"]:
        out += ["**Nobody can wake:**", "",
                "| Object | Reason | Proof | Goroutines |",
                "|---|---|---|---|"]
        for s in data["stuck"]:
            what = ("select {}" if s["reason"] == "select {}" else
                    "nil channel" if s["object"] == 0 else
                    "%s 0x%x" % (s["kind"], s["object"]))
            out.append("| %s | %s | %s | %d: %s |" % (
                _md(what), _md(s["reason"]),
                "provable" if s["provable"] else "evidence",
                len(s["goids"]), _md(text.ids(s["goids"], 12))))
        out.append("")
    if not data["cycles"] and not data["stuck"]:
        out += ["No wait cycles, and nothing found that nobody can wake.", ""]
    out += ["## Biggest groups (by %s)" % data["by"], "",
            "%d goroutines in %d groups." % (data["grouped"],
                                              len(data["groups"])), "",
            "| # | Count | Wait | Where | Parked | Goroutines |",
            "|---:|---:|---|---|---|---|"]
    for g in data["groups"][:MD_GROUPS]:
        title, loc = group_title(g, data["by"])
        out.append("| %d | %d | %s | %s %s | %s | %s |" % (
            g["index"] + 1, g["count"],
            _md(g["wait_reason"] or ",".join(g["states"])),
            _code(title, safe=True), _md(loc, safe=True), _md(_age_text(g)), _md(text.ids(g["goids"], 10, total=g["count"]))))
    rest = data["groups"][MD_GROUPS:]
    if rest:
        out.append("")
        out.append("%d more groups (%d goroutines) in the HTML report." % (
            len(rest), sum(g["count"] for g in rest)))
    if data["chans"] or data["syncs"]:
        out += ["", "## Channels and locks", "",
                "| Object | State | Waiters | Holder / waker | Verdict |",
                "|---|---|---:|---|---|"]
        for c in data["chans"][:MD_GROUPS]:
            what = "nil channel" if c["nil"] else "chan %s 0x%x" % (
                c["elem_type"] or "?", c["address"])
            best = [h for h in c["wakers"] if h["rank"] == 1]
            out.append("| %s | %s | %d | %s | %s |" % (
                _code(what), "" if c["nil"] else "%d/%d%s" % (
                    c["len"], c["cap"], " closed" if c["closed"] else ""),
                len(c["recv"]) + len(c["send"]) + len(c["other"]),
                _md("; ".join("goroutine %d" % h["goid"] for h in best)),
                _md(c["stuck"]["reason"] if c["stuck"] else "")))
        for s in data["syncs"][:MD_GROUPS]:
            best = [h for h in s["holders"] if h["rank"] == 1]
            out.append("| %s | %s | %d | %s | %s |" % (
                _code("%s 0x%x" % (s["kind"], s["address"])), _md(s["state"]), len(s["waiters"]),
                _md("; ".join("goroutine %d: %s" % (h["goid"], h["evidence"])
                              for h in best)),
                _md(s["stuck"]["reason"] if s["stuck"] else "")))
    out += ["", "## Stacks of the biggest groups", ""]
    for g in data["groups"][:MD_STACKS]:
        title, loc = group_title(g, data["by"])
        out.append("**%d × %s** at %s" % (
            g["count"], _md(g["wait_reason"] or ",".join(g["states"])),
            _code(title, safe=True)))
        out.append("")
        def frame(f):
            return "%s%s\n\t%s" % (text.target_str(f["func"]),
                                   " (inlined)" if f["inlined"] else "",
                                   text.frame_location(f, True))
        cut = text.elided_line(g.get("elided"))
        out += _fence([frame(f) for f in g["frames"]] +
                      ([cut] if cut else []) +
                      [frame(f) for f in g.get("frames_tail", [])])
        out.append("")
        if g.get("label_sets"):
            # as the text views write labels, in code spans
            out.append("Labels: " + "; ".join(
                "%s (%d goroutine%s)" % (
                    _code(text.labels_text(s["labels"]), safe=True),
                    s["count"], "" if s["count"] == 1 else "s")
                for s in g["label_sets"]) +
                ("; +%d more label sets" % g["label_sets_more"]
                 if g.get("label_sets_more") else ""))
            out.append("")
    out.append("_Made with goparked %s._" % data["generated"])
    return "\n".join(out) + "\n"


