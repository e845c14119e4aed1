#!/usr/bin/python3
"""Every run under results/, indexed, and the headline figures across commits: `make history`.

    history.py [RESULTS_ROOT]     (default results/)

Writes RESULTS_ROOT/index.sqlite, rebuilt from the run directories every time
(the directories are the data; the index is a cache that can be deleted),
RESULTS_ROOT/history/<figure>.svg/.png and RESULTS_ROOT/history.html, the page
each run's report links to: one chart per headline figure with the runs in
date order, instruction counts of ICOUNT=1 runs as exact lines (left) and
timing runs as their median with the spread of their runs (right, min to
max), one line per configuration (SMP, accelerator, profile), then a table
of every run with its verdict and a link to its report.

Tables of index.sqlite:
  runs(name, date, commit, smp, accel, icount, profile, verdict, reason,
       qemu_version, host_cores, host_busy, seconds)
  figures(run, bench, case_name, cpus, param, metric, unit, value, lo, hi, runs)
    value = the median over the run's repetitions, lo/hi their min/max
"""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot  # noqa: E402
import report  # noqa: E402
import results  # noqa: E402

# (file name, title, bench, case, cpus, param, metric): the figures drawn.
HEADLINES = [
    ("refcount_shared", "refcount shared, 1 CPU (ns_per_op)", "refcount", "shared", 1, "",
     "ns_per_op"),
    ("refcount_cas_shared", "refcount cas_shared, 1 CPU (ns_per_op)", "refcount", "cas_shared",
     1, "", "ns_per_op"),
    ("pcp_pairs_on", "pcp pairs, cache on, 1 CPU (ns_per_op)", "pcp", "pairs", 1, "cache=on",
     "ns_per_op"),
    ("pcp_pairs_off", "pcp pairs, cache off, 1 CPU (ns_per_op)", "pcp", "pairs", 1,
     "cache=off", "ns_per_op"),
    ("contig_fresh_0", "contig fresh, order 0, 1 CPU (p50 latency)", "contig", "fresh", 1,
     "order=0", "p50_ns"),
    ("contig_fresh_9", "contig fresh, order 9, 1 CPU (p50 latency)", "contig", "fresh", 1,
     "order=9", "p50_ns"),
]
SCHEMA = """
CREATE TABLE runs (name TEXT PRIMARY KEY, date TEXT, commit_id TEXT, smp INTEGER,
                   accel TEXT, icount INTEGER, profile TEXT, verdict TEXT, reason TEXT,
                   qemu_version TEXT, host_cores INTEGER, host_busy INTEGER, seconds REAL);
CREATE TABLE figures (run TEXT REFERENCES runs(name), bench TEXT, case_name TEXT,
                      cpus INTEGER, param TEXT, metric TEXT, unit TEXT, value REAL,
                      lo REAL, hi REAL, runs INTEGER);
CREATE INDEX figures_key ON figures (bench, case_name, cpus, param, metric);
"""


def run_dirs(root):
    """The run directories under root: not `latest` (a link to one of them), and
    the baseline only when the run it copies is not there itself."""
    out = []
    names = set(os.listdir(root)) if os.path.isdir(root) else set()
    for name in sorted(names):
        path = os.path.join(root, name)
        if name == "latest" or os.path.islink(path) or \
                not os.path.isfile(os.path.join(path, "meta.json")):
            continue
        if name == "baseline":
            try:
                with open(os.path.join(path, "meta.json")) as f:
                    if json.load(f).get("baseline_of") in names:
                        continue
            except (OSError, ValueError):
                pass
        out.append(path)
    return out


def build_index(root, db_path):
    """Rebuild db_path from the run directories; returns (runs, figures) indexed."""
    tmp = db_path + ".new"
    if os.path.exists(tmp):
        os.remove(tmp)
    db = sqlite3.connect(tmp)
    db.executescript(SCHEMA)
    nruns = nfigs = 0
    for path in run_dirs(root):
        try:
            run = results.load_run(path, allow_failed=True)
        except results.ResultsError as e:
            print(f"history: skipped {path}: {e}", file=sys.stderr)
            continue
        m, host = run.meta, run.meta.get("host") or {}
        cond = m.get("host_conditions") or {}
        db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (run.name, m.get("date"), m.get("commit"), m.get("smp"), m.get("accel"),
                    int(bool(m.get("icount"))), m.get("profile"), m.get("verdict"),
                    m.get("reason"), host.get("qemu_version") or host.get("qemu"),
                    cond.get("host_cores") or host.get("cpu_cores"),
                    None if not cond.get("sampled") else int(bool(cond.get("busy"))),
                    m.get("seconds")))
        nruns += 1
        if run.failed:
            continue
        for key, s in results.group(run.rows).items():
            values = s.values
            db.execute("INSERT INTO figures VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (run.name, key.bench, key.case, key.cpus, key.param, key.metric, s.unit,
                        s.central(), min(values) if values else s.aggregate,
                        max(values) if values else s.aggregate, len(values) or 1))
            nfigs += 1
    db.commit()
    db.close()
    os.replace(tmp, db_path)
    return nruns, nfigs


def headline_series(db, bench, case, cpus, param, metric):
    """{(icount, config label): [(date, commit, run, value, lo, hi)]} in date order."""
    rows = db.execute(
        "SELECT r.icount, r.smp, r.accel, r.profile, r.date, r.commit_id, r.name, f.value, "
        "f.lo, f.hi FROM figures f JOIN runs r ON r.name = f.run WHERE f.bench=? AND "
        "f.case_name=? AND f.cpus=? AND f.param=? AND f.metric=? ORDER BY r.date, r.name",
        (bench, case, cpus, param, metric)).fetchall()
    out = {}
    for icount, smp, accel, profile, date, commit, name, value, lo, hi in rows:
        out.setdefault((icount, f"SMP={smp} {accel} {profile}"), []).append(
            (date, commit, name, value, lo, hi))
    return out


