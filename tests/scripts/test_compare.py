"""Tests of scripts/compare.py: the statistics on known data, exact mode for
icount runs, the timing rule on synthetic runs, refusals."""
import json
import math
import os
import shutil
import statistics
import subprocess
import tempfile

from common import ROOT, PY, expect, fixtures
import compare
import results
from test_bench import bench_from_log

COMPARE = os.path.join(ROOT, "scripts", "compare.py")


def close(a, b, tol=1e-4):
    return abs(a - b) <= tol


def test_mann_whitney_exact():
    # Hollander & Wolfe (1973) p. 69, the example of R's wilcox.test:
    # W = 35, one-sided p = 0.1272, so two-sided 0.2544 (exact, no ties).
    x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    y = [1.15, 0.88, 0.90, 0.74, 1.21]
    u, p = compare.mann_whitney(x, y)
    expect(u == 35 and close(p, 0.2544, 5e-4), f"U={u} p={p}")
    u, p = compare.mann_whitney(y, x)
    expect(u == 15 and close(p, 0.2544, 5e-4), f"swapped: U={u} p={p}")
    # Complete separation of 5 vs 5: U = 0, p = 2 / C(10,5) = 2/252.
    u, p = compare.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    expect(u == 0 and close(p, 2 / 252, 1e-12), f"separated: U={u} p={p}")
    # 3 vs 3 can never reach p < 0.05 (minimum 0.1): why MIN_SAMPLES is 4.
    _, p = compare.mann_whitney([1, 2, 3], [4, 5, 6])
    expect(close(p, 0.1, 1e-12), f"3 vs 3: p={p}")


def test_mann_whitney_ties():
    # Normal approximation with tie and continuity correction, by hand:
    # U = 1.5, var = 25/12 * (11 - 18/90) = 22.5, z = (11 - 0.5)/sqrt(22.5).
    u, p = compare.mann_whitney([1, 2, 2, 3, 4], [3, 5, 6, 6, 7])
    want = math.erfc((11 - 0.5) / math.sqrt(22.5) / math.sqrt(2))
    expect(u == 1.5 and close(p, want, 1e-12) and close(p, 0.02686, 1e-4), f"U={u} p={p}")
    u, p = compare.mann_whitney([7.0] * 5, [7.0] * 5)
    expect(p == 1.0, f"identical samples: p={p}")


def test_ranks():
    expect(compare.ranks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1], f"{compare.ranks([10, 20, 20, 5])}")


def series(metric, unit, values, cpus=1):
    key = results.Key("refcount", "shared", cpus, "", metric)
    s = results.Series(key, unit)
    if len(values) == 1:
        s.aggregate = values[0]
    else:
        s.samples = list(enumerate(values))
    return key, [s]


def judged(key, b, n, icount):
    v = compare.judge(key, b, n, icount)
    compare.decide([v])
    return v


def test_bh_adjust():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02
    got = compare.bh_adjust([0.01, 0.04, 0.03, 0.005])
    expect(all(close(a, b, 1e-12) for a, b in zip(got, [0.02, 0.04, 0.04, 0.02])), f"{got}")
    expect(compare.bh_adjust([]) == [], "empty list")


def test_judge_exact_icount():
    key, b = series("ns_per_op", "ns", [100.0])
    _, same = series("ns_per_op", "ns", [100.0])
    _, slower = series("ns_per_op", "ns", [101.0])
    _, faster = series("ns_per_op", "ns", [99.0])
    _, rounding = series("ns_per_op", "ns", [100.05])
    expect(judged(key, b, same, icount=True).verdict == "unchanged", "same")
    expect(judged(key, b, slower, icount=True).verdict == "regressed", "+1% not caught")
    expect(judged(key, b, faster, icount=True).verdict == "improved", "-1%")
    expect(judged(key, b, rounding, icount=True).verdict == "unchanged", "0.05% rounding")
    key, hb = series("hit_rate", "ratio", [0.90])
    _, hn = series("hit_rate", "ratio", [0.95])
    v = judged(key, hb, hn, icount=True)
    expect(v.verdict == "improved" and v.test == "exact", f"hit rate up: {v.verdict}")


