#!/usr/bin/python3
"""Measure the false-alarm rate of compare.py on unchanged timing runs.

    false_alarm.py --count 10 [bench.py run options]  make N runs of the same kernel, compare
                                                      (e.g. --smp 2 --profile quick --runs 5)
    false_alarm.py --dirs DIR DIR ...                compare existing results directories

Every pair (i < j) of runs of the same code is compared (one boot per side);
any verdict other than `unchanged` (or `-`/`n/a`, which are not judgements) is
a false alarm.  Prints the share of pairs with at least one false regression
(what a user would see) and the share of judged figures flagged, per test kind;
then, with 8 or more runs, the same for splits into two groups of boots
(several boots per side, the per-boot figures as samples).  Runs go to a temporary
results root (not results/) and are removed afterwards unless --keep.
"""
import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import compare  # noqa: E402
import results  # noqa: E402


def make_runs(count, bench_opts, root):
    dirs = []
    for i in range(count):
        sub = os.path.join(root, f"run{i}")
        cmd = [sys.executable, os.path.join(ROOT, "scripts", "bench.py"), "run",
               "--results-root", sub, "--no-plot"] + bench_opts
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"false_alarm: run {i} failed: {r.stderr.strip()[-400:]}")
        dirs.append(os.path.realpath(os.path.join(sub, "latest")))
        print(f"run {i + 1}/{count}: {os.path.basename(dirs[-1])}", flush=True)
    return dirs


def measure_groups(runs, size, out=sys.stdout, limit=60):
    """Split the runs into two groups of `size` boots (up to `limit` splits):
    the share of splits flagging a false regression with several boots per side."""
    splits = [c for c in itertools.combinations(range(len(runs)), size)
              if 0 in c][:limit]  # each split once (the group holding run 0 is the base)
    flagged = 0
    for group in splits:
        rest = [i for i in range(len(runs)) if i not in group][:size]
        verdicts, _ = compare.compare_runs([runs[i] for i in group], [runs[i] for i in rest])
        flagged += any(v.verdict == "regressed" for v in verdicts)
    out.write(f"{size} vs {size} boots: {flagged}/{len(splits)} splits with a false "
              f"regression = {flagged / max(len(splits), 1):.1%}\n")


def measure(dirs, out=sys.stdout):
    runs = [results.load_run(d) for d in dirs]
    pairs = flagged_pairs = suspected_pairs = 0
    kinds = {}  # test kind -> [judged, flagged]
    examples = []
    for i in range(len(runs)):
        for j in range(i + 1, len(runs)):
            verdicts, _ = compare.compare_runs(runs[i], runs[j])
            pairs += 1
            bad = [v for v in verdicts if v.verdict == "regressed"]
            flagged_pairs += bool(bad)
            suspected_pairs += any(v.verdict == "regressed?" for v in verdicts)
            for v in verdicts:
                if v.verdict in ("-", "n/a", "new", "missing"):
                    continue
                kind = v.test.split(" ")[0] if v.test.startswith("U") else v.test
                slot = kinds.setdefault(kind, [0, 0])
                slot[0] += 1
                if v.verdict != "unchanged":
                    slot[1] += 1
                    if len(examples) < 8:
                        examples.append(f"  runs {i},{j}: {'/'.join(map(str, v.key))} "
                                        f"{v.change * 100:+.1f}% ({v.test}) {v.verdict}")
    out.write(f"{len(runs)} runs, {pairs} pairwise comparisons\n")
    out.write(f"pairs with at least one false regression (a CI false alarm): "
              f"{flagged_pairs}/{pairs} = {flagged_pairs / max(pairs, 1):.1%}\n")
    out.write(f"pairs with at least one suspected regression (one boot per side, shown "
              f"but not failing): {suspected_pairs}/{pairs} = "
              f"{suspected_pairs / max(pairs, 1):.1%}\n")
    for kind, (judged, flagged) in sorted(kinds.items()):
        out.write(f"  {kind:>12}: {flagged}/{judged} judged figures flagged "
                  f"({flagged / max(judged, 1):.2%})\n")
    if examples:
        out.write("examples:\n" + "\n".join(examples) + "\n")
    if len(runs) >= 8:
        measure_groups(runs, len(runs) // 2, out)
    return flagged_pairs, pairs


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10, help="runs to make (10)")
    ap.add_argument("--dirs", nargs="+", help="existing results directories")
    ap.add_argument("--keep", action="store_true", help="keep the temporary runs")
    opts, bench_opts = ap.parse_known_args(argv)
    if opts.dirs:
        measure(opts.dirs)
        return 0
    root = tempfile.mkdtemp(prefix="false-alarm-")
    try:
        measure(make_runs(opts.count, bench_opts, root))
    finally:
        if opts.keep:
            print(f"runs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
