"""The postmortem report: one self-contained HTML file, or Markdown.

    goparked report CORE [--exe BIN] -o report.html [--format html|md]
    goparked report --pid PID -o report.html

Three typed stages, as everywhere in goparked: collect() (collect.py) turns
a snapshot into plain data (dicts and lists, nothing from the engine), the
wait-for graph is chosen and laid out (graph.py), then html() (html.py) or
markdown() (markdown.py) renders that data.
"""


from .collect import collect, group_title
from .graph import build_graph, graph_dot, graph_svg, graph_svg_builtin
from .html import html
from .markdown import markdown

__all__ = ["collect", "group_title", "build_graph", "html", "markdown",
           "graph_dot", "graph_svg", "graph_svg_builtin", "build_parser",
           "render", "write"]


def build_parser():
    from ..options import OptionParser, add_filter_options, add_frames_option
    p = OptionParser(
        prog="goparked report",
        description="A postmortem report of a Go program's goroutines: one "
        "self-contained HTML file (charts, wait-for graph, every group's "
        "stack) or Markdown.")
    p.add_argument("core", nargs="?", metavar="CORE",
                   help="core file of a Go program")
    p.add_argument("--exe", metavar="BIN",
                   help="the executable the core came from")
    p.add_argument("--pid", type=int, metavar="PID",
                   help="a live process instead of a core")
    p.add_argument("-o", "--output", metavar="FILE", default="-",
                   help="where to write (default: standard output)")
    p.add_argument("--format", choices=("html", "md"), default=None,
                   help="html (default) or md; FILE ending in .md means md")
    add_filter_options(p)
    add_frames_option(p)
    return p


def render(ns, snap, progress=None):
    """The report text the options ask for, from a snapshot."""
    from ..options import filter_from_options
    grouping = snap.group(ns.by, filter_from_options(ns))
    data = collect(snap, grouping, progress,
                   all_frames=getattr(ns, "all_frames", False))
    fmt = ns.format or ("md" if ns.output.endswith((".md", ".markdown"))
                        else "html")
    if progress is not None:
        progress.phase("drawing")
    return html(data) if fmt == "html" else markdown(data)


def write(text, path):
    import sys
    if path == "-":
        sys.stdout.write(text)
        return
    from ..outfile import write_output
    write_output(path, text.encode("utf-8"))