def chart(title, series, order):
    """gnuplot body: icount runs (exact lines) left, timing runs (spread) right.
    order: run name -> x position (every run of the history in date order)."""
    out = [f"set multiplot layout 1,2 title {plot.q(title)}", "set grid",
           "set key top left box opaque", "set xlabel 'run (date order; label: commit)'"]
    for panel, (icount, what) in enumerate(((1, "instructions (ICOUNT=1, exact)"),
                                           (0, "ns (timing: median, bar = min..max of runs)"))):
        # a p50 latency has no per-run samples: its bar is empty
        lines = {label: pts for (ic, label), pts in series.items() if ic == icount}
        xs = sorted({order[p[2]] for pts in lines.values() for p in pts})
        labels = {order[p[2]]: p[1] for pts in lines.values() for p in pts}
        out.append(f"set title {plot.q(what)}\nset ylabel {plot.q(what.split(' (')[0])}")
        if not lines:
            out.append("set xrange [0:1]\nset yrange [0:1]\nunset xtics\n"
                       "set label 1 'no such runs yet' at graph 0.5,0.5 center\n"
                       "plot NaN notitle\nunset label 1\nset xtics")
            continue
        out.append(f"set xrange [{xs[0] - 0.5}:{xs[-1] + 0.5}]\nset yrange [*:*]")
        out.append("set xtics rotate by -45 (" +
                   ", ".join(f"{plot.q(labels[x])} {x}" for x in xs) + ")")
        plots = []
        for i, (label, pts) in enumerate(sorted(lines.items())):
            name = f"h{panel}_{i}"
            out.append(plot.datablock(name, [(order[p[2]], p[3], p[4], p[5]) for p in pts]))
            if icount:
                plots.append(f"${name} using 1:2 with linespoints {plot.style(i)} pt 7 "
                             f"title {plot.q(label)}")
            else:
                plots.append(f"${name} using 1:2:3:4 with yerrorlines {plot.style(i)} pt 7 "
                             f"title {plot.q(label)}")
        out.append("plot " + ", \\\n     ".join(plots))
    out.append("unset multiplot")
    return "\n".join(out)


def write_page(root, db_path, drawn):
    db = sqlite3.connect(db_path)
    runs = db.execute("SELECT name, date, commit_id, smp, accel, icount, profile, verdict, "
                      "reason, host_busy FROM runs ORDER BY date, name").fetchall()
    db.close()
    parts = ["<h1>History of the runs under " + report.esc(os.path.basename(
        os.path.abspath(root))) + "/</h1>",
             f"<p class=\"muted\">{len(runs)} runs, indexed in index.sqlite (rebuilt from the "
             f"directories by make history). Instruction counts (ICOUNT=1) are exact: a step "
             f"in the left panel is a change of the code. Timing figures carry the host's "
             f"noise: compare their bars, and decide with make ab.</p>"]
    for n, (name, title) in enumerate(drawn):
        svg = report.inline_svg(os.path.join(root, "history", name + ".svg"), f"h{n}")
        if svg:
            parts.append(f"<h2>{report.esc(title)}</h2><figure class=\"plot\" "
                         f"id=\"history-{report.esc(name)}\">{svg}</figure>")
    rows = []
    for name, date, commit, smp, accel, icount, profile, verdict, reason, busy in runs:
        rows.append([name, date, commit, smp, accel + (" icount" if icount else ""), profile,
                     verdict if verdict == "pass" else f"{verdict}: {reason}",
                     {None: "not measured", 0: "no", 1: "yes"}[busy]])
    table = report.table(["run", "date", "commit", "SMP", "mode", "profile", "verdict",
                          "host busy"], rows, (3,))
    for name, *_ in runs:  # the run names link to their reports
        cell = f"<td>{report.esc(name)}</td>"
        table = table.replace(cell, f"<td><a href=\"{report.esc(name)}/report.html\">"
                                    f"{report.esc(name)}</a></td>", 1)
    parts.append("<h2>Runs</h2>" + table)
    out = os.path.join(root, "history.html")
    with open(out, "w", encoding="utf-8") as f:
        f.write(report.page("history", "\n".join(parts)))
    return out


def main(argv):
    root = argv[0] if argv else os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "results")
    if not os.path.isdir(root):
        print(f"history: {root}: no such directory", file=sys.stderr)
        return 1
    db_path = os.path.join(root, "index.sqlite")
    nruns, nfigs = build_index(root, db_path)
    print(f"history: {db_path}: {nruns} runs, {nfigs} series")
    db = sqlite3.connect(db_path)
    order = {name: i for i, (name,) in enumerate(db.execute(
        "SELECT name FROM runs ORDER BY date, name"))}
    outdir = os.path.join(root, "history")
    os.makedirs(outdir, exist_ok=True)
    drawn = []
    for name, title, *key in HEADLINES:
        series = headline_series(db, *key)
        if not series:
            print(f"history: {name}: no run has this figure yet")
            continue
        try:
            plot.render(chart(title, series, order), outdir, name)
        except RuntimeError as e:
            print(f"history: {name}: {e}", file=sys.stderr)
            return 1
        drawn.append((name, title))
    db.close()
    print(f"history: {write_page(root, db_path, drawn)} ({len(drawn)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
