#!/usr/bin/python3
"""Compare two results directories metric by metric: `make compare BASE=dir NEW=dir`.

    compare.py BASE NEW [--changes] [--paired] [--force] [--html FILE]
                        [--alpha 0.05] [--min-effect 0.05]

BASE and NEW are each one results directory or several boots of the same
configuration ('d1 d2 d3', or a glob such as 'results/*-1a2b3c4-smp8-tcg').
One table per metric name with base, new (the median over boots of each
boot's figure), % change, the test and a verdict (improved, regressed,
unchanged; `-` for informational figures).  The rule depends on the data
(docs/results.md, "make compare", has the reasons and measured rates):

  exact       icount runs: single-CPU figures and all ratios/counts; under
              icount shift=0 the guest TSC counts instructions, so any change
              beyond a rounding tolerance (0.1 %) is real.
  case        timing figures with 3 or more boots per side: one family per
              benchmark case.  Per boot, the mean log ns_per_op over the
              case's points (each the kernel's median of its full-speed
              runs); a t test over the boots (paired when --paired: boot i
              of each side ran next to each other, as make ab boots them;
              Welch otherwise), without the points the kernel marked
              host_slowed in the boots compared; the case changes when
              p < alpha / number of cases and its geometric-mean change >=
              min-effect, and its figures that moved by min-effect the same
              way change with it.
  U test      timing figures with 1-2 boots per side: Mann-Whitney U over the
              pooled runs, Benjamini-Hochberg over every tested figure: a
              change is only suspected ("regressed?"), never a regression,
              because runs inside a boot do not show the spread between boots.
  tolerance   single values that cannot be tested (icount multi-CPU figures;
              ratios and counts of timing runs): changed beyond a fixed
              tolerance (ratios: 0.01 absolute; others: min-effect).
  n/a         a single timing sample: shown, not judged.

cycles_per_op and mops are judged through ns_per_op (the same measurement);
the concurrency figures are informational.  Invariant figures (violations,
frees_exact, cpus_online, invariants_ok) are always exact.  Exit status: 0 no
regression, 1 a regression or a missing figure, 2 the runs cannot be compared
(different SMP, accelerator, icount or profile; different QEMU version or
host core count without --force; failed or unreadable runs).
"""
import argparse
import dataclasses
import glob
import math
import os
import statistics
import sys
from typing import NamedTuple, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from results import fmt_value, format_table  # noqa: E402

ALPHA = 0.05
MIN_EFFECT = 0.05
EXACT_TOLERANCE = 0.001
RATIO_TOLERANCE = 0.01
MAX_LISTED = 40  # REGRESSION lines at the end; the tables hold every one
MIN_SAMPLES = 4  # below this a U test cannot reach p < 0.05 (two-sided, n=m=3: p >= 0.1)
MIN_BOOTS = 3    # boots per side for the case test (a t test needs 2 degrees of freedom)
# The figure that stands for a case in its family test; a case without it is
# represented by all its timed figures.
CASE_FIGURE = "ns_per_op"
DERIVED = ("cycles_per_op", "mops")  # the ns_per_op measurement in other units
ALWAYS_EXACT = {"violations", "frees_exact", "cpus_online", "cpus_in_madt", "invariants_ok"}
# Refuse to compare runs whose configuration differs in these meta.json fields.
MUST_MATCH = (("smp", "SMP"), ("accel", "accelerator"), ("icount", "icount"),
              ("profile", "profile"))
# ... and in these facts of the host (--force compares anyway, saying so):
# the QEMU version alone moves exact icount bring-up figures by 30-50 %, and the
# host's core count decides which multi-CPU points can run at once.
HOST_MUST_MATCH = (("qemu_version", "QEMU version"), ("host_cores", "host core count"),
                   ("guest_ram", "guest RAM backing"))


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


