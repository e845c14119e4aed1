#!/usr/bin/python3
"""Draw the five standard plots of a results directory with gnuplot (PNG + SVG).

    plot.py RESULTS_DIR      (make plot RESULTS=dir; default results/latest)

  latency_cdf     per-path latency CDFs of the per-CPU cache vs the global
                  allocator (hist.csv), log x, hit rates in the legend
  hitrate_vs_k    pcp hit rate vs K (alloc K then free K), one line per capacity
  refcount        refcount ns/op vs CPU count: shared, private, packed, CAS loop,
                  and xadd (the hardware floor)
  contig          contiguous allocation latency and success rate vs order,
                  fresh vs fragmented memory
  bringup         AP start time per CPU
  frag            huge-frame availability and order-9 burst success over the
                  aging cycles, anti-fragmentation policy on vs off

Every title carries SMP, the accelerator and the commit; under icount the
time axes are in instructions.  A plot whose data is missing is skipped with a
message.  Data travels to gnuplot inline (datablocks), so the directory only
gains the images.
"""
import math
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import concurrency  # noqa: E402
import results  # noqa: E402

SIZE = (1100, 680)
FONT = "DejaVu Sans,11"
# Distinct, colour-blind friendly line colours (Okabe-Ito).
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442"]


class Skip(Exception):
    """The data for a plot is missing: the message says what."""