def test_judge_timing():
    key, b = series("ns_per_op", "ns", [100, 101, 99, 100.5, 99.5])
    _, noisy = series("ns_per_op", "ns", [102, 98, 101, 99, 100])
    _, slow = series("ns_per_op", "ns", [110, 111, 109, 110.5, 109.5])
    _, tiny = series("ns_per_op", "ns", [102, 103, 101, 102.5, 101.5])  # significant, < 5 %
    expect(judged(key, b, noisy, icount=False).verdict == "unchanged", "noise flagged")
    v = judged(key, b, slow, icount=False)
    expect(v.verdict == "regressed?" and v.test.startswith("U(runs) n=5/5 p=0.008"),
           f"{v.verdict} {v.test}")
    expect(judged(key, b, tiny, icount=False).verdict == "unchanged", "2% flagged")
    key, mb = series("mops", "mops", [10, 10.1, 9.9, 10.05, 9.95])
    _, mn = series("mops", "mops", [12, 12.1, 11.9, 12.05, 11.95])
    expect(judged(key, mb, mn, icount=False).verdict == "improved?", "mops up")
    key, one = series("p99_ns", "ns", [500.0])
    _, one_new = series("p99_ns", "ns", [900.0])
    expect(judged(key, one, one_new, icount=False).verdict == "n/a", "single sample")
    key, v0 = series("violations", "count", [0.0])
    _, v1 = series("violations", "count", [1.0])
    expect(judged(key, v0, v1, icount=False).verdict == "regressed", "violations")


def test_counts_of_interleaved_cpus_judged_with_their_case():
    # At 1 CPU a refill count is a property of the code: +12 % is a change.
    key, b = series("refills", "count", [1000.0])
    _, n = series("refills", "count", [1120.0])
    expect(judged(key, b, n, icount=False).verdict == "regressed", "1-CPU count")
    # At 2 CPUs in timing mode it depends on how the CPUs interleaved (the
    # bounded waits around each measured window): alone it decides nothing,
    # with several boots it waits for its case.
    key, b = series("refills", "count", [1000.0], cpus=2)
    _, n = series("refills", "count", [1120.0], cpus=2)
    expect(judged(key, b, n, icount=False).verdict == "n/a", "2-CPU count, one boot")
    boots = [series("refills", "count", [1000.0 + 10 * i], cpus=2)[1][0] for i in range(3)]
    v = compare.judge(key, boots, boots, icount=False)
    expect(v.verdict == "pending-case", f"2-CPU count, 3 boots: {v.verdict}")
    # Under icount it is exact again.
    expect(judged(key, b, n, icount=True).verdict == "regressed", "icount count")


def test_multiple_comparisons():
    """Ten figures with p = 0.008 each pass BH; one such figure among 300
    unchanged ones does not (q = 0.008 * 300 > 0.05)."""
    key, b = series("ns_per_op", "ns", [100, 101, 99, 100.5, 99.5])
    _, slow = series("ns_per_op", "ns", [110, 111, 109, 110.5, 109.5])
    _, same = series("ns_per_op", "ns", [100, 101, 99, 100.5, 99.5])
    many = [compare.judge(key, b, slow, False) for _ in range(10)]
    compare.decide(many)
    expect(all(v.verdict == "regressed?" for v in many), f"{[v.test for v in many][:2]}")
    lone = [compare.judge(key, b, slow, False)] + \
        [compare.judge(key, b, same, False) for _ in range(299)]
    compare.decide(lone)
    expect(lone[0].verdict == "unchanged", f"one p=0.008 among 300 flagged: {lone[0].test}")


def test_boots_are_the_samples():
    """With several boots per side the per-boot figures are the samples: a
    shift between boots that the runs inside each boot hide is not a change."""
    key = results.Key("refcount", "shared", 2, "", "ns_per_op")

    def boot(centre):
        s = results.Series(key, "ns")
        s.samples = [(k, centre + 0.1 * k) for k in range(5)]
        return s
    base = [boot(100), boot(120), boot(90), boot(110), boot(105)]
    new = [boot(112), boot(95), boot(118), boot(101), boot(108)]
    v = compare.judge(key, base, new, False)
    compare.decide_cases([v])
    expect(v.verdict == "unchanged" and v.test.startswith("case Welch t n=5"), f"{v.test}")
    pooled = compare.judge(key, [base[0]], [new[0]], False)  # one boot each: 100 vs 112
    compare.decide([pooled])
    expect(pooled.verdict == "regressed?",
           "runs of one boot: the shift looks significant, so it is only suspected")


