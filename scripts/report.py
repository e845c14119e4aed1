#!/usr/bin/python3
"""One self-contained HTML page per run: `make report RESULTS=dir` (make bench writes it).

    report.py RESULTS_DIR        write RESULTS_DIR/report.html

The page holds the verdict, the configuration and host facts, every warning
(busy host, SMP above the host's cores, non-concurrent points, rejected
blocks, failed checks), a section per benchmark with its plots (the run's
SVG files, inlined) and its summary tables, the per-point detail folded away
in <details>, and links to the CSV files, meta.json and the serial log.  No
script, no network, no external file: it can be mailed or kept as a CI
artifact.  A failed run gets a page too, saying why and ending with the
serial log's last lines.  compare.py --html writes a comparison page with
the same style (write_compare).
"""
import html
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import concurrency  # noqa: E402
import extract  # noqa: E402
import results  # noqa: E402
import rundir  # noqa: E402
import summary  # noqa: E402
from results import fmt_value  # noqa: E402

# The plots of each benchmark (plot.py's names), in the order shown.
PLOTS = {"refcount": ["refcount"], "pcp": ["latency_cdf", "hitrate_vs_k"],
         "contig": ["contig"], "smp": ["bringup"], "stress": [],
         "frag": ["frag"]}
FILES = ("results.csv", "hist.csv", "meta.csv", "meta.json", "serial.log")
HISTORY = "history.html"  # in the results root, written by make history

CSS = """
body { font: 15px/1.45 system-ui, "DejaVu Sans", sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 0 1.2em 3em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.5em; margin: 1em 0 .3em; } h2 { font-size: 1.2em; margin-top: 2em;
  border-bottom: 1px solid #ccc; } h3 { font-size: 1em; }
.verdict { padding: .6em 1em; border-radius: 4px; font-weight: 600; margin: .8em 0; }
.pass { background: #e3f4e6; border: 1px solid #3a8f4b; }
.fail { background: #fbe4e1; border: 1px solid #b3261e; }
.warn { background: #fff4d6; border: 1px solid #c99a06; padding: .5em 1em .5em 2em; }
.warn li { margin: .25em 0; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #d0d0d0; padding: .2em .55em; text-align: left; }
th { background: #f2f2f2; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.no, td.bad { color: #b3261e; font-weight: 600; } td.yes, td.good { color: #2b6e37; }
figure { margin: 1em 0; } figure svg { width: 100%; height: auto; border: 1px solid #e0e0e0; }
figcaption { font-size: .9em; color: #444; }
details { margin: .6em 0; } summary { cursor: pointer; color: #174ea6; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .85em; }
.kv th { width: 14em; } .muted { color: #666; }
"""


def esc(text):
    return html.escape(str(text), quote=True)


def page(title, body):
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
            f"</body></html>\n")


