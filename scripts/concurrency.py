"""Were the CPUs of a multi-CPU point really running at the same time?

For every timed point with two or more CPUs the kernel reports, per run and
as medians (docs/results.md, "Concurrency"): overlap_frac (time all CPUs were
inside their timed window / span), concurrency (sum of active time / span, in
CPUs), desched_frac (detected gaps / loop time), start_skew_ns, and a
`concurrent` row (1/0) judged against its documented thresholds.  This module
turns those rows into one status per point, with the reason in words, for the
summary, the plots and the report:

  concurrent      the kernel's `concurrent` row is 1 and nothing here contradicts it
  not concurrent  the kernel says 0; or the run used icount (vCPUs run one after
                  another); or the point has more CPUs than the host has cores
  not measured    the kernel reported no concurrency rows for the point (kernels
                  older than the measurement): never read as concurrent
"""
import dataclasses

import results

FIGURES = ("overlap_frac", "concurrency", "desched_frac", "start_skew_ns")
CONCURRENT = "concurrent"
NOT_CONCURRENT = "not concurrent"
NOT_MEASURED = "not measured"
# Metrics that mark a point as timed (the kernel measures concurrency only there).
TIMED = ("ns_per_op", "ns_per_op_median")


@dataclasses.dataclass
class PointConcurrency:
    point: results.Point
    status: str
    reason: str
    figures: dict  # figure -> median over runs (None when absent)
    why: str = ""  # the reason in a few words, for plot axes

    @property
    def concurrent(self):
        return self.status == CONCURRENT


def describe(figures, cpus, unit="ns"):
    """'overlap 12% of the span, 1.30 of 4 CPUs active, ...' from the medians."""
    parts = []
    if figures.get("overlap_frac") is not None:
        parts.append(f"all {cpus} CPUs in their timed window for "
                     f"{figures['overlap_frac']:.0%} of the span")
    if figures.get("concurrency") is not None:
        parts.append(f"{figures['concurrency']:.2f} of {cpus} CPUs active on average")
    if figures.get("desched_frac") is not None and figures["desched_frac"] > 0:
        parts.append(f"descheduled {figures['desched_frac']:.0%} of the loop time")
    if figures.get("start_skew_ns") is not None:
        skew = figures["start_skew_ns"]
        if unit == "instr":
            parts.append(f"start skew {skew:,.0f} instructions")
        else:
            parts.append(f"start skew {skew / 1e6:.3g} ms" if skew >= 1e6 else
                         f"start skew {skew / 1e3:.3g} µs")
    return ", ".join(parts)


def _median_figures(series, point):
    """Each figure's median: the kernel's *_median row, else the median of its runs."""
    out = {}
    for name in FIGURES:
        per_run = series.get(results.Key(*point, name))
        agg = series.get(results.Key(*point, name + "_median"))
        figure = per_run if per_run is not None else agg
        out[name] = figure.central() if figure is not None else None
    return out


def assess(rows, icount, host_cores):
    """{Point: PointConcurrency} for every timed point with two or more CPUs."""
    series = results.group(rows)
    points = list(dict.fromkeys(k.point for k in series if k.cpus >= 2 and k.metric in TIMED))
    out = {}
    for point in points:
        figures = _median_figures(series, point)
        flag = series.get(results.Key(*point, "concurrent"))
        value = flag.central() if flag is not None else None
        unit = "instr" if icount else "ns"
        said = describe(figures, point.cpus, unit)
        if icount:
            status, why = NOT_CONCURRENT, "icount runs the vCPUs one after another"
            reason = why + " (round-robin on one host thread)"
        elif host_cores and point.cpus > host_cores:
            status, why = NOT_CONCURRENT, f"more vCPUs than the {host_cores} host cores"
            reason = f"{point.cpus} vCPUs on {host_cores} host cores"
        elif value is None:
            status, why = NOT_MEASURED, "concurrency not measured"
            reason = "the kernel reported no concurrency figures for this point"
        elif value == 1:
            status, why, reason, said = CONCURRENT, "", said, ""
        else:
            status, why = NOT_CONCURRENT, "measured overlap below the kernel's threshold"
            reason, said = said or "the kernel's concurrent row is 0", ""
        if said:
            reason += f" ({said})"
        out[point] = PointConcurrency(point, status, reason, figures, why)
    return out


def host_cores_of(meta):
    """The host's core count recorded for a run (None when unknown)."""
    cond = meta.get("host_conditions") or {}
    return cond.get("host_cores") or (meta.get("host") or {}).get("cpu_cores")


def of_run(run):
    return assess(run.rows, run.icount, host_cores_of(run.meta))


def warnings(assessed):
    """One line per benchmark with points that were not concurrent or not measured."""
    by_bench = {}
    for pc in assessed.values():
        by_bench.setdefault(pc.point.bench, []).append(pc)
    out = []
    for bench, pcs in by_bench.items():
        bad = [pc for pc in pcs if pc.status == NOT_CONCURRENT]
        unknown = [pc for pc in pcs if pc.status == NOT_MEASURED]
        if bad:
            worst = max(bad, key=lambda pc: pc.point.cpus)
            out.append(f"{bench}: {len(bad)} of {len(pcs)} multi-CPU points were not "
                       f"concurrent (CPU counts {cpu_list(bad)}); e.g. {worst.point.case} "
                       f"at {worst.point.cpus} CPUs: {worst.reason}")
        if unknown:
            out.append(f"{bench}: concurrency not measured for {len(unknown)} of {len(pcs)} "
                       f"multi-CPU points (CPU counts {cpu_list(unknown)}): the kernel "
                       f"reported no concurrency rows, so these figures are not evidence "
                       f"that the CPUs ran at once")
    return out


def cpu_list(pcs):
    return ",".join(str(c) for c in sorted({pc.point.cpus for pc in pcs}))


def column(assessed, points):
    """One word for a set of points (e.g. a CPU-count column): yes, no, n/m or mixed."""
    states = {assessed[p].status for p in points if p in assessed}
    if not states:
        return "-"
    if len(states) > 1:
        return "mixed"
    return {CONCURRENT: "yes", NOT_CONCURRENT: "no", NOT_MEASURED: "n/m"}[states.pop()]