def make_runs(d, *gens, smp=8, icount=False):
    paths = []
    for i, g in enumerate(gens):
        sub = os.path.join(d, f"r{i}")
        os.makedirs(sub)
        opts = ["--smp", str(smp), "--no-plot"] + (["--icount", "1"] if icount else [])
        rc, _, err, dirs = bench_from_log(sub, g.log(), *opts)
        expect(rc == 0, f"synthetic run {i}: {err}")
        paths.append(dirs[0])
    return paths


def run_compare(*args):
    r = subprocess.run([PY, COMPARE] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def test_timing_unchanged_and_regressed():
    with tempfile.TemporaryDirectory() as d:
        # 8 runs: with 5, the smallest two-sided p (0.008) cannot survive the
        # correction over the ~30 tested figures when only 3 of them change.
        a, b, slow = make_runs(d, fixtures.Generator(seed=1, runs=8),
                               fixtures.Generator(seed=2, runs=8),
                               fixtures.Generator(seed=3, runs=8, slow_hit=30))
        rc, out, err = run_compare(a, b)
        expect("note: fewer than 3 boots on a side" in out, "no warning about one boot per side")
        expect(rc == 0 and "compare: no regression" in out, f"unchanged: rc {rc} {err}")
        expect("ns_per_op (ns; lower is better)" in out and "hit_rate (ratio; higher is better)"
               in out, "tables or directions missing")
        rc, out, err = run_compare(a, slow)
        # One boot per side cannot tell a change from boot-to-boot spread: the
        # slowdown is shown as suspected, and the exit status stays 0.
        expect(rc == 0, f"one boot per side failed the comparison: rc {rc}")
        flagged = [ln for ln in out.splitlines() if ln.startswith("SUSPECTED")]
        expect(flagged and all("pcp/" in ln and "cache=on" in ln for ln in flagged),
               f"suspected: {flagged}")
        expect(not any(ln.startswith("REGRESSION") for ln in out.splitlines()),
               "a one-boot suspicion reported as a regression")


def test_icount_exact_end_to_end():
    with tempfile.TemporaryDirectory() as d:
        a, b, slow = make_runs(d, fixtures.Generator(smp=2, icount=True, seed=1),
                               fixtures.Generator(smp=2, icount=True, seed=2),
                               fixtures.Generator(smp=2, icount=True, seed=3, slow_hit=3),
                               smp=2, icount=True)
        rc, out, _ = run_compare(a, b)
        expect(rc == 0 and "exact comparison" in out, f"unchanged icount: rc {rc}")
        expect("ns_per_op (instr; lower is better)" in out, "icount unit not instructions")
        rc, out, _ = run_compare("--changes", a, slow)
        expect(rc == 1 and "REGRESSION pcp/pairs cpus=1 cache=on ns_per_op" in out,
               f"3-instruction slowdown not flagged: {out[-600:]}")


def test_several_boots_per_side():
    with tempfile.TemporaryDirectory() as d:
        gens = [fixtures.Generator(seed=s) for s in range(1, 6)] + \
            [fixtures.Generator(seed=s, slow_hit=30) for s in range(6, 11)] + \
            [fixtures.Generator(seed=s) for s in range(11, 16)]
        dirs = make_runs(d, *gens)
        base, slow, same = dirs[:5], dirs[5:10], dirs[10:]
        rc, out, _ = run_compare(" ".join(base), " ".join(same))
        expect(rc == 0 and "base: 5 boots" in out and "case Welch t n=5" in out,
               f"5 vs 5 unchanged boots: rc {rc}")
        expect("fewer than 3 boots" not in out, "warned about one boot with five")
        rc, out, _ = run_compare(" ".join(base), " ".join(slow))
        flagged = [ln for ln in out.splitlines() if ln.startswith("REGRESSION")]
        expect(rc == 1 and flagged and all("pcp/" in ln for ln in flagged),
               f"slow boots: rc {rc}, {flagged[:3]}")
        expect("REGRESSION case pcp/pairs" in out, f"case line: {flagged[:3]}")
        # A glob names the boots too.
        rc, out, _ = run_compare(os.path.join(d, "r[0-4]", "results", "2*"), " ".join(same))
        expect(rc == 0 and "base: 5 boots" in out, f"glob side: rc {rc} {out[:300]}")


def test_t_distribution():
    # Student's t quantiles (two-sided): t(0.975, 4) = 2.776, t(0.995, 4) = 4.604,
    # t(0.975, 1) = 12.706, t(0.975, 30) = 2.042.
    for t, df, p in ((2.7764, 4, 0.05), (4.6041, 4, 0.01), (12.7062, 1, 0.05),
                     (2.0423, 30, 0.05), (0.0, 7, 1.0)):
        got = compare.t_two_sided(t, df)
        expect(close(got, p, 2e-5), f"t={t} df={df}: p={got}, expected {p}")
    expect(close(compare.t_quantile(0.05, 4), 2.7764, 1e-3), "t quantile")
    # A paired t test by hand: d = 1,2,3,4,5: mean 3, sd 1.5811, t = 4.2426, df 4.
    mean, p, _, _ = compare.t_test_paired([1, 2, 3, 4, 5])
    expect(mean == 3 and close(p, 0.01324, 1e-4), f"paired: {mean} {p}")
    # Welch with equal variances and sizes has df = 2(n-1): 1,2,3 vs 4,5,6 gives
    # t = 3/sqrt(2/3) = 3.6742 at df 4, whose closed form (Student, nu = 4) is
    # p = 1 - 2 * (3/8) u (1 - t^2 / (12 (1 + t^2/4))), u = t / sqrt(1 + t^2/4).
    diff, p, _, _ = compare.t_test_welch([1, 2, 3], [4, 5, 6])
    t = 3 / math.sqrt(2 / 3)
    u = t / math.sqrt(1 + t * t / 4)
    want = 1 - 2 * (3 / 8) * u * (1 - t * t / (12 * (1 + t * t / 4)))
    expect(diff == 3 and close(p, want, 1e-9) and close(p, 0.02131, 1e-4), f"welch: {diff} {p}")


def paired_boots(n, noise, slow=None, seed=7, own=0.03):
    """Verdicts of a synthetic paired comparison: 4 cases x 4 figures, each
    boot pair sharing a host factor (lognormal, sigma = noise) and each figure
    of each boot its own (sigma = own); slow=(case, factor) slows one case in new."""
    import random
    rng = random.Random(seed)
    verdicts = []
    boots = {}
    for i in range(n):
        host = rng.lognormvariate(0, noise)  # what both boots of a pair share
        for case in ("a", "b", "c", "d"):
            for f in range(4):
                key = results.Key("refcount", case, 1 + f, "", "ns_per_op")
                base = 100 * host * rng.lognormvariate(0, own)
                new = 100 * host * rng.lognormvariate(0, own)
                if slow and slow[0] == case:
                    new *= slow[1]
                boots.setdefault(key, ([], []))
                boots[key][0].append(base)
                boots[key][1].append(new)
    for key, (b, nw) in boots.items():
        change = compare.relative_change(statistics.median(b), statistics.median(nw))
        verdicts.append(compare.Verdict(key, "ns", statistics.median(b), statistics.median(nw),
                                        change, "pending-case", "case", None, (b, nw)))
    return verdicts


def test_case_rule_paired():
    """Pairs share the host's noise: a +10 % slowdown of one case is found at 5
    boots per side with 20 % pair-shared noise, the other cases stay unchanged;
    an unchanged comparison flags nothing; unpaired (Welch) sees the shared
    noise as spread and does not find it."""
    vs = paired_boots(5, 0.20, slow=("b", 1.10))
    cases = compare.decide_cases(vs, paired=True)
    got = {c.case: c.verdict for c in cases}
    expect(got == {"a": "unchanged", "b": "regressed", "c": "unchanged", "d": "unchanged"},
           f"paired: {got} {[(c.case, c.p) for c in cases]}")
    expect(all(v.verdict == "regressed" for v in vs if v.key.case == "b"), "figures of b")
    expect(all(v.verdict == "unchanged" for v in vs if v.key.case != "b"), "figures of others")
    unchanged = compare.decide_cases(paired_boots(5, 0.20), paired=True)
    expect(all(c.verdict == "unchanged" for c in unchanged), f"{unchanged}")
    welch = compare.decide_cases(paired_boots(5, 0.20, slow=("b", 1.10)), paired=False)
    expect(all(c.verdict == "unchanged" for c in welch),
           "unpaired found it although the shared noise is as large as the change")


def test_case_rule_leaves_out_host_slowed():
    """A figure the kernel marked host_slowed is off by the host's 1.6-1.9x:
    two such figures (one on each side) must not hide a +10 % slowdown of
    their case, nor make an unchanged case regress; a pair left with no
    full-speed figure of the case drops out, and a case left with fewer than
    3 pairs is not judged."""
    def slow_down(vs, case, side, boots, factor=1.8):
        """The host slows case's 1-CPU figure in those boots of one side."""
        sets = [set() for _ in range(5)]
        for v in vs:
            if v.key.case == case and v.key.cpus == 1:
                for i in boots:
                    v.boots[side][i] *= factor
                    sets[i].add(v.key.point)
        return sets

    def slowed_case(case, slow=None):
        vs = paired_boots(5, 0.20, slow=slow)
        return vs, (slow_down(vs, case, 0, [1]), slow_down(vs, case, 1, [3]))

    vs, _ = slowed_case("b", slow=("b", 1.10))
    got = {c.case: c.verdict for c in compare.decide_cases(vs, paired=True)}
    expect(got["b"] == "unchanged", f"the check itself: the slowed figures hide it {got}")
    vs, slowed = slowed_case("b", slow=("b", 1.10))
    cases = compare.decide_cases(vs, paired=True, slowed=slowed)
    got = {c.case: (c.verdict, c.boots) for c in cases}
    expect(got["b"] == ("regressed", 5) and
           all(v == "unchanged" for c, (v, _) in got.items() if c != "b"),
           f"slowed figures left out: {got}")
    vs, slowed = slowed_case("a")
    cases = compare.decide_cases(vs, paired=True, slowed=slowed)
    expect(all(c.verdict == "unchanged" for c in cases), f"unchanged: {cases}")
    # a case with one figure, slowed in three of five pairs: 2 pairs remain
    vs = [v for v in paired_boots(5, 0.20) if v.key.cpus == 1]
    slowed = ([set()] * 5, slow_down(vs, "c", 1, [0, 1, 2]))
    cases = compare.decide_cases(vs, paired=True, slowed=slowed)
    expect("c" not in {c.case for c in cases} and
           all(v.verdict == "n/a" and "2 of 5 pairs" in v.test for v in vs if v.key.case == "c"),
           f"too few pairs judged: {[(v.key.case, v.verdict, v.test) for v in vs]}")


def test_central_is_the_kernels_median():
    """A per-run series' figure is the kernel's <metric>_median (the median of
    the runs it counted, without those the host slowed), not the median of
    every run: plots, reports and compare show the figure results.csv has."""
    rows = [results.Row("pcp", "pairs", 1, f"run={i}", "ns_per_op", v, "ns")
            for i, v in enumerate([100, 101, 180, 185, 190])]
    rows.append(results.Row("pcp", "pairs", 1, "", "ns_per_op_median", 100.5, "ns"))
    s = results.group(rows)[results.Key("pcp", "pairs", 1, "", "ns_per_op")]
    expect(s.central() == 100.5 and s.values[2] == 180, f"central {s.central()}")
    alone = results.group(rows[:5])[results.Key("pcp", "pairs", 1, "", "ns_per_op")]
    expect(alone.central() == 180, f"without the kernel's median: {alone.central()}")


def test_ab_order_and_refusals():
    """make ab boots the pairs A B, B A, A B and compares them paired; bad
    variables are refused before anything is built."""
    import ab
    booted, calls = [], {}
    saved = ab.kernel_of, ab.boot, compare.main
    ab.kernel_of = lambda sha: f"/elf/{sha[:7]}"
    ab.boot = lambda elf, sha, side, outdir, opts, extra: \
        booted.append((side, extra)) or f"/runs/{side}{len(booted)}"
    compare.main = lambda argv: calls.setdefault("argv", argv) and 0
    try:
        rc = ab.main(["--base", "HEAD", "--new", "HEAD", "--boots", "3",
                      "--new-args", "test_slow_hit=5", "--smp", "2"])
    finally:
        ab.kernel_of, ab.boot, compare.main = saved
    expect(rc == 0, f"rc {rc}")
    expect([s for s, _ in booted] == ["base", "new", "new", "base", "base", "new"],
           f"order {booted}")
    expect(all((e == "test_slow_hit=5") == (s == "new") for s, e in booted), "NEW_ARGS side")
    argv = calls["argv"]
    expect(argv[0] == "--paired" and argv[-2] == "/runs/base1 /runs/base4 /runs/base5" and
           argv[-1] == "/runs/new2 /runs/new3 /runs/new6", f"pairs {argv}")
    for args, words in ((["--boots", "2"], "at least 3"), (["--boots", "x"], "BOOTS='x'"),
                        (["--new", "no-such-commit"], "not a commit"),
                        (["--smp", "0"], "SMP"), (["--new-args", "bench=pcp"], "BENCH")):
        full = {"--base": "HEAD", "--new": "HEAD", "--boots": "3"}
        full.update(dict(zip(args[::2], args[1::2])))
        r = subprocess.run([PY, os.path.join(ROOT, "scripts", "ab.py")] +
                           [x for kv in full.items() for x in kv], capture_output=True,
                           text=True, timeout=60)
        expect(r.returncode == 2 and words in r.stderr and "bad configuration" in r.stderr,
               f"{args}: rc {r.returncode} {r.stderr.strip()}")
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, "ab", "BASE=HEAD"],
                       capture_output=True, text=True, timeout=60)
    expect(r.returncode != 0 and "give both BASE" in r.stderr, f"make ab: {r.stderr}")