def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def betainc(a, b, x):
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) +
                     a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_two_sided(t, df):
    """Two-sided p-value of Student's t with df degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(p, df):
    """The t beyond which a two-sided test gives p (bisection on t_two_sided)."""
    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_two_sided(mid, df) > p:
            lo = mid
        else:
            hi = mid
    return hi


def t_test_paired(d):
    """One-sample t test of the differences d against 0: (mean, p two-sided,
    standard error, degrees of freedom)."""
    n, mean = len(d), statistics.fmean(d)
    se = statistics.stdev(d) / math.sqrt(n)
    if se == 0:
        return mean, 1.0 if mean == 0 else 0.0, se, n - 1
    return mean, t_two_sided(mean / se, n - 1), se, n - 1


def t_test_welch(a, b):
    """Welch's two-sample t test: (mean(b) - mean(a), p two-sided, standard
    error, Welch-Satterthwaite degrees of freedom)."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    diff = statistics.fmean(b) - statistics.fmean(a)
    if va + vb == 0:
        return diff, 1.0 if diff == 0 else 0.0, 0.0, len(a) + len(b) - 2
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return diff, t_two_sided(diff / math.sqrt(va + vb), df), math.sqrt(va + vb), df


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
    # each boot's figure (median of its runs), base and new, for the case test
    boots: Optional[tuple] = dataclasses.field(default=None, repr=False)


def _direction_verdict(change, direction):
    if direction is None:
        return "-"
    better = change < 0 if direction == "lower" else change > 0
    return "improved" if better else "regressed"


def judge(key, bl, nl, icount, min_effect=MIN_EFFECT, derived=False):
    """Verdict for one key from the base and new Series (one per boot).

    A timing figure with several boots per side comes back 'pending-case':
    its case decides (decide_cases()).  With fewer boots a U-tested figure
    comes back 'pending' with its raw p-value, for decide()."""
    metric, cpus, unit = key.metric, key.cpus, bl[0].unit
    direction = results.direction(metric, unit)
    base = statistics.median(s.central() for s in bl)
    new = statistics.median(s.central() for s in nl)
    change = relative_change(base, new)
    # Counts and ratios do not depend on the machine's speed - except where
    # several CPUs run at once in timing mode: then how often a cache
    # refilled or a lock was taken depends on how the CPUs interleaved, and
    # such a figure is judged like a time, with its case.
    indep = results.machine_independent(metric, unit) and (cpus == 1 or icount)
    if metric in ALWAYS_EXACT or (icount and (cpus == 1 or indep)):
        tol = 0 if metric in ALWAYS_EXACT else EXACT_TOLERANCE * max(abs(base), abs(new))
        verdict = "unchanged" if abs(new - base) <= tol else _direction_verdict(change, direction)
        return Verdict(key, unit, base, new, change, verdict, "exact")
    if direction is None:
        return Verdict(key, unit, base, new, change, "-", "info")
    if derived:
        return Verdict(key, unit, base, new, change, "-", "see ns_per_op")
    if not indep:
        if len(bl) >= MIN_BOOTS and len(nl) >= MIN_BOOTS:  # boots: the repetitions
            return Verdict(key, unit, base, new, change, "pending-case", "case", None,
                           ([s.central() for s in bl], [s.central() for s in nl]))
        x = [v for s in bl for v in s.values]
        y = [v for s in nl for v in s.values]
        if len(x) >= MIN_SAMPLES and len(y) >= MIN_SAMPLES:
            _, p = mann_whitney(x, y)
            return Verdict(key, unit, base, new, change, "pending",
                           f"U(runs) n={len(x)}/{len(y)}", p)
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
    """Settle the U-tested verdicts (runs of one or two boots): significant
    after the Benjamini-Hochberg correction over every tested figure and large
    enough is only suspected ("regressed?"), since runs inside a boot do not
    show the spread between boots."""
    tested = [v for v in verdicts if v.verdict == "pending"]
    for v, q in zip(tested, bh_adjust([v.p for v in tested])):
        significant = q < alpha and abs(v.change) >= min_effect
        direction = results.direction(v.key.metric, v.unit)
        v.verdict = _direction_verdict(v.change, direction) + "?" if significant \
            else "unchanged"
        v.test += f" p={v.p:.3f} q={q:.3f}"


@dataclasses.dataclass
class CaseDecision:
    """The family test of one benchmark case over several boots per side."""
    bench: str
    case: str
    figures: int      # figures in the case statistic
    boots: int        # pairs (paired) or the smaller side (unpaired)
    test: str         # 'paired t' or 'Welch t'
    effect: float     # geometric-mean change of the case figures (0.10 = +10 %)
    p: float
    threshold: float  # alpha over the number of case families (Bonferroni)
    verdict: str      # improved, regressed, unchanged
    detectable: float  # the smallest change these boots could call significant


def _log_boots(values):
    return [math.log(v) for v in values] if all(v > 0 for v in values) else None


