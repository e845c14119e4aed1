#!/usr/bin/python3
"""Compare two results directories metric by metric: `make compare BASE=dir NEW=dir`.

    compare.py BASE NEW [--changes] [--alpha 0.05] [--min-effect 0.05]

BASE and NEW are each one results directory or several boots of the same
configuration ('d1 d2 d3', or a glob such as 'results/*-1a2b3c4-smp8-tcg').
One table per metric name with base, new, % change, the test and a verdict
(improved, regressed, unchanged; `-` for informational figures).  Base/new
show the median over boots of each boot's figure (its median over runs).
The rule depends on the data:

  exact       icount runs: single-CPU figures and all ratios/counts.  Under
              icount shift=0 the guest TSC counts instructions, so two runs of
              the same code give the same figure; any change beyond a rounding
              tolerance (0.1 %) is real.
  U test      timing figures with per-run samples (rows carrying run=k):
              a two-sided Mann-Whitney U test (exact distribution without
              ties, normal approximation with tie correction otherwise) on
              the per-boot figures when each side has several boots, else on
              the runs of the one boot.  The p-values of all tested figures are
              corrected together (Benjamini-Hochberg: hundreds of figures are
              tested at once) and a change counts only when the corrected p is
              below alpha AND the medians differ by at least min-effect.  Runs
              inside one boot do not show the boot-to-boot spread, which under
              TCG is far larger (docs/results.md has the measured false-alarm
              rates): with one boot on a side a significant change is only
              suspected ("improved?", "regressed?": shown and listed, but not
              a regression for the exit status).
              cycles_per_op and mops are shown but judged through ns_per_op.
  tolerance   single values that cannot be tested (icount multi-CPU figures,
              whose vCPU interleaving still varies a little; ratios and counts
              of timing runs): changed beyond a fixed tolerance (ratios: 0.01
              absolute; counts and icount figures: min-effect).  Contention
              counters (lock_contended, cas_retries_per_op) count collisions
              between CPUs, i.e. timing: they are treated as timing figures.
  n/a         a single timing sample: no test is possible; shown, not judged.

Invariant figures (violations, frees_exact, cpus_online, invariants_ok) are
always exact.  Lower is better for ns, cycles, latency and cost counts;
higher for mops, hit_rate, success_rate.  A figure the base has and the new
run lacks is "missing".  Exit status: 0 no regression, 1 a regression or a
missing figure, 2 the runs cannot be compared (different SMP, accelerator,
icount or profile; failed or unreadable runs).
"""
import argparse
import dataclasses
import glob
import math
import os
import statistics
import sys
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from results import fmt_value, format_table  # noqa: E402

ALPHA = 0.05
MIN_EFFECT = 0.05
EXACT_TOLERANCE = 0.001
RATIO_TOLERANCE = 0.01
MAX_LISTED = 40  # REGRESSION lines at the end; the tables hold every one
MIN_SAMPLES = 4  # below this a U test cannot reach p < 0.05 (two-sided, n=m=3: p >= 0.1)
DERIVED = ("cycles_per_op", "mops")  # the ns_per_op measurement in other units
ALWAYS_EXACT = {"violations", "frees_exact", "cpus_online", "cpus_in_madt", "invariants_ok"}
# Refuse to compare runs whose configuration differs in these meta.json fields.
MUST_MATCH = (("smp", "SMP"), ("accel", "accelerator"), ("icount", "icount"),
              ("profile", "profile"))


# ---- statistics ------------------------------------------------------------