def edit_meta(path, **changes):
    with open(os.path.join(path, "meta.json")) as f:
        meta = json.load(f)
    meta.update(changes)
    with open(os.path.join(path, "meta.json"), "w") as f:
        json.dump(meta, f)


def test_refusals():
    with tempfile.TemporaryDirectory() as d:
        a, b = make_runs(d, fixtures.Generator(seed=1), fixtures.Generator(seed=2))
        for field, value, label in (("smp", 4, "SMP differs"), ("icount", 1, "icount differs"),
                                    ("accel", "kvm", "accelerator differs")):
            other = os.path.join(d, f"other-{field}")
            shutil.copytree(b, other)
            edit_meta(other, **{field: value})
            rc, _, err = run_compare(a, other)
            expect(rc == 2 and "refusing to compare" in err and label in err,
                   f"{field}: rc {rc} {err}")
        other = os.path.join(d, "other-qemu")
        shutil.copytree(b, other)
        meta = json.load(open(os.path.join(other, "meta.json")))
        meta["host"]["qemu_version"] = "QEMU emulator version 8.2.0"
        edit_meta(other, host=meta["host"])
        rc, _, err = run_compare(a, other)
        expect(rc == 2 and "QEMU version differs" in err and "--force" in err, f"qemu: {err}")
        rc, out, _ = run_compare("--force", a, other)
        expect(rc == 0 and "note: QEMU version differs" in out, f"--force: rc {rc} {out[:400]}")
        other = os.path.join(d, "other-cores")
        shutil.copytree(b, other)
        edit_meta(other, host_conditions={"host_cores": 64, "sampled": True})
        rc, _, err = run_compare(a, other)
        expect(rc == 2 and "host core count differs" in err, f"cores: {err}")
        failed = os.path.join(d, "failed")
        shutil.copytree(b, failed)
        edit_meta(failed, verdict="timeout", reason="the kernel run ended with verdict 'timeout'")
        rc, _, err = run_compare(a, failed)
        expect(rc == 2 and "the run failed" in err, f"failed run compared: rc {rc} {err}")


def test_missing_metric():
    with tempfile.TemporaryDirectory() as d:
        a, b = make_runs(d, fixtures.Generator(seed=1), fixtures.Generator(seed=1))
        path = os.path.join(b, "results.csv")
        lines = open(path).read().splitlines(True)
        open(path, "w").writelines(ln for ln in lines if ",frag_index," not in ln)
        rc, out, _ = run_compare("--changes", a, b)
        expect(rc == 1 and "REGRESSION contig/fresh cpus=1  frag_index: missing in new" in out,
               f"missing metric: rc {rc} {out[-400:]}")


TESTS = [(name[5:], fn) for name, fn in globals().items()
         if name.startswith("test_") and callable(fn)]