def host_slowed_points(runs):
    """Per boot, the set of Points the kernel marked host_slowed: fewer
    full-speed runs than it asks for, so their figures are off by the host's
    slowdown or rest on one or two runs."""
    return [{r.key.point for r in run.rows
             if r.metric == "host_slowed" and r.run is None and r.value}
            for run in runs]


def decide_cases(verdicts, alpha=ALPHA, min_effect=MIN_EFFECT, paired=False, slowed=None):
    """Settle the 'pending-case' verdicts one benchmark case at a time.

    The boots are the repetitions; a case is one family.  Its statistic is, per
    boot, the mean log figure over the case's ns_per_op figures (all its timed
    figures where it has none): a slowdown confined to the case moves every
    one of them, while noise that is not common to them averages out.  Paired
    (interleaved A/B boots, `make ab`): a one-sample t test on the per-pair
    differences, so noise that both boots of a pair share cancels; otherwise
    Welch's t test.  A case changes when p < alpha / (number of cases) - the
    Bonferroni bound keeps the chance that an unchanged comparison flags any
    case at alpha - and its geometric-mean change is at least min_effect.  A
    figure of a changed case is reported changed when its own change is at
    least min_effect in the same direction; every other figure is unchanged.

    slowed: (base, new), per boot the Points the kernel marked host_slowed
    (host_slowed_points).  Such a figure is off by the host's 1.6-1.9x or
    rests on one or two runs, and would swamp a 10 % change: a pair's
    difference leaves out the figures slowed in either of its boots (a pair
    with none left drops out), and the unpaired test the figures slowed in
    any boot (all figures when that leaves none).
    Returns the CaseDecisions."""
    families = {}
    for v in verdicts:
        if v.verdict == "pending-case":
            families.setdefault((v.key.bench, v.key.case), []).append(v)
    threshold = alpha / max(len(families), 1)
    base_slowed, new_slowed = slowed or ([], [])

    def is_slowed(side, i, v):
        return i < len(side) and v.key.point in side[i]

    decisions = []
    for (bench, case), vs in families.items():
        primary = [v for v in vs if v.key.metric == CASE_FIGURE] or vs
        logs = [(v, _log_boots(v.boots[0]), _log_boots(v.boots[1])) for v in primary]
        logs = [(v, b, n) for v, b, n in logs if b is not None and n is not None]
        pairs = paired and len({len(b) for _, b, _ in logs} | {len(n) for _, _, n in logs}) == 1
        if not logs:
            for v in vs:
                v.verdict, v.test = "n/a", "case: a figure <= 0"
            continue
        nb, nn = len(logs[0][1]), len(logs[0][2])
        if pairs:
            d = []
            for i in range(nb):
                kept = [(b[i], n[i]) for v, b, n in logs
                        if not is_slowed(base_slowed, i, v) and not is_slowed(new_slowed, i, v)]
                if kept:
                    d.append(statistics.fmean(y - x for x, y in kept))
            kind, boots = "paired t", len(d)
        else:
            clean = [(v, b, n) for v, b, n in logs
                     if not any(is_slowed(base_slowed, i, v) for i in range(nb)) and
                     not any(is_slowed(new_slowed, i, v) for i in range(nn))] or logs
            a = [statistics.fmean(b[i] for _, b, _ in clean) for i in range(nb)]
            c = [statistics.fmean(n[i] for _, _, n in clean) for i in range(nn)]
            kind, boots = "Welch t", min(nb, nn)
        if boots < MIN_BOOTS:
            for v in vs:
                v.verdict = "n/a"
                v.test = f"case: {boots} of {nb} pairs without host-slowed figures"
            continue
        est, p, se, df = t_test_paired(d) if pairs else t_test_welch(a, c)
        effect = math.expm1(est)
        changed = p < threshold and abs(effect) >= min_effect
        direction = results.direction(primary[0].key.metric, primary[0].unit) or "lower"
        verdict = _direction_verdict(effect, direction) if changed else "unchanged"
        detectable = max(min_effect, math.expm1(t_quantile(threshold, df) * se))
        decisions.append(CaseDecision(bench, case, len(logs), boots, kind, effect, p,
                                      threshold, verdict, detectable))
        for v in vs:
            v.p = p
            v.test = f"case {kind} n={boots} p={p:.2g}"
            own = v.change is not None and abs(v.change) >= min_effect and \
                (v.change > 0) == (est > 0)
            v.verdict = _direction_verdict(v.change, results.direction(v.key.metric, v.unit)) \
                if changed and own else "unchanged"
    return decisions


