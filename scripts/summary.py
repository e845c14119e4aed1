"""The terminal summary of a results directory: one small table per benchmark.

    summary.py DIR      (bench.py summary DIR does the same)
"""
import os
import sys
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import concurrency  # noqa: E402
import results  # noqa: E402
import rundir  # noqa: E402
from results import fmt_value, format_table  # noqa: E402


class Table(NamedTuple):
    """One summary table: the benchmark it belongs to, a title, the header,
    the rows (strings) and the indices of right-aligned columns."""
    bench: str
    title: str
    header: list
    rows: list
    right: tuple


def tables(run):
    """The summary tables of a run, in the order the terminal shows them."""
    unit = results.display_unit("ns", run.icount)
    series = results.group(run.rows)
    assessed = concurrency.of_run(run)
    out = []

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
        out.append(Table("refcount", f"refcount: {unit}/op (median over runs) by CPU count",
                         ["case"] + [f"{n} cpu" for n in cpus], rows,
                         tuple(range(1, len(cpus) + 1))))
    pc = [k for k in series if k.bench == "pcp" and k.metric == "hit_rate" and k.case != "batch"]
    if pc:
        rows = [[k.case, k.cpus, k.param, fmt_value(series[k].central(), "ratio"),
                 fmt_value(val("pcp", k.case, k.cpus, k.param, "ns_per_op")),
                 concurrency.column(assessed, [k.point]) if k.cpus > 1 else "-"] for k in pc]
        out.append(Table("pcp", "pcp: per-CPU cache",
                         ["case", "cpus", "param", "hit_rate", f"{unit}/op", "concurrent?"],
                         rows, (1, 3, 4)))
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
        out.append(Table("contig", f"contig: allocation latency ({unit}) and success rate "
                         f"by order", head, rows, tuple(range(len(head)))))
    out += numa_tables(run, series, unit)
    fg = [k for k in series if k.bench == "frag" and k.metric == "huge_avail_ratio"]
    if fg:
        def cycle(k):
            return int(results.parse_param(k.param)["cycle"])
        last = max(cycle(k) for k in fg)
        rows = []
        for k in sorted((k for k in fg if cycle(k) == last), key=lambda k: k.param):
            p = results.parse_param(k.param)
            rows.append([p.get("policy", "?"), last, k.cpus] + [
                fmt_value(val("frag", k.case, k.cpus, k.param, m), u) for m, u in (
                    ("huge_avail_ratio", "ratio"), ("huge_alloc_success", "ratio"),
                    ("huge_blocks", ""), ("ideal_huge_blocks", ""), ("frag_index_9", "ratio"),
                    ("burst_ns_p50", ""))])
        out.append(Table("frag", f"frag: huge frames after the last aging cycle (fractions of "
                         f"the ideal; burst latency in {unit})",
                         ["policy", "cycle", "cpus", "avail", "burst ok", "2M free", "ideal",
                          "unusable(9)", "burst p50"], rows, tuple(range(1, 9))))
    for bench in ("smp", "stress"):
        rest = [k for k in series if k.bench == bench and not k.param and k.case != "check"]
        if rest:
            rows = [[k.case, k.metric, fmt_value(series[k].central()),
                     results.display_unit(series[k].unit, run.icount)] for k in rest]
            out.append(Table(bench, bench, ["case", "metric", "value", "unit"], rows, (2,)))
    return out


def numa_nodes(topology):
    """The kernel's numa_topology meta row -> [(node, cpus, mem_mib, dist)]:
    "node0:cpus=0-1:mem_mib=512:dist=10/20;node1:..." (empty without an SRAT)."""
    nodes = []
    for part in filter(None, (topology or "").split(";")):
        name, *fields = part.split(":")
        kv = dict(f.split("=", 1) for f in fields if "=" in f)
        nodes.append((name.removeprefix("node"), kv.get("cpus", "?"), kv.get("mem_mib", "?"),
                      kv.get("dist", "?").replace("/", " ")))
    return nodes


def numa_tables(run, series, unit):
    """The NUMA topology the kernel read, and which node served the pcp
    node_local / node_remote allocations (nothing on one node)."""
    nodes = numa_nodes((run.meta.get("kernel_meta") or {}).get("numa_topology"))
    if len(nodes) < 2:
        return []
    out = [Table("numa", f"numa: {len(nodes)} nodes (SRAT/SLIT as the kernel read them)",
                 ["node", "cpus", "memory MiB", "distances"], [list(n) for n in nodes],
                 (2,))]
    keys = [k for k in series if k.bench == "pcp" and k.metric == "refills"
            and k.case in ("node_local", "node_remote")]
    if keys:
        def val(k, metric):
            s = series.get(results.Key(k.bench, k.case, k.cpus, k.param, metric))
            return s.central() if s else None
        rows = [[k.case, k.cpus, fmt_value(val(k, "refills")), fmt_value(val(k, "local_refills")),
                 fmt_value(val(k, "remote_refills")),
                 fmt_value(val(k, "served_node_local_frac"), "ratio"),
                 fmt_value(val(k, "ns_per_op"))] for k in keys]
        out.append(Table("numa", "numa: which node served the allocations (pcp node_local / "
                         "node_remote; under TCG no latency difference between nodes)",
                         ["case", "cpus", "refills", "node-local", "remote",
                          "served_node_local_frac", f"{unit}/op"], rows, (1, 2, 3, 4, 5, 6)))
    return out


def checked(run):
    """The benchmarks after which the allocator's invariant check ran."""
    return [r.bench for r in run.rows if r.metric == "invariants_ok" and r.run is None]


def host_line(run):
    host = run.meta.get("host_conditions") or {}
    if not host.get("sampled") or host.get("own_cpus") is None:
        return None
    return (f"host: {host['host_cores']} cores; during the boot this run's QEMU used "
            f"{host['own_cpus']} cores, other processes {host['others_cpus']}, steal "
            f"{host['steal_frac']:.1%}" + (f"; other QEMU: {len(host['other_qemu'])}"
                                           if host.get("other_qemu") else ""))


CONCURRENCY_LEGEND = ("concurrent? yes: the kernel measured every CPU running at once; "
                      "no: not (reason below); n/m: not measured, not evidence of concurrency")


def summary(run):
    """The terminal summary: one small table per benchmark, then the warnings."""
    unit = results.display_unit("ns", run.icount)
    out = [f"Summary of {run.name} ({run.tag()}; times in {unit})"]
    for t in tables(run):
        out.append("\n" + t.title)
        out.append(format_table(t.header, t.rows, right=t.right))
    if checked(run):
        out.append(f"\nallocator invariants checked after: {', '.join(checked(run))} - all held")
    if concurrency.of_run(run):
        out.append("\n" + CONCURRENCY_LEGEND)
    notes = rundir.warnings(run.meta, run.rows)
    if notes:
        out.append("")
        out += [f"WARNING: {w}" for w in notes]
    if host_line(run):
        out.append("\n" + host_line(run))
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