def table(header, rows, right=(), classes=None):
    """An HTML table; classes(row index, column index, text) may add a cell class."""
    out = ["<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) +
           "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = ["n"] if j in right else []
            extra = classes(i, j, str(cell)) if classes else None
            if extra:
                cls.append(extra)
            attr = f" class=\"{' '.join(cls)}\"" if cls else ""
            cells.append(f"<td{attr}>{esc(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def kv_table(pairs):
    return "<table class=\"kv\">" + "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in pairs
        if v not in (None, "")) + "</table>"


_ID_RE = re.compile(r"""\bid=(['"])([^'"]+)\1""")


def inline_svg(path, prefix):
    """An SVG file as markup to inline: without its XML prolog, and with its
    ids (gnuplot names them alike in every file) made unique by prefix."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    start = text.find("<svg")
    if start < 0:
        return None
    text = text[start:]
    ids = {m.group(2) for m in _ID_RE.finditer(text)}
    for name in sorted(ids, key=len, reverse=True):
        new = f"{prefix}-{name}"
        text = re.sub(rf"""\bid=(['"]){re.escape(name)}\1""", rf"id=\g<1>{new}\g<1>", text)
        text = re.sub(rf"""(href=['"])#{re.escape(name)}(['"])""", rf"\g<1>#{new}\g<2>", text)
        text = text.replace(f"url(#{name})", f"url(#{new})")
    return text


def _cell_class(_, __, text):
    return {"no": "no", "yes": "yes", "n/m": "no", "mixed": "no", "REGRESSED": "bad",
            "regressed": "bad", "regressed?": "bad", "missing": "bad",
            "improved": "good"}.get(text)


def links(path, names=FILES):
    present = [n for n in names if os.path.exists(os.path.join(path, n))]
    return " · ".join(f"<a href=\"{esc(n)}\">{esc(n)}</a>" for n in present)


def detail_rows(run, bench):
    """Every series of a benchmark: its point, metric, median, spread and runs."""
    rows = []
    for key, s in results.group(r for r in run.rows if r.bench == bench).items():
        values = s.values
        lo, hi = (min(values), max(values)) if values else (None, None)
        rows.append([key.case, key.cpus, key.param or "-", key.metric,
                     fmt_value(s.central(), s.unit), fmt_value(lo, s.unit),
                     fmt_value(hi, s.unit), len(values) or 1,
                     results.display_unit(s.unit, run.icount)])
    return rows


def concurrency_rows(assessed, bench):
    return [[pc.point.case, pc.point.cpus, pc.point.param or "-",
             {"concurrent": "yes", "not concurrent": "no", "not measured": "n/m"}[pc.status],
             pc.reason] for pc in assessed.values() if pc.point.bench == bench]


def bench_section(run, bench, tables, fig_no):
    out = [f"<h2 id=\"{esc(bench)}\">{esc(bench)}</h2>"]
    for name in PLOTS.get(bench, []):
        svg_path = os.path.join(run.path, name + ".svg")
        svg = inline_svg(svg_path, f"f{fig_no[0]}") if os.path.exists(svg_path) else None
        fig_no[0] += 1
        if svg is None:
            out.append(f"<p class=\"muted\">plot {esc(name)}: not drawn (no data for it in "
                       f"this run, or make plot was not run)</p>")
            continue
        png = f" · <a href=\"{esc(name)}.png\">PNG</a>" \
            if os.path.exists(os.path.join(run.path, name + ".png")) else ""
        out.append(f"<figure class=\"plot\" id=\"plot-{esc(name)}\">{svg}<figcaption>"
                   f"{esc(name)}: <a href=\"{esc(name)}.svg\">SVG</a>{png}</figcaption>"
                   f"</figure>")
    for t in tables:
        out.append(f"<h3>{esc(t.title)}</h3>")
        out.append(table(t.header, t.rows, t.right, _cell_class))
    assessed = concurrency.of_run(run)
    crow = concurrency_rows(assessed, bench)
    if crow:
        out.append(f"<details><summary>concurrency of the {len(crow)} multi-CPU points"
                   f"</summary>" + table(["case", "cpus", "param", "concurrent?", "why"],
                                         crow, (1,), _cell_class) + "</details>")
    rows = detail_rows(run, bench)
    if rows:
        out.append(f"<details><summary>every figure of {esc(bench)} ({len(rows)} series: "
                   f"per CPU count, per CPU, per parameter)</summary>" +
                   table(["case", "cpus", "param", "metric", "median", "min", "max", "runs",
                          "unit"], rows, (1, 4, 5, 6, 7)) + "</details>")
    return "\n".join(out)


def config_pairs(meta):
    make = meta.get("make") or {}
    return [("commit", meta.get("commit")), ("date", meta.get("date")),
            ("SMP", meta.get("smp")), ("MEM", meta.get("mem")),
            ("accelerator", meta.get("accel")), ("icount", "yes (times are instructions)"
                                                 if meta.get("icount") else "no"),
            ("profile", meta.get("profile")), ("benchmarks", ",".join(meta.get("bench") or [])),
            ("runs", meta.get("runs") or "kernel default"), ("seed", meta.get("seed")),
            ("kernel command line", meta.get("cmdline")),
            ("Make variables", " ".join(f"{k}={v}" for k, v in make.items() if v not in
                                        ("", None))),
            ("seconds in QEMU", meta.get("seconds")), ("exit status", meta.get("exit_status"))]


def host_pairs(meta):
    host, cond = meta.get("host") or {}, meta.get("host_conditions") or {}
    pairs = [("CPU", host.get("cpu_model")), ("cores", host.get("cpu_cores")),
             ("OS", host.get("os")), ("QEMU", host.get("qemu_version") or host.get("qemu")),
             ("QEMU binary", host.get("qemu_path")), ("Python", host.get("python")),
             ("gnuplot", host.get("gnuplot"))]
    if cond.get("sampled") and cond.get("own_cpus") is not None:
        pairs += [("during the boot", f"this run's QEMU {cond['own_cpus']} cores, other "
                                      f"processes {cond['others_cpus']} cores, steal "
                                      f"{cond['steal_frac']:.1%}, host busy "
                                      f"{cond['busy_frac']:.0%}"),
                  ("other QEMU processes", "; ".join(cond.get("other_qemu") or []) or "none")]
    elif cond:
        pairs.append(("during the boot", f"not measured ({cond.get('why', 'unknown')})"))
    return pairs


def run_warnings(meta, rows):
    out = list(rundir.warnings(meta, rows))
    out += [f"rejected block: {e}" for e in meta.get("rejected_blocks") or []]
    return out


def render_run(path):
    """The report page of a results directory (failed runs included)."""
    try:
        run = results.load_run(path, allow_failed=True)
        problem = None
    except results.ResultsError as e:
        run, problem = None, str(e)
    name = os.path.basename(os.path.normpath(os.path.realpath(path)))
    if run is None:
        body = (f"<h1>{esc(name)}</h1><div class=\"verdict fail\">This directory cannot be "
                f"read as a run: {esc(problem)}</div><p>{links(path)}</p>")
        return page(f"{name}: unreadable", body)
    meta = run.meta
    failed = run.failed
    verdict = meta.get("verdict", "unknown")
    parts = [f"<h1>{esc(name)}</h1>", f"<p class=\"muted\">{esc(run.tag())}</p>"]
    if failed:
        parts.append(f"<div class=\"verdict fail\" id=\"verdict\">RUN FAILED ({esc(verdict)}): "
                     f"{esc(meta.get('reason') or 'no reason recorded')}. Its figures are not "
                     f"plotted and never used as a baseline.</div>")
    else:
        held = summary.checked(run)
        parts.append(f"<div class=\"verdict pass\" id=\"verdict\">PASS: every benchmark ran "
                     f"and every check held" + (f" (allocator invariants checked after "
                                                f"{esc(', '.join(held))})" if held else "") +
                     "</div>")
    warnings = run_warnings(meta, run.rows)
    if warnings:
        parts.append("<h2 id=\"warnings\">Warnings</h2><ul class=\"warn\">" +
                     "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>")
    parts.append(f"<p>Files: {links(run.path)} · <a href=\"../{HISTORY}\">history of all "
                 f"runs</a> (make history)</p>")
    parts.append("<h2>Configuration</h2>" + kv_table(config_pairs(meta)))
    parts.append("<h2>Host</h2>" + kv_table(host_pairs(meta)))
    if failed:
        with open(os.path.join(run.path, "serial.log"), "rb") as f:
            tail = extract.log_tail(f.read(), 40)
        parts.append("<h2>End of the serial log</h2><pre>" + esc("\n".join(tail)) + "</pre>")
    else:
        by_bench = {}
        for t in summary.tables(run):
            by_bench.setdefault(t.bench, []).append(t)
        fig_no = [0]
        benches = [b for b in results.BENCHES if any(r.bench == b for r in run.rows)]
        parts.append("<p>Benchmarks: " + " · ".join(f"<a href=\"#{b}\">{b}</a>"
                                                    for b in benches) + "</p>")
        if concurrency.of_run(run):
            parts.append(f"<p class=\"muted\">{esc(summary.CONCURRENCY_LEGEND)}</p>")
        for bench in benches:
            parts.append(bench_section(run, bench, by_bench.get(bench, []), fig_no))
    parts.append(f"<h2>Verdict</h2><p id=\"final-verdict\">{esc(verdict)}"
                 f"{': ' + esc(meta.get('reason')) if meta.get('reason') else ''}</p>")
    return page(f"{name}: {verdict}", "\n".join(parts))


def write_run(path):
    out = os.path.join(path, "report.html")
    text = render_run(path)
    tmp = out + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out)
    return out


def write_compare(out, base, new, comp, head, closing, changes_only=False):
    """compare.py's tables as one HTML page (the same figures as the terminal)."""
    parts = [f"<h1>Comparison</h1><pre>{esc(chr(10).join(head))}</pre>"]
    bad = [ln for ln in closing if ln.startswith(("REGRESSION", "compare: "))]
    status = "fail" if any(ln.startswith("REGRESSION") for ln in closing) else "pass"
    parts.append(f"<div class=\"verdict {status}\" id=\"verdict\">" +
                 esc(closing[-1] if closing else "") + "</div>")
    if comp.cases:
        import compare
        parts.append("<h2>Cases (the decision)</h2>" + table(
            compare.CASE_HEADER, [compare.case_row(c) for c in comp.cases],
            (2, 3, 5, 6, 7, 8), _cell_class))
    if bad:
        parts.append("<pre>" + esc("\n".join(bad)) + "</pre>")
    by_metric = {}
    for v in comp.verdicts:
        if changes_only and v.verdict in ("unchanged", "-", "n/a", "new"):
            continue
        by_metric.setdefault(v.key.metric, []).append(v)
    icount = base[0].icount
    for metric, vs in by_metric.items():
        rows = [[v.key.bench, v.key.case, v.key.cpus, v.key.param or "-",
                 fmt_value(v.base, v.unit), fmt_value(v.new, v.unit),
                 "-" if v.change is None else f"{v.change * 100:+.1f}%", v.test, v.verdict]
                for v in vs]
        unit = results.display_unit(vs[0].unit, icount)
        parts.append(f"<details{' open' if any(r[-1] not in ('unchanged', '-') for r in rows) else ''}>"
                     f"<summary>{esc(metric)} ({esc(unit)}; {len(rows)} figures)</summary>" +
                     table(["bench", "case", "cpus", "param", "base", "new", "change", "test",
                            "verdict"], rows, (2, 4, 5, 6), _cell_class) + "</details>")
    parts.append("<p class=\"muted\">Rules: docs/results.md, \"make compare\". base: " +
                 esc(", ".join(r.name for r in base)) + "; new: " +
                 esc(", ".join(r.name for r in new)) + ".</p>")
    with open(out, "w", encoding="utf-8") as f:
        f.write(page("comparison", "\n".join(parts)))


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: report.py RESULTS_DIR", file=sys.stderr)
        return 2
    if not os.path.isdir(argv[0]):
        print(f"report: {argv[0]}: no such results directory", file=sys.stderr)
        return 1
    print(f"report: {write_run(argv[0])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