# ---- two sides (one or more boots each) ------------------------------------------

class CompareError(Exception):
    pass


def host_fact(run, field):
    """A host fact of HOST_MUST_MATCH from meta.json (older runs: host.qemu, cpu_cores)."""
    host, cond = run.meta.get("host") or {}, run.meta.get("host_conditions") or {}
    if field == "qemu_version":
        return host.get("qemu_version") or host.get("qemu")
    if field == "guest_ram":
        return host.get("guest_ram")
    return cond.get("host_cores") or host.get("cpu_cores")


def check_comparable(runs, force=False):
    """Refuse runs of different configurations; different hosts too, unless
    force (then the differences come back as notes, and the verdicts stand
    flagged by them).  icount figures do not depend on the host's cores, so a
    different core count is only a note there."""
    first, notes = runs[0], []
    for run in runs[1:]:
        for field, label in MUST_MATCH:
            if first.meta.get(field) != run.meta.get(field):
                raise CompareError(
                    f"refusing to compare: {label} differs ({first.name}: "
                    f"{first.meta.get(field)!r}, {run.name}: {run.meta.get(field)!r}); "
                    f"figures from different configurations say nothing about the code")
        for field, label in HOST_MUST_MATCH:
            a, b = host_fact(first, field), host_fact(run, field)
            if a == b or (field == "guest_ram" and first.icount):
                continue  # instruction counts do not depend on how RAM is backed
            what = f"{label} differs ({first.name}: {a!r}, {run.name}: {b!r})"
            if force or (field == "host_cores" and first.icount):
                notes.append(f"{what}: every verdict below carries that difference")
            else:
                raise CompareError(f"refusing to compare: {what}; figures from different "
                                   f"hosts or emulators say nothing about the code "
                                   f"(--force compares anyway, flagged)")
    return list(dict.fromkeys(notes))


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


class Comparison(NamedTuple):
    verdicts: list  # one Verdict per series
    notes: list     # lines the reader must see before the tables
    cases: list     # CaseDecision per benchmark case (several boots per side)


def compare_runs(base, new, alpha=ALPHA, min_effect=MIN_EFFECT, paired=False, force=False):
    """A Comparison of two results directories or two lists of them (boots).
    paired: base[i] and new[i] were booted next to each other (make ab)."""
    base, new = as_list(base), as_list(new)
    notes = check_comparable(base + new, force)
    if paired and len(base) != len(new):
        raise CompareError(f"paired comparison needs as many boots per side "
                           f"({len(base)} vs {len(new)})")
    bb = set.intersection(*({r.bench for r in run.rows} for run in base))
    nb = set.intersection(*({r.bench for r in run.rows} for run in new))
    if bb - nb:
        notes.append(f"benchmarks only in base (not compared): {','.join(sorted(bb - nb))}")
    if nb - bb:
        notes.append(f"benchmarks only in new (not compared): {','.join(sorted(nb - bb))}")
    seeds = {run.meta.get("seed") for run in base + new}
    if len(seeds) > 1:
        notes.append(f"seeds differ ({', '.join(map(str, sorted(seeds, key=str)))})")
    icount = base[0].icount
    if not icount and (len(base) < MIN_BOOTS or len(new) < MIN_BOOTS):
        notes.append(f"fewer than {MIN_BOOTS} boots on a side: the U test sees the spread of "
                     f"the runs inside the boots, not the (under TCG often larger) spread "
                     f"between boots, so its changes are only suspected; give {MIN_BOOTS} "
                     f"or more results directories per side (make ab) for verdicts")
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
    cases = decide_cases(out, alpha, min_effect, paired,
                         (host_slowed_points(base), host_slowed_points(new)))
    return Comparison(out, notes, cases)


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


def rule_text(icount, alpha, min_effect, boots):
    if icount:
        return "icount: exact comparison of instruction counts"
    if boots >= MIN_BOOTS:
        return (f"timing: one family per benchmark case (t test over the boots, p < "
                f"{alpha} / number of cases) and a change >= {min_effect:.0%}")
    return (f"timing, fewer than {MIN_BOOTS} boots a side: Mann-Whitney U over the runs, "
            f"Benjamini-Hochberg q < {alpha} and change >= {min_effect:.0%}: suspected only")


def case_table(cases):
    return format_table(CASE_HEADER, [case_row(c) for c in cases], right=(2, 3, 5, 6, 7, 8))


