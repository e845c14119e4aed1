"""The terminal summary of a results directory: one small table per benchmark.

    summary.py DIR      (bench.py summary DIR does the same)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import concurrency  # noqa: E402
import results  # noqa: E402
import rundir  # noqa: E402
from results import fmt_value, format_table  # noqa: E402


def summary(run):
    ic = run.icount
    unit = results.display_unit("ns", ic)
    out = [f"Summary of {run.name} ({run.tag()}; times in {unit})"]
    series = results.group(run.rows)
    assessed = concurrency.of_run(run)

    def val(bench, case, cpus, param, metric):
        s = series.get(results.Key(bench, case, cpus, param, metric))
        return s.central() if s else None

    rc = [k for k in series if k.bench == "refcount" and k.metric == "ns_per_op"]
    if rc:
        cpus = sorted({k.cpus for k in rc})
        cases = list(dict.fromkeys(k.case for k in rc))
        rows = [[c] + [fmt_value(val("refcount", c, n, "", "ns_per_op")) for n in cpus]
                for c in cases]
        rows.append(["concurrent?"] + [
            concurrency.column(assessed, [k.point for k in rc if k.cpus == n])
            if n > 1 else "-" for n in cpus])
        out.append(f"\nrefcount: {unit}/op (median over runs) by CPU count")
        out.append(format_table(["case"] + [f"{n} cpu" for n in cpus], rows,
                                right=range(1, len(cpus) + 1)))
    pc = [k for k in series if k.bench == "pcp" and k.metric == "hit_rate" and k.case != "batch"]
    if pc:
        rows = [[k.case, k.cpus, k.param, fmt_value(series[k].central(), "ratio"),
                 fmt_value(val("pcp", k.case, k.cpus, k.param, "ns_per_op")),
                 concurrency.column(assessed, [k.point]) if k.cpus > 1 else "-"] for k in pc]
        out.append("\npcp: per-CPU cache")
        out.append(format_table(["case", "cpus", "param", "hit_rate", f"{unit}/op",
                                 "concurrent?"], rows, right=(1, 3, 4)))
    ct = [k for k in series if k.bench == "contig" and k.metric == "p50_ns"
          and k.param.startswith("order=")]
    if ct:
        orders = sorted({int(k.param[6:]) for k in ct})
        cases = list(dict.fromkeys(k.case for k in ct))
        rows = []
        for o in orders:
            row = [o]
            for c in cases:
                for m in ("p50_ns", "p99_ns", "success_rate"):
                    row.append(fmt_value(val("contig", c, 1, f"order={o}", m),
                                         "ratio" if m == "success_rate" else ""))
            rows.append(row)
        head = ["order"] + [f"{c} {m}" for c in cases for m in ("p50", "p99", "success")]
        out.append(f"\ncontig: allocation latency ({unit}) and success rate by order")
        out.append(format_table(head, rows, right=range(len(head))))
    rest = [k for k in series if k.bench in ("smp", "stress") and not k.param
            and k.case != "check"]
    if rest:
        rows = [[k.bench, k.case, k.metric, fmt_value(series[k].central()),
                 results.display_unit(series[k].unit, ic)] for k in rest]
        out.append("\nsmp / stress")
        out.append(format_table(["bench", "case", "metric", "value", "unit"], rows, right=(3,)))
    checked = [k.bench for k in series if k.metric == "invariants_ok"]
    if checked:
        out.append(f"\nallocator invariants checked after: {', '.join(checked)} - all held")
    if assessed:
        out.append("\nconcurrent? yes: the kernel measured every CPU running at once; no: "
                   "not (reason below); n/m: not measured, not evidence of concurrency")
    notes = rundir.warnings(run.meta, run.rows)
    if notes:
        out.append("")
        out += [f"WARNING: {w}" for w in notes]
    host = run.meta.get("host_conditions") or {}
    if host.get("sampled"):
        out.append(f"\nhost: {host['host_cores']} cores; during the boot this run's QEMU used "
                   f"{host['own_cpus']} cores, other processes {host['others_cpus']}, steal "
                   f"{host['steal_frac']:.1%}" + (f"; other QEMU: {len(host['other_qemu'])}"
                                                  if host.get("other_qemu") else ""))
    return "\n".join(out)


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: summary.py RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        print(summary(results.load_run(argv[0])))
    except results.ResultsError as e:
        print(f"summary: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
