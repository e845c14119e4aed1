#!/usr/bin/python3
"""Measure the false-alarm rate of compare.py on unchanged timing runs, and
the paired A/B rule's sensitivity to a slowdown confined to one case.

    false_alarm.py --count 10 [bench.py run options]  make N runs of the same kernel, compare
                                                      (e.g. --smp 2 --profile quick --runs 5)
    false_alarm.py --dirs DIR DIR ...                compare existing results directories
    false_alarm.py --ab --count 20 [--boots 5] [--inject 1.10] [bench.py run options]
    false_alarm.py --ab --dirs DIR ...               the paired rule (make ab-demo)

--ab: the runs, made back to back of one kernel, are taken as consecutive
pairs (boots 0,1 = pair 0, ...), as `make ab` boots them.  From those pairs
it draws up to --resamples sets of --boots pairs; each set is one unchanged
A/B comparison (compare_runs(..., paired=True)): the share that flags any
regression is the false-alarm rate.  Then, for every timed benchmark case,
the same sets with that case's time figures on the new side multiplied by
--inject (a slowdown of exactly that case, added on the host to real boots,
so it carries the real noise): the share in which the case is flagged is the
sensitivity, and the share in which another case is flagged too is printed.
The sets share boots, so they are not independent trials: the rates are
estimates from --count boots, not from --resamples experiments.

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
import statistics
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
        verdicts = compare.compare_runs([runs[i] for i in group],
                                        [runs[i] for i in rest]).verdicts
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
            verdicts = compare.compare_runs(runs[i], runs[j]).verdicts
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


TIME_UNITS = ("ns", "cycles", "instr")


def inject(run, bench, case, factor):
    """A copy of run with every time figure of bench/case multiplied by factor
    (throughput in mops divided by it): the case made that much slower."""
    rows = []
    for r in run.rows:
        value = r.value
        if r.bench == bench and r.case == case and \
                results.direction(r.metric, r.unit) is not None:
            if r.unit in TIME_UNITS:
                value *= factor
            elif r.unit == "mops":
                value /= factor
        rows.append(results.Row(r.bench, r.case, r.cpus, r.param, r.metric, value, r.unit))
    return results.Run(run.path, run.meta, rows, run.hist, run.kernel_meta)


def timed_cases(run):
    return list(dict.fromkeys((r.bench, r.case) for r in run.rows
                              if r.metric == compare.CASE_FIGURE))


def flagged_cases(comp):
    return {(c.bench, c.case) for c in comp.cases if c.verdict == "regressed"}


def measure_ab(dirs, boots, factor, resamples, seed=1, out=sys.stdout):
    """The paired rule on unchanged pairs, then with one case slowed by factor."""
    import random
    runs = [results.load_run(d) for d in dirs]
    # As make ab boots them: A B, then B A, then A B ..., so that a drift of
    # the host over the boots falls on both sides alike.
    pairs = [(runs[i], runs[i + 1]) if (i // 2) % 2 == 0 else (runs[i + 1], runs[i])
             for i in range(0, len(runs) - 1, 2)]
    if len(pairs) < boots:
        sys.exit(f"false_alarm: {len(runs)} runs make {len(pairs)} pairs, fewer than "
                 f"--boots {boots}")
    rng = random.Random(seed)
    combos = list(itertools.combinations(range(len(pairs)), boots))
    sets = combos if len(combos) <= resamples else rng.sample(combos, resamples)

    def sides(chosen, slow=None):
        base = [pairs[i][0] for i in chosen]
        new = [pairs[i][1] for i in chosen]
        if slow:
            new = [inject(r, slow[0], slow[1], factor) for r in new]
        return base, new

    false = 0
    examples = []
    for chosen in sets:
        comp = compare.compare_runs(*sides(chosen), paired=True)
        bad = flagged_cases(comp) | {(v.key.bench, v.key.case) for v in comp.verdicts
                                     if v.verdict == "regressed"}
        false += bool(bad)
        if bad and len(examples) < 5:
            examples.append(f"  pairs {chosen}: {sorted(bad)}")
    cases = timed_cases(runs[0])
    every = compare.compare_runs([a for a, _ in pairs[:boots]], [b for _, b in pairs[:boots]],
                                 paired=True)
    out.write(f"smallest change {boots} pairs could detect, per case (from the first "
              f"{boots} pairs' spread): " +
              ", ".join(f"{c.bench}/{c.case} ±{c.detectable:.0%}" for c in every.cases) + "\n")
    out.write(f"{len(runs)} boots = {len(pairs)} pairs; {len(sets)} sets of {boots} pairs; "
              f"{len(cases)} timed cases (the families)\n")
    out.write(f"false alarms (unchanged sets flagging any regression): {false}/{len(sets)} "
              f"= {false / len(sets):.1%}\n")
    out.writelines(e + "\n" for e in examples)
    caught_all = []
    for case in cases:
        caught = others = 0
        for chosen in sets:
            flagged = flagged_cases(compare.compare_runs(*sides(chosen, case), paired=True))
            caught += case in flagged
            others += bool(flagged - {case})
        caught_all.append(caught / len(sets))
        out.write(f"  {case[0]}/{case[1]} x{factor:g}: caught in {caught}/{len(sets)} "
                  f"= {caught / len(sets):.0%}; another case flagged in {others}\n")
    if caught_all:
        out.write(f"sensitivity to x{factor:g} in one case: median over cases "
                  f"{statistics.median(caught_all):.0%}, cases caught in >= 80 % of sets: "
                  f"{sum(c >= 0.8 for c in caught_all)}/{len(caught_all)}\n")
    return false, len(sets)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10, help="runs to make (10)")
    ap.add_argument("--dirs", nargs="+", help="existing results directories")
    ap.add_argument("--keep", action="store_true", help="keep the temporary runs")
    ap.add_argument("--root", help="make the runs here and keep them (default: a temporary "
                    "directory)")
    ap.add_argument("--ab", action="store_true", help="the paired A/B rule (make ab)")
    ap.add_argument("--boots", type=int, default=5, help="--ab: pairs per comparison (5)")
    ap.add_argument("--inject", type=float, default=1.10,
                    help="--ab: slowdown factor put into one case (1.10)")
    ap.add_argument("--resamples", type=int, default=40, help="--ab: sets of pairs (40)")
    opts, bench_opts = ap.parse_known_args(argv)

    def report(dirs):
        if opts.ab:
            measure_ab(dirs, opts.boots, opts.inject, opts.resamples)
        else:
            measure(dirs)
    if opts.dirs:
        report(opts.dirs)
        return 0
    if opts.root:
        os.makedirs(opts.root, exist_ok=True)
        opts.keep = True
    root = opts.root or tempfile.mkdtemp(prefix="false-alarm-")
    try:
        report(make_runs(opts.count, bench_opts, root))
    finally:
        if opts.keep:
            print(f"runs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