def q(text):
    """A gnuplot double-quoted string."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + text + '"'


def datablock(name, rows):
    lines = [f"${name} << EOD"] + [" ".join(f"{v:.9g}" if isinstance(v, float) else str(v)
                                            for v in r) for r in rows] + ["EOD"]
    return "\n".join(lines)


def time_scale(max_value, unit, icount):
    """(divisor, axis label) so that time axes read 1..1000 in a sensible unit."""
    if results.display_unit(unit, icount) == "instr":
        for div, name in ((1e6, "million instructions"), (1e3, "thousand instructions")):
            if max_value >= 10 * div:
                return div, f"{name} (icount)"
        return 1.0, "instructions (icount)"
    base = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}.get(unit)
    if base is None:
        return 1.0, unit
    ns = max_value * base
    for div, name in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if ns >= 10 * div:
            return div / base, name
    return 1.0 / base, "ns"


def decade_tics(lo, hi, unit, icount):
    """`set xtics (...)` for a log axis of raw values: one labelled tic per
    decade in a readable unit (10 ns, 1 us, 10 ms; 1k, 1M instructions)."""
    instr = results.display_unit(unit, icount) == "instr"
    names = ((1e6, "M"), (1e3, "k"), (1, "")) if instr else \
        ((1e9, " s"), (1e6, " ms"), (1e3, " µs"), (1, " ns"))
    base = {"ns": 1.0, "us": 1e3, "ms": 1e6}.get(unit, 1.0) if not instr else 1.0
    # Less than two decades: label 1-2-5 steps too, so the axis has numbers.
    steps = (1, 2, 5) if hi / max(lo, 1e-9) < 100 else (1,)
    tics, decade = [], 10.0 ** math.floor(math.log10(max(lo, 1e-9)))
    while decade <= hi:
        for value in (decade * m for m in steps):
            if not lo <= value <= hi:
                continue
            div, name = next((d, n) for d, n in names if value * base >= d or d == 1)
            tics.append(f"{q(f'{value * base / div:g}{name}')} {value:g}")
        decade *= 10
    return f"set xtics ({', '.join(tics)})"


def style(i, dashed=False):
    return f"lc rgb {q(COLOURS[i % len(COLOURS)])} lw 2" + (" dt 2" if dashed else "")


def n_cpus(cpus):
    return f"{cpus} CPU" + ("s" if cpus > 1 else "")


def fewest_cpus(rows, missing):
    """The rows taken at the smallest CPU count, and that count: a one-CPU curve is not
    mixed with points where other CPUs shared the allocator.  No rows: Skip(missing)."""
    if not rows:
        raise Skip(missing)
    cpus = min(r.cpus for r in rows)
    return cpus, [r for r in rows if r.cpus == cpus]


# ---- the five plots: each returns the gnuplot body (data + plot commands) ----

PATH_STYLE = {"hit": (0, "cache hit"), "miss": (1, "cache miss"),
              "global": (2, "cache off: global")}
CASE_ORDER = ("pairs", "random", "remote")


def latency_panels(run):
    """{(case, cpus): {(param, path): [HistRow]}} for the pcp cases worth a panel:
    pairs at the lowest and highest CPU count, then the other cases at the highest."""
    groups = {}
    for h in run.hist:
        if h.bench == "pcp" and h.case in CASE_ORDER:
            groups.setdefault((h.case, h.cpus), {}).setdefault((h.param, h.path), []).append(h)
    if not groups:
        return {}
    cpus = sorted({c for _, c in groups})
    want = [("pairs", cpus[0]), ("pairs", cpus[-1])] + [(c, cpus[-1]) for c in CASE_ORDER[1:]]
    chosen = [k for k in dict.fromkeys(want) if k in groups][:4]
    return {k: groups[k] for k in chosen}


def latency_cdf(run):
    panels = latency_panels(run)
    if not panels:
        raise Skip("no pcp latency histograms (hist.csv rows of pcp pairs/random/remote)")
    rows = [h for paths in panels.values() for hs in paths.values() for h in hs]
    unit, div = rows[0].unit, 1.0
    label = "instructions, " if results.display_unit(unit, run.icount) == "instr" else ""
    lo, hi = min(h.lo for h in rows if h.lo > 0), max(h.hi for h in rows)
    assessed = concurrency.of_run(run)
    hit_rates = {(k.case, k.cpus, k.param): s.central() for k, s in
                 results.group(run.select(bench="pcp", metric="hit_rate")).items()}
    cols = 1 if len(panels) == 1 else 2
    nrows = (len(panels) + cols - 1) // cols
    # The key goes under the x label (the curves sweep the whole plot area);
    # `set key below` collides with the label in multiplot, so place it.
    key_y = -0.17 if nrows == 2 else -0.125
    out = [f"set multiplot layout {nrows},{cols} title "
           f"{q('Per-CPU cache vs global allocator: latency of single allocations (' + run.tag() + ')')}",
           "set logscale x 10\nset grid xtics ytics mxtics\nset yrange [0:1.02]",
           f"set xlabel {q('latency of one allocation (' + label + 'log scale)')}",
           f"set ylabel {q('fraction of allocations at or below')}",
           f"set key at graph 0.5, graph {key_y} center top vertical samplen 2",
           "set bmargin 7", f"set xrange [{lo:.6g}:{hi:.6g}]",
           decade_tics(lo, hi, unit, run.icount)]
    for p, ((case, cpus), paths) in enumerate(panels.items()):
        plots, rates = [], []
        for i, ((param, path), hs) in enumerate(sorted(paths.items(),
                                                       key=lambda kv: PATH_STYLE.get(kv[0][1], (9,))[0])):
            hs.sort(key=lambda h: h.lo)
            total = sum(h.count for h in hs)
            if total == 0:
                continue
            acc, pts = 0, [(hs[0].lo / div, 0.0)]
            for h in hs:
                acc += h.count
                pts.append((h.hi / div, acc / total))
            colour, what = PATH_STYLE.get(path, (3 + i, f"{param} {path}"))
            out.append(datablock(f"d{p}_{i}", pts))
            plots.append(f"$d{p}_{i} using 1:2 with steps {style(colour)} "
                         f"title {q(f'{what} (n={total})')}")
            rate = hit_rates.get((case, cpus, param))
            if rate is not None and path == "hit":
                rates.append(f"hit rate {rate:.3f}")
        if not plots:
            continue
        sub = f"pcp {case}, {n_cpus(cpus)}" + \
              (f" - {', '.join(rates)}" if rates else "")
        pcs = [pc for pt, pc in assessed.items() if pt.bench == "pcp" and pt.case == case
               and pt.cpus == cpus]
        if pcs and not all(pc.concurrent for pc in pcs):
            sub += f" - NOT CONCURRENT: {pcs[0].why}"
        out.append(f"set title {q(sub)}")
        out.append("plot " + ", \\\n     ".join(plots))
    out.append("unset multiplot")
    return "\n".join(out)


def hitrate_vs_k(run):
    rows = [r for r in run.rows if r.bench == "pcp" and r.case == "batch"
            and r.metric == "hit_rate" and "k" in r.params and "capacity" in r.params
            and r.params.get("cache", "on") == "on"]
    # One CPU: the hit rate of one cache, without other CPUs' frees mixing in.
    cpus, rows = fewest_cpus(rows, "no pcp/batch hit_rate rows with k= and capacity= params "
                                   "(cache on)")
    series = results.group(rows)
    lines = {}
    for key, s in series.items():
        p = results.parse_param(key.param)
        label = f"capacity {p['capacity']}" + (f", batch {p['batch']}" if "batch" in p else "")
        lines.setdefault((int(p["capacity"]), label), []).append((int(p["k"]), s.central()))
    title = (f"Per-CPU cache hit rate vs K: alloc K frames, then free K ({n_cpus(cpus)})\n"
             + run.tag())
    out = [f"set title {q(title)}",
           "set logscale x 2\nset grid\nset yrange [0:1.05]",
           f"set xlabel {q('K (frames allocated, then freed; log scale)')}",
           f"set ylabel {q('cache hit rate (hits / operations)')}",
           "set key bottom left box opaque"]
    plots = []
    for i, ((_, label), pts) in enumerate(sorted(lines.items())):
        out.append(datablock(f"c{i}", sorted(pts)))
        plots.append(f"$c{i} using 1:2 with linespoints {style(i)} pt 7 title {q(label)}")
    out.append("plot " + ", \\\n     ".join(plots))
    return "\n".join(out)


REFCOUNT_CASES = [("shared", "shared counter (fetch_add/sub)", False),
                  ("private", "private counter per CPU", False),
                  ("packed", "packed: neighbours share a line", False),
                  ("cas_shared", "CAS loop, shared", False),
                  ("xadd_shared", "lock xadd shared (hardware floor)", True),
                  ("xadd_private", "lock xadd private (hardware floor)", True)]


def cpu_axis(assessed, points):
    """The CPU-count axis label: what was really measured at the multi-CPU points."""
    states = [assessed[p] for p in points if p in assessed]
    if states and all(pc.concurrent for pc in states):
        return "CPUs running the benchmark concurrently (measured)"
    whys = list(dict.fromkeys(pc.why for pc in states if not pc.concurrent))
    return "CPUs taking part" + (f" (hollow: not all running at once - {'; '.join(whys)})"
                                 if whys else "")


def refcount(run):
    # the per-run rows with the kernel's medians (the runs it counted)
    rows = [r for r in run.select(bench="refcount")
            if r.metric in ("ns_per_op", "ns_per_op_median")]
    grouped = results.group(rows)
    series = {k: s for k, s in grouped.items() if k.metric == "ns_per_op"} or grouped
    if not series:
        raise Skip("no refcount ns_per_op rows")
    assessed = concurrency.of_run(run)
    by_case = {}
    for key, s in series.items():
        pc = assessed.get(key.point)
        filled = key.cpus == 1 or (pc is not None and pc.concurrent)
        by_case.setdefault(key.case, []).append((key.cpus, s.central(), 7 if filled else 6))
    unit = next(iter(series.values())).unit
    ylabel = f"{results.display_unit(unit, run.icount)} per operation (median of runs, log scale)"
    if run.icount:
        ylabel = "instructions per operation (icount; median of runs, log scale)"
    cpus_all = sorted({c for pts in by_case.values() for c, _, _ in pts})
    out = [f"set title {q('Refcount cost vs CPU count (' + run.tag() + ')')}",
           "set logscale y 10\nset grid ytics mytics xtics",
           f"set xtics ({', '.join(f'{q(c)} {c}' for c in cpus_all)})",
           f"set xrange [{cpus_all[0] - 0.5}:{cpus_all[-1] + 0.5}]",
           f"set xlabel {q(cpu_axis(assessed, [k.point for k in series]))}",
           f"set ylabel {q(ylabel)}", "set key top left box opaque"]
    plots = []
    known = [c for c, _, _ in REFCOUNT_CASES]
    extra = [(c, c, False) for c in by_case if c not in known]
    for i, (case, label, dashed) in enumerate(REFCOUNT_CASES + extra):
        if case not in by_case:
            continue
        out.append(datablock(f"r{i}", sorted(by_case[case])))
        # the line, then each point filled (pt 7) or hollow (pt 6) from column 3
        plots.append(f"$r{i} using 1:2 with lines {style(i, dashed)} title {q(label)}")
        plots.append(f"$r{i} using 1:2:3 with points {style(i)} pt variable ps 1.3 notitle")
    if any(pt == 6 for pts in by_case.values() for _, _, pt in pts):
        plots.append("NaN with points lc rgb 'black' pt 7 title 'filled: 1 CPU, or all CPUs "
                     "ran at once'")
        plots.append("NaN with points lc rgb 'black' pt 6 title 'hollow: not concurrent "
                     "(see the axis)'")
    out.append("plot " + ", \\\n     ".join(plots))
    return "\n".join(out)


def contig(run):
    rows = [r for r in run.rows if r.bench == "contig" and "order" in r.params
            and r.metric in ("p50_ns", "p99_ns", "success_rate")]
    cpus, rows = fewest_cpus(rows, "no contig rows with order= params")
    series = results.group(rows)
    data = {}
    for key, s in series.items():
        order = int(results.parse_param(key.param)["order"])
        data.setdefault((key.case, key.metric), []).append((order, s.central()))
    lat = [v for (c, m), pts in data.items() if m != "success_rate" for _, v in pts]
    unit = next(r.unit for r in rows if r.metric != "success_rate") if lat else "ns"
    div, label = time_scale(max(lat) if lat else 1, unit, run.icount)
    cases = list(dict.fromkeys(c for c, _ in data))
    title = (f"Contiguous allocation by order, fresh vs fragmented memory ({n_cpus(cpus)})\n"
             + run.tag())
    out = [f"set multiplot layout 1,2 title {q(title)}",
           "set grid\nset xtics 1",
           f"set xlabel {q('order (block of 2^order frames)')}"]
    lat_plots, ok_plots = [], []
    for i, case in enumerate(cases):
        for j, metric in enumerate(("p50_ns", "p99_ns")):
            pts = sorted(data.get((case, metric), []))
            if not pts:
                continue
            name = f"l{i}_{j}"
            out.append(datablock(name, [(o, v / div) for o, v in pts]))
            lat_plots.append(f"${name} using 1:2 with linespoints {style(i, j == 1)} pt 7 "
                             f"title {q(f'{case} {metric[:3]}')}")
        pts = sorted(data.get((case, "success_rate"), []))
        if pts:
            out.append(datablock(f"s{i}", pts))
            ok_plots.append(f"$s{i} using 1:2 with linespoints {style(i)} pt 7 title {q(case)}")
    out.append("set title 'latency (p50 solid, p99 dashed)'\nset logscale y 10")
    out.append(f"set ylabel {q('latency per allocation (' + label + ', log scale)')}")
    out.append("set key top left box opaque")
    out.append("plot " + ", \\\n     ".join(lat_plots) if lat_plots else
               "set label 1 'no latency data' at graph 0.5,0.5 center\nplot NaN notitle")
    out.append("unset logscale y\nunset label 1\nset title 'success rate'")
    out.append("set yrange [0:1.05]\nset ylabel 'allocations that succeeded (fraction)'")
    out.append("set key bottom left box opaque")
    out.append("plot " + ", \\\n     ".join(ok_plots) if ok_plots else
               "set label 1 'no success-rate data' at graph 0.5,0.5 center\nplot NaN notitle")
    out.append("unset multiplot")
    return "\n".join(out)


def bringup(run):
    rows = [r for r in run.rows if r.bench == "smp" and r.metric == "ap_start_ns"
            and "cpu" in r.params]
    if not rows:
        raise Skip("no smp ap_start_ns rows (a 1-CPU run has no APs)")
    series = results.group(rows)
    pts = sorted((int(results.parse_param(k.param)["cpu"]), s.central())
                 for k, s in series.items())
    div, label = time_scale(max(v for _, v in pts), rows[0].unit, run.icount)
    facts = {r.metric: r.value for r in run.rows if r.bench == "smp" and not r.params}
    extra = []
    if "bringup_total_ns" in facts:
        tdiv, tlabel = time_scale(facts["bringup_total_ns"], "ns", run.icount)
        extra.append(f"total {facts['bringup_total_ns'] / tdiv:.3g} {tlabel.split(' (')[0]}")
    if "cpus_online" in facts:
        madt = facts.get("cpus_in_madt")
        extra.append(f"{facts['cpus_online']:.0f}" +
                     (f" of {madt:.0f}" if madt is not None else "") + " CPUs online")
    sub = f" ({', '.join(extra)})" if extra else ""
    fmt = "%.0f" if max(v for _, v in pts) / div >= 100 else "%.3g"
    out = [f"set title {q('AP bring-up time per CPU' + sub + chr(10) + run.tag())}",
           "set style fill solid 0.7 border -1\nset boxwidth 0.7\nset grid ytics",
           f"set xrange [{pts[0][0] - 0.7}:{pts[-1][0] + 0.7}]",
           # headroom so the value above the tallest bar clears the frame
           f"set yrange [0:{max(v for _, v in pts) / div * 1.12:.6g}]",
           f"set xtics 1\nset xlabel {q('application processor (CPU index)')}",
           f"set ylabel {q('first STARTUP IPI to online (' + label + ')')}", "set key off",
           datablock("b", [(c, v / div) for c, v in pts]),
           f"plot $b using 1:2 with boxes lc rgb {q(COLOURS[0])}, "
           f"$b using 1:2:(sprintf({q(fmt)}, $2)) with labels offset 0,0.7 font ',9'"]
    return "\n".join(out)


def frag(run):
    rows = [r for r in run.rows if r.bench == "frag" and "cycle" in r.params
            and r.metric in ("huge_avail_ratio", "huge_alloc_success")]
    if not rows:
        raise Skip("no frag rows with cycle= params")
    data = {}
    for key, s in results.group(rows).items():
        p = results.parse_param(key.param)
        data.setdefault((p.get("policy", "?"), key.metric), []).append((int(p["cycle"]),
                                                                       s.central()))
    cpus = rows[0].cpus
    title = f"Huge (2 MiB) frames after aging cycles, {cpus} CPUs, policy on vs off\n" + \
        run.tag()
    out = [f"set title {q(title)}", "set grid", "set yrange [0:1.05]",
           f"set xlabel {q('aging cycle (0: before the first)')}",
           f"set ylabel {q('fraction of the ideal (perfect packing of the live frames)')}",
           "set key bottom left box opaque"]
    plots = []
    for i, policy in enumerate(sorted({p for p, _ in data})):
        for j, (metric, label) in enumerate((("huge_avail_ratio", "free 2 MiB blocks"),
                                             ("huge_alloc_success", "order-9 burst success"))):
            pts = sorted(data.get((policy, metric), []))
            if not pts:
                continue
            name = f"f{i}_{j}"
            out.append(datablock(name, pts))
            plots.append(f"${name} using 1:2 with linespoints {style(i, j == 1)} pt 7 "
                         f"title {q(f'policy {policy}: {label}')}")
    out.append("plot " + ", \\\n     ".join(plots))
    return "\n".join(out)


PLOTS = [("latency_cdf", latency_cdf), ("hitrate_vs_k", hitrate_vs_k),
         ("refcount", refcount), ("contig", contig), ("bringup", bringup), ("frag", frag)]


def render(body, outdir, name):
    """Run gnuplot once for PNG (pngcairo) and once for SVG; raises on gnuplot errors."""
    w, h = SIZE
    if "set multiplot layout 2," in body:
        h = int(h * 1.5)
    script = []
    for term, ext in ((f"pngcairo size {w},{h} font {q(FONT)} noenhanced", "png"),
                      (f"svg size {w},{h} font {q(FONT)} noenhanced background rgb 'white'",
                       "svg")):
        script += [f"set terminal {term}", f"set output {q(os.path.join(outdir, name + '.' + ext))}",
                   "reset", body, "unset output"]
    proc = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True,
                          capture_output=True, timeout=60)
    if proc.returncode != 0 or "error" in proc.stderr.lower():
        raise RuntimeError(f"gnuplot failed on {name}: {proc.stderr.strip()[:800]}")


def plot_all(run, outdir=None, out=sys.stdout):
    """Draw every plot the data allows; returns {name: 'ok' | reason skipped}."""
    outdir = outdir or run.path
    done = {}
    if shutil.which("gnuplot") is None:
        out.write("plot: gnuplot is not installed (make deps installs it); no plots drawn\n")
        return {name: "gnuplot missing" for name, _ in PLOTS}
    for name, fn in PLOTS:
        try:
            render(fn(run), outdir, name)
            done[name] = "ok"
            out.write(f"plot: {name}.png / {name}.svg\n")
        except Skip as e:
            done[name] = str(e)
            out.write(f"plot: {name} skipped: {e}\n")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            done[name] = f"failed: {e}"
            out.write(f"plot: {name} FAILED: {e}\n")
    return done


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: plot.py RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        run = results.load_run(argv[0])
    except results.ResultsError as e:
        print(f"plot: {e}", file=sys.stderr)
        return 1
    done = plot_all(run)
    return 1 if any(v.startswith("failed") for v in done.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