def ranks(values):
    """Average ranks (1-based) of values, ties sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def _u_distribution(n, m):
    """counts[u] = number of orderings of n x's and m y's with U_x == u."""
    # f(a, b) over u, built up one element at a time (Mann & Whitney 1947 recurrence).
    table = {(0, b): [1] for b in range(m + 1)}
    for a in range(1, n + 1):
        table[(a, 0)] = [1]
        for b in range(1, m + 1):
            left = table[(a - 1, b)]  # the largest element is an x: it beats all b y's
            right = table[(a, b - 1)]
            size = a * b + 1
            cur = [0] * size
            for u, c in enumerate(left):
                cur[u + b] += c
            for u, c in enumerate(right):
                cur[u] += c
            table[(a, b)] = cur
    return table[(n, m)]


def mann_whitney(x, y):
    """Two-sided Mann-Whitney U test: (U of x, p-value)."""
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        raise ValueError("mann_whitney needs samples on both sides")
    r = ranks(list(x) + list(y))
    u = sum(r[:n]) - n * (n + 1) / 2
    ties = len(set(x) | set(y)) < n + m
    if not ties and n + m <= 60:
        dist = _u_distribution(n, m)
        total = sum(dist)
        ui = int(round(u))
        lower = sum(dist[: ui + 1]) / total
        upper = sum(dist[ui:]) / total
        return u, min(1.0, 2 * min(lower, upper))
    big_n = n + m
    counts = {}
    for v in list(x) + list(y):
        counts[v] = counts.get(v, 0) + 1
    tie_term = sum(t ** 3 - t for t in counts.values()) / (big_n * (big_n - 1))
    var = n * m / 12 * ((big_n + 1) - tie_term)
    if var <= 0:
        return u, 1.0  # every value identical: no evidence of a difference
    z = max(0.0, abs(u - n * m / 2) - 0.5) / math.sqrt(var)
    return u, math.erfc(z / math.sqrt(2))


def relative_change(base, new):
    if base == 0:
        return 0.0 if new == 0 else math.copysign(math.inf, new)
    return (new - base) / abs(base)


# ---- one metric --------------------------------------------------------------

@dataclasses.dataclass
class Verdict:
    """The judgement of one series: base and new figures, the test, the verdict."""
    key: results.Key
    unit: str
    base: Optional[float]
    new: Optional[float]
    change: Optional[float]
    verdict: str
    test: str
    p: Optional[float] = None


def _direction_verdict(change, direction):
    if direction is None:
        return "-"
    better = change < 0 if direction == "lower" else change > 0
    return "improved" if better else "regressed"


def judge(key, bl, nl, icount, min_effect=MIN_EFFECT, derived=False):
    """Verdict for one key from the base and new Series (one per boot).

    A U-tested figure comes back with verdict 'pending' and its raw p-value:
    the decision waits for the correction over all tested figures (decide())."""
    metric, cpus, unit = key.metric, key.cpus, bl[0].unit
    direction = results.direction(metric, unit)
    base = statistics.median(s.central() for s in bl)
    new = statistics.median(s.central() for s in nl)
    change = relative_change(base, new)
    indep = results.machine_independent(metric, unit)
    if metric in ALWAYS_EXACT or (icount and (cpus == 1 or indep)):
        tol = 0 if metric in ALWAYS_EXACT else EXACT_TOLERANCE * max(abs(base), abs(new))
        verdict = "unchanged" if abs(new - base) <= tol else _direction_verdict(change, direction)
        return Verdict(key, unit, base, new, change, verdict, "exact")
    if direction is None:
        return Verdict(key, unit, base, new, change, "-", "info")
    if derived:
        return Verdict(key, unit, base, new, change, "-", "see ns_per_op")
    if not indep:
        if len(bl) >= 2 and len(nl) >= 2:  # boots are the independent repetitions
            x, y, kind = [s.central() for s in bl], [s.central() for s in nl], "boots"
        else:
            x = [v for s in bl for v in s.values]
            y = [v for s in nl for v in s.values]
            kind = "runs"
        if len(x) >= MIN_SAMPLES and len(y) >= MIN_SAMPLES:
            _, p = mann_whitney(x, y)
            return Verdict(key, unit, base, new, change, "pending",
                           f"U({kind}) n={len(x)}/{len(y)}", p)
    if indep and unit == "ratio":
        verdict = "unchanged" if abs(new - base) <= RATIO_TOLERANCE else \
            _direction_verdict(change, direction)
        return Verdict(key, unit, base, new, change, verdict, f"|d|<={RATIO_TOLERANCE}")
    if icount or indep:
        verdict = "unchanged" if abs(change) < min_effect else _direction_verdict(change,
                                                                                  direction)
        return Verdict(key, unit, base, new, change, verdict, f"|d|<{min_effect:.0%}")
    return Verdict(key, unit, base, new, change, "n/a", "1 sample")


def bh_adjust(pvalues):
    """Benjamini-Hochberg adjusted p-values (R's p.adjust(p, "BH")), same order."""
    n = len(pvalues)
    order = sorted(range(n), key=lambda i: pvalues[i])
    out = [1.0] * n
    running = 1.0
    for rank in range(n, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * n / rank)
        out[i] = running
    return out


def decide(verdicts, alpha=ALPHA, min_effect=MIN_EFFECT):
    """Settle the U-tested verdicts: significant after the Benjamini-Hochberg
    correction over every tested figure (hundreds are tested at once, so raw
    p < alpha would flag some by chance in every comparison) and large enough."""
    tested = [v for v in verdicts if v.verdict == "pending"]
    for v, q in zip(tested, bh_adjust([v.p for v in tested])):
        significant = q < alpha and abs(v.change) >= min_effect
        direction = results.direction(v.key.metric, v.unit)
        v.verdict = _direction_verdict(v.change, direction) if significant else "unchanged"
        if significant and v.test.startswith("U(runs)"):
            v.verdict += "?"  # runs of one boot: suspected, see the module comment
        v.test += f" p={v.p:.3f} q={q:.3f}"


# ---- two sides (one or more boots each) ------------------------------------------

class CompareError(Exception):
    pass


def check_comparable(runs):
    first = runs[0]
    for run in runs[1:]:
        for field, label in MUST_MATCH:
            if first.meta.get(field) != run.meta.get(field):
                raise CompareError(
                    f"refusing to compare: {label} differs ({first.name}: "
                    f"{first.meta.get(field)!r}, {run.name}: {run.meta.get(field)!r}); "
                    f"figures from different configurations say nothing about the code")


def side_series(runs, benches):
    """{key: [Series of each boot]}, without the aggregates (_median, ...) of
    metrics whose per-run samples are there, in the order keys first appear."""
    out = {}
    for run in runs:
        series = results.group(r for r in run.rows if r.bench in benches)
        sampled = {k for k, s in series.items() if s.samples}
        for k, s in series.items():
            if results.is_aggregate(k.metric) and \
                    k.with_metric(results.aggregate_base(k.metric)) in sampled:
                continue
            out.setdefault(k, []).append(s)
    return out


def as_list(side):
    return side if isinstance(side, list) else [side]


def compare_runs(base, new, alpha=ALPHA, min_effect=MIN_EFFECT):
    """(verdicts, notes) for two results directories or two lists of them (boots)."""
    base, new = as_list(base), as_list(new)
    check_comparable(base + new)
    bb = set.intersection(*({r.bench for r in run.rows} for run in base))
    nb = set.intersection(*({r.bench for r in run.rows} for run in new))
    notes = []
    if bb - nb:
        notes.append(f"benchmarks only in base (not compared): {','.join(sorted(bb - nb))}")
    if nb - bb:
        notes.append(f"benchmarks only in new (not compared): {','.join(sorted(nb - bb))}")
    seeds = {run.meta.get("seed") for run in base + new}
    if len(seeds) > 1:
        notes.append(f"seeds differ ({', '.join(map(str, sorted(seeds, key=str)))})")
    icount = base[0].icount
    if not icount and (len(base) < 2 or len(new) < 2):
        notes.append("one boot on a side: the U test sees the spread of the runs inside one "
                     "boot, not the (under TCG often larger) spread between boots; give "
                     "several results directories per side for verdicts you can trust")
    common = bb & nb
    bs, ns = side_series(base, common), side_series(new, common)
    out = []
    for key, b in bs.items():
        n = ns.get(key)
        if n is None:
            out.append(Verdict(key, b[0].unit, b[0].central(), None, None, "missing", "-"))
            continue
        # cycles_per_op and mops are the ns_per_op measurement in other units:
        # in timing mode only ns_per_op is judged, so one change counts once.
        derived = not icount and key.metric in DERIVED and \
            key.with_metric("ns_per_op") in bs and key.with_metric("ns_per_op") in ns
        out.append(judge(key, b, n, icount, min_effect, derived))
    for key, n in ns.items():
        if key not in bs:
            out.append(Verdict(key, n[0].unit, None, n[0].central(), None, "new", "-"))
    decide(out, alpha, min_effect)
    return out, notes


def render(verdicts, icount, changes_only=False):
    by_metric = {}
    for v in verdicts:
        by_metric.setdefault(v.key.metric, []).append(v)
    out = []
    for metric, vs in by_metric.items():
        if changes_only:
            vs = [v for v in vs if v.verdict in ("improved", "regressed", "missing",
                                                 "improved?", "regressed?")]
            if not vs:
                continue
        unit = results.display_unit(vs[0].unit, icount)
        direction = results.direction(metric, vs[0].unit)
        sense = {"lower": "lower is better", "higher": "higher is better"}.get(
            direction, "informational, not judged")
        rows = []
        for v in vs:
            change = "-" if v.change is None else (
                "inf" if math.isinf(v.change) else f"{v.change * 100:+.1f}%")
            rows.append([v.key.bench, v.key.case, v.key.cpus, v.key.param or "-",
                         fmt_value(v.base, v.unit), fmt_value(v.new, v.unit), change,
                         v.test, v.verdict.upper() if v.verdict == "regressed" else v.verdict])
        out.append(f"\n{metric} ({unit}; {sense})")
        out.append(format_table(["bench", "case", "cpus", "param", "base", "new", "change",
                                 "test", "verdict"], rows, right=(2, 4, 5, 6)))
    return "\n".join(out)


def load_side(text):
    """'dir', 'dir1 dir2' or a glob ('results/*-smp8-tcg') -> [Run]."""
    paths = []
    for word in text.split():
        found = sorted(glob.glob(word)) or [word]
        paths += [p for p in found if p not in paths]
    if not paths:
        raise CompareError("no results directory given")
    return [results.load_run(p) for p in paths]


def describe(side):
    if len(side) == 1:
        of = side[0].meta.get("baseline_of")
        return f"{side[0].name}{f' = {of}' if of else ''} ({side[0].tag()})"
    return f"{len(side)} boots: {', '.join(r.name for r in side)} ({side[0].tag()})"


def main(argv):
    ap = argparse.ArgumentParser(description="Compare two results directories.")
    ap.add_argument("base", help="results dir(s): 'dir', 'dir1 dir2 ...' or a glob")
    ap.add_argument("new", help="results dir(s), as for base")
    ap.add_argument("--changes", action="store_true", help="list only changed/missing metrics")
    ap.add_argument("--alpha", type=float, default=ALPHA,
                    help="threshold of the corrected p-value (0.05)")
    ap.add_argument("--min-effect", type=float, default=MIN_EFFECT,
                    help="smallest relative change that counts (0.05 = 5%%)")
    opts = ap.parse_args(argv)
    try:
        base, new = load_side(opts.base), load_side(opts.new)
        verdicts, notes = compare_runs(base, new, opts.alpha, opts.min_effect)
    except (results.ResultsError, CompareError) as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    print(f"base: {describe(base)}\nnew:  {describe(new)}")
    mode = "icount: exact comparison of instruction counts" if base[0].icount else \
        f"timing: Mann-Whitney U, Benjamini-Hochberg q < {opts.alpha} and change >= " \
        f"{opts.min_effect:.0%}"
    print(f"rule: {mode}")
    for note in notes:
        print(f"note: {note}")
    print(render(verdicts, base[0].icount, opts.changes))
    tally = {}
    for v in verdicts:
        tally[v.verdict] = tally.get(v.verdict, 0) + 1
    print("\n" + ", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
    bad = [v for v in verdicts if v.verdict in ("regressed", "missing")]
    for v in bad[:MAX_LISTED]:
        bench, case, cpus, param, metric = v.key
        what = "missing in new" if v.verdict == "missing" else \
            f"{fmt_value(v.base, v.unit)} -> {fmt_value(v.new, v.unit)} ({v.change * 100:+.1f}%)"
        print(f"REGRESSION {bench}/{case} cpus={cpus} {param or ''} {metric}: {what}")
    if len(bad) > MAX_LISTED:
        print(f"... and {len(bad) - MAX_LISTED} more (all are in the tables above)")
    suspected = [v for v in verdicts if v.verdict == "regressed?"]
    for v in suspected[:MAX_LISTED]:
        bench, case, cpus, param, metric = v.key
        print(f"SUSPECTED {bench}/{case} cpus={cpus} {param or ''} {metric}: "
              f"{fmt_value(v.base, v.unit)} -> {fmt_value(v.new, v.unit)} "
              f"({v.change * 100:+.1f}%)")
    if suspected:
        print(f"compare: {len(suspected)} suspected regression(s) from one boot per side; "
              f"compare several boots per side to decide")
    if bad:
        print(f"compare: {len(bad)} regression(s)")
        return 1
    print("compare: no regression")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
