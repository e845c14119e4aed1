#!/usr/bin/python3
"""Boot-to-boot noise of the single-CPU timing figures: `make noise`.

    noise.py --count 3 [bench.py run options]   make 3 boots, then measure
    noise.py --dirs DIR ... [--group 3]          measure existing runs

For every single-CPU ns_per_op_median figure (the median of a point's runs
in one boot), its spread over a group of boots is (max - min) / min; per
benchmark the median and the maximum spread over the figures are printed.
With more runs than --group, each consecutive group of that many boots is
measured and the median over the groups is given too.  Issue 11's goal:
three boots agree within 15 % (median spread).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts"))
sys.path.insert(0, HERE)
import compare  # noqa: E402
import results  # noqa: E402
from false_alarm import make_runs  # noqa: E402

FIGURE = "ns_per_op_median"


def spreads(runs, flagged_too=True):
    """{bench: [spread of each single-CPU figure present in every run]};
    without flagged_too, the points the kernel flagged host_slowed (too few
    full-speed runs, even after measuring the set again) in any run stay out."""
    values = {}
    for run in runs:
        for r in run.rows:
            if r.metric == FIGURE and r.cpus == 1 and r.run is None:
                values.setdefault(r.key, []).append(r.value)
    flagged = set().union(*compare.host_slowed_points(runs))
    out = {}
    for key, vs in values.items():
        if not flagged_too and key.point in flagged:
            continue
        if len(vs) == len(runs) and min(vs) > 0:
            out.setdefault(key.bench, []).append((max(vs) - min(vs)) / min(vs))
    return out


def busy_share(runs):
    flags = [(r.meta.get("host_conditions") or {}).get("busy") for r in runs]
    known = [f for f in flags if f is not None]
    return f"{sum(known)} of {len(known)} boots on a busy host" if known else \
        "host load not recorded"


def probe_line(runs):
    """The boots' host-speed probes at start (meta.csv speed_probe_cycles):
    a boot the host ran slowed throughout shows here, not in its medians."""
    probes = [(r.meta.get("kernel_meta") or {}).get("speed_probe_cycles", "?") for r in runs]
    return "host-speed probe at start: " + ", ".join(f"{p} cycles" for p in probes)


def measure(dirs, group, out=sys.stdout):
    runs = [results.load_run(d) for d in dirs]
    groups = [runs[i:i + group] for i in range(0, len(runs) - group + 1, group)]
    per_group = {}
    for n, g in enumerate(groups):
        out.write(f"group {n}: {probe_line(g)}\n")
        unflagged = spreads(g, flagged_too=False)
        for bench, s in spreads(g).items():
            med = statistics.median(s)
            per_group.setdefault(bench, []).append(med)
            u = unflagged.get(bench, [])
            rest = f"; without the {len(s) - len(u)} flagged host_slowed: " + (
                f"median {statistics.median(u):.0%}" if u else "none left") \
                if len(u) < len(s) else ""
            out.write(f"group {n} ({len(g)} boots, {busy_share(g)}): {bench}: {len(s)} "
                      f"figures, median spread {med:.0%}, max {max(s):.0%}{rest}\n")
    for bench, meds in per_group.items():
        out.write(f"{bench}: median spread over {len(meds)} group(s) of {group} boots: "
                  f"{statistics.median(meds):.0%} (groups from {min(meds):.0%} to "
                  f"{max(meds):.0%}; goal <= 15%)\n")
    return per_group


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--group", type=int, default=3)
    ap.add_argument("--dirs", nargs="+")
    ap.add_argument("--root", help="make the runs here and keep them")
    opts, bench_opts = ap.parse_known_args(argv)
    if opts.dirs:
        measure(opts.dirs, opts.group)
        return 0
    root = opts.root or tempfile.mkdtemp(prefix="noise-")
    os.makedirs(root, exist_ok=True)
    try:
        measure(make_runs(opts.count, bench_opts, root), opts.group)
    finally:
        if not opts.root:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