CASE_HEADER = ["bench", "case", "figures", "boots", "test", "change", "detectable", "p",
               "p needed", "verdict"]


def case_row(c):
    return [c.bench, c.case, c.figures, c.boots, c.test, f"{c.effect * 100:+.1f}%",
            f"±{c.detectable * 100:.0f}%", f"{c.p:.2g}", f"{c.threshold:.2g}",
            c.verdict.upper() if c.verdict == "regressed" else c.verdict]


def outcome(comp):
    """(exit status, the closing lines): REGRESSION / SUSPECTED lines and the tally."""
    verdicts, lines = comp.verdicts, []
    tally = {}
    for v in verdicts:
        tally[v.verdict] = tally.get(v.verdict, 0) + 1
    lines.append(", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
    for c in comp.cases:
        if c.verdict == "regressed":
            lines.append(f"REGRESSION case {c.bench}/{c.case}: {c.effect * 100:+.1f}% over "
                         f"{c.figures} figure(s), {c.test} p={c.p:.2g} < {c.threshold:.2g}")
    bad = [v for v in verdicts if v.verdict in ("regressed", "missing")]
    for v in bad[:MAX_LISTED]:
        what = "missing in new" if v.verdict == "missing" else \
            f"{fmt_value(v.base, v.unit)} -> {fmt_value(v.new, v.unit)} ({v.change * 100:+.1f}%)"
        lines.append(f"REGRESSION {v.key.bench}/{v.key.case} cpus={v.key.cpus} "
                     f"{v.key.param or ''} {v.key.metric}: {what}")
    if len(bad) > MAX_LISTED:
        lines.append(f"... and {len(bad) - MAX_LISTED} more (all are in the tables above)")
    suspected = [v for v in verdicts if v.verdict == "regressed?"]
    for v in suspected[:MAX_LISTED]:
        lines.append(f"SUSPECTED {v.key.bench}/{v.key.case} cpus={v.key.cpus} "
                     f"{v.key.param or ''} {v.key.metric}: {fmt_value(v.base, v.unit)} -> "
                     f"{fmt_value(v.new, v.unit)} ({v.change * 100:+.1f}%)")
    if suspected:
        lines.append(f"compare: {len(suspected)} suspected regression(s) from fewer than "
                     f"{MIN_BOOTS} boots per side; compare more boots per side to decide")
    if bad:
        lines.append(f"compare: {len(bad)} regression(s)")
        return 1, lines
    lines.append("compare: no regression")
    return 0, lines


def main(argv):
    ap = argparse.ArgumentParser(description="Compare two results directories.")
    ap.add_argument("base", help="results dir(s): 'dir', 'dir1 dir2 ...' or a glob")
    ap.add_argument("new", help="results dir(s), as for base")
    ap.add_argument("--changes", action="store_true", help="list only changed/missing metrics")
    ap.add_argument("--alpha", type=float, default=ALPHA,
                    help="chance that an unchanged comparison flags anything (0.05)")
    ap.add_argument("--min-effect", type=float, default=MIN_EFFECT,
                    help="smallest relative change that counts (0.05 = 5%%)")
    ap.add_argument("--paired", action="store_true",
                    help="the i-th boots of the two sides ran next to each other (make ab)")
    ap.add_argument("--force", action="store_true",
                    help="compare runs of different QEMU versions or host core counts, flagged")
    ap.add_argument("--html", metavar="FILE", help="also write the comparison as HTML")
    opts = ap.parse_args(argv)
    try:
        base, new = load_side(opts.base), load_side(opts.new)
        comp = compare_runs(base, new, opts.alpha, opts.min_effect, opts.paired, opts.force)
    except (results.ResultsError, CompareError) as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    head = [f"base: {describe(base)}", f"new:  {describe(new)}",
            "rule: " + rule_text(base[0].icount, opts.alpha, opts.min_effect,
                                 min(len(base), len(new))) +
            (" (paired boots)" if opts.paired else "")]
    head += [f"note: {note}" for note in comp.notes]
    print("\n".join(head))
    if comp.cases:
        print("\ncases (the decision; figures of an unchanged case are unchanged)")
        print(case_table(comp.cases))
    print(render(comp.verdicts, base[0].icount, opts.changes))
    status, lines = outcome(comp)
    print("\n" + "\n".join(lines))
    if opts.html:
        import report
        report.write_compare(opts.html, base, new, comp, head, lines, opts.changes)
        print(f"compare: HTML in {opts.html}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
