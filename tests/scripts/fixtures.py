"""Synthetic serial logs in the kernel's output contract (brief + DESIGN.md).

Used by the `results` suite to test extraction, results directories, plots
and comparisons without booting anything.  The numbers are made up but have
the shapes of the real ones (refcount ns/op growing with CPUs for shared
counters, hit rate rising with cache capacity, contiguous latency rising with
order, ...); `slow_hit` adds a fixed cost to the per-CPU cache hit path the
way the kernel's `test_slow_hit=<cycles>` knob does, `noise` sets the
relative run-to-run jitter (0 gives deterministic, icount-like figures).

The framing and CSV escaping are written out here independently of
scripts/extract.py so that the tests check one against the other.
"""
import random
import zlib

import testlib  # tests/harness, on the path of every user (common.py)

RESULTS_HEADER = "bench,case,cpus,param,metric,value,unit"
HIST_HEADER = "bench,case,cpus,param,path,lo,hi,count,unit"


def csv_field(text):
    """Contract escaping: quote a field holding , " or newline; double inner quotes."""
    text = str(text)
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(fields):
    return ",".join(csv_field(f) for f in fields)


def frame(name, header, records, rows=None, crc=None):
    """Lines of one framed block; rows/crc override the true values (for bad blocks)."""
    body = [header] + [csv_line(r) for r in records]
    true_crc = zlib.crc32("".join(line + "\n" for line in body).encode()) & 0xFFFFFFFF
    rows = len(records) if rows is None else rows
    crc = true_crc if crc is None else crc
    return [f"@@BEGIN {name}"] + body + [f"@@END {name} rows={rows} crc32={crc:08x}"]


class Generator:
    def __init__(self, smp=8, runs=5,
                 benches=("refcount", "pcp", "contig", "smp", "stress", "frag"),
                 icount=False, seed=1, noise=0.03, slow_hit=0, profile="full",
                 concurrency=False, concurrent_upto=2, slow_case=None):
        """concurrency: emit the kernel's concurrency rows for every timed
        multi-CPU point (today's kernel does not); points with up to
        concurrent_upto CPUs are concurrent, larger ones not, and under icount
        none.  slow_case=(bench, case, factor) slows one case's timings."""
        self.concurrency, self.concurrent_upto = concurrency, concurrent_upto
        self.slow_case = slow_case
        self.smp, self.runs, self.benches = smp, runs, tuple(benches)
        self.icount, self.profile, self.slow_hit = icount, profile, slow_hit
        self.noise = 0.0 if icount else noise
        self.rng = random.Random(seed)
        self.tsc_ghz = 1.0 if icount else 2.6

    def jitter(self, value, cpus=1):
        # Under icount, multi-CPU figures still vary with vCPU scheduling.
        spread = self.noise if not self.icount else (0.0 if cpus == 1 else 0.01)
        return value * (1.0 + self.rng.uniform(-spread, spread))

    def timing(self, rows, bench, case, cpus, param, ns):
        """Per-run ns/cycles rows plus the aggregates of the contract."""
        if self.slow_case and self.slow_case[:2] == (bench, case):
            ns *= self.slow_case[2]
        samples = []
        for k in range(self.runs):
            v = self.jitter(ns, cpus)
            samples.append(v)
            p = f"{param};run={k}" if param else f"run={k}"
            rows.append((bench, case, cpus, p, "ns_per_op", f"{v:.2f}", "ns"))
            rows.append((bench, case, cpus, p, "cycles_per_op", f"{v * self.tsc_ghz:.2f}",
                         "cycles"))
        s = sorted(samples)
        med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
        rows.append((bench, case, cpus, param, "ns_per_op_median", f"{med:.2f}", "ns"))
        rows.append((bench, case, cpus, param, "ns_per_op_min", f"{s[0]:.2f}", "ns"))
        rows.append((bench, case, cpus, param, "ns_per_op_max", f"{s[-1]:.2f}", "ns"))
        rows.append((bench, case, cpus, param, "mops", f"{cpus * 1000.0 / med:.3f}", "mops"))
        if self.concurrency and cpus >= 2:
            self.concurrency_rows(rows, bench, case, cpus, param, med)

    def concurrency_rows(self, rows, bench, case, cpus, param, ns_per_op):
        """The contract's concurrency figures of one multi-CPU point."""
        loop = ns_per_op * 20000
        together = not self.icount and cpus <= self.concurrent_upto
        unit = "instr" if self.icount else "ns"
        figs = {"overlap_frac": (0.93 if together else 0.0 if self.icount else 0.12, "frac"),
                "concurrency": (0.97 * cpus if together else 1.0 if self.icount else 1.2,
                                "cpus"),
                "desched_frac": (0.01 if together else 0.0 if self.icount else 0.55, "frac"),
                "start_skew_ns": (0.02 * loop if together else (cpus - 1) * loop, unit)}
        for k in range(self.runs):
            p = f"{param};run={k}" if param else f"run={k}"
            for m, (v, u) in figs.items():
                rows.append((bench, case, cpus, p, m, f"{v:.4g}", u))
        for m, (v, u) in figs.items():
            rows.append((bench, case, cpus, param, m + "_median", f"{v:.4g}", u))
        rows.append((bench, case, cpus, param, "concurrent", "1" if together else "0", "bool"))

    def refcount(self):
        rows = []
        base = {"shared": 20.0, "private": 6.0, "packed": 9.0, "cas_shared": 30.0,
                "xadd_shared": 15.0, "xadd_private": 5.0}
        for cpus in testlib.cpu_sweep(self.smp):
            for case, ns in base.items():
                contended = case in ("shared", "cas_shared", "xadd_shared")
                cost = ns * (1 + 0.8 * (cpus - 1)) if contended else ns * (1 + 0.05 * (cpus - 1))
                if case == "packed":
                    cost = ns * (1 + 0.3 * (cpus - 1))
                self.timing(rows, "refcount", case, cpus, "", cost)
                if case == "cas_shared":
                    rows.append(("refcount", case, cpus, "", "cas_retries_per_op",
                                 f"{0.4 * (cpus - 1):.3f}", "ratio"))
        rows.append(("refcount", "last_drop_race", self.smp, "", "frees_exact", "1", "count"))
        rows.append(("refcount", "check", self.smp, "", "invariants_ok", "1", "count"))
        return rows

    def pcp(self):
        rows, hist = [], []
        hit_ns = 12.0 + self.slow_hit / self.tsc_ghz
        miss_ns = 180.0
        for cache in ("on", "off"):
            hit_rate = 0.97 if cache == "on" else 0.0
            for case in ("pairs", "remote", "random"):
                cpus = 1 if case == "pairs" else self.smp
                param = f"cache={cache}"
                ns = hit_rate * hit_ns + (1 - hit_rate) * miss_ns
                if case == "remote":
                    ns *= 1.6
                self.timing(rows, "pcp", case, cpus, param, ns)
                rows.append(("pcp", case, cpus, param, "hit_rate", f"{hit_rate:.4f}", "ratio"))
                for m, v in (("refills", 310), ("drains", 305), ("remote_frees", 0),
                             ("lock_contended", 3)):
                    if cache == "off":
                        v = 0 if m != "lock_contended" else 120
                    rows.append(("pcp", case, cpus, param, m, str(v), "count"))
                rows.append(("pcp", case, cpus, param, "hit_ns_p50",
                             f"{self.jitter(hit_ns, cpus):.1f}", "ns"))
            paths = (("hit", hit_ns, 0.97), ("miss", miss_ns, 0.03)) if cache == "on" \
                else (("global", miss_ns, 1.0),)
            for path, centre, share in paths:
                hist += self.histogram("pcp", "pairs", 1, f"cache={cache}", path, centre, share)
        if self.smp > 1:  # a panel at the largest CPU count, as the kernel's remote case
            hist += self.histogram("pcp", "remote", self.smp, "cache=on", "hit", hit_ns, 0.97)
        # Like the kernel: the batch sweep at 1 and all CPUs, cache on and (for
        # one capacity) off; the plot must keep 1 CPU, cache on.
        for cpus in sorted({1, self.smp}):
            for cap in (32, 128, 512):
                for cache in ("on", "off") if cap == 128 else ("on",):
                    for k in (1, cap // 2, cap, 2 * cap, 4 * cap):
                        param = f"k={k};capacity={cap};batch=16;cache={cache}"
                        rate = 0.0 if cache == "off" else 1.0 if k <= cap else cap / k
                        rate *= 1.0 if cpus == 1 else 0.9
                        rows.append(("pcp", "batch", cpus, param, "hit_rate", f"{rate:.4f}",
                                     "ratio"))
                        self.timing(rows, "pcp", "batch", cpus, param,
                                    rate * hit_ns + (1 - rate) * miss_ns)
                        rows.append(("pcp", "batch", cpus, param, "refills",
                                     str(max(0, k - cap) // 16), "count"))
        rows.append(("pcp", "check", self.smp, "", "invariants_ok", "1", "count"))
        return rows, hist

    def histogram(self, bench, case, cpus, param, path, centre, share, total=100000):
        rows, lo = [], 1.0
        while lo < 100000:
            hi = lo * 2
            mid = (lo + hi) / 2
            weight = 2.718 ** (-((mid - centre) / (centre * 0.5)) ** 2)
            count = int(total * share * weight * (0.5 if mid < centre else 1.0))
            if count:
                rows.append((bench, case, cpus, param, path, f"{lo:g}", f"{hi:g}", count, "ns"))
            lo = hi
        return rows

    def contig(self):
        rows = []
        for case in ("fresh", "fragmented"):
            for order in range(0, 11):
                param = f"order={order}"
                p50 = 80.0 * (1.5 ** order) * (3 if case == "fragmented" else 1)
                rows.append(("contig", case, 1, param, "p50_ns", f"{self.jitter(p50):.0f}", "ns"))
                rows.append(("contig", case, 1, param, "p99_ns",
                             f"{self.jitter(p50 * 4):.0f}", "ns"))
                ok = 1.0 if case == "fresh" or order < 6 else max(0.0, 1.0 - 0.2 * (order - 5))
                rows.append(("contig", case, 1, param, "success_rate", f"{ok:.4f}", "ratio"))
                rows.append(("contig", case, 1, param, "free_blocks_before",
                             str(max(1, 1024 >> order)), "count"))
                rows.append(("contig", case, 1, param, "free_blocks_after",
                             str(max(0, (1024 >> order) - 1)), "count"))
            rows.append(("contig", case, 1, "n=3;align=4", "p50_ns",
                         f"{self.jitter(300):.0f}", "ns"))
            rows.append(("contig", case, 1, "", "frag_index",
                         "0.8100" if case == "fragmented" else "0.0200", "ratio"))
        return rows

    def smp_rows(self):
        rows = [("smp", "bringup", self.smp, "", "cpus_in_madt", self.smp, "count"),
                ("smp", "bringup", self.smp, "", "cpus_online", self.smp, "count")]
        total = 0.0
        for cpu in range(1, self.smp):
            t = self.jitter(2.0e6 + 150e3 * cpu)
            total += t
            rows.append(("smp", "bringup", self.smp, f"cpu={cpu}", "ap_start_ns", f"{t:.0f}", "ns"))
        rows.append(("smp", "bringup", self.smp, "", "bringup_total_ns", f"{total:.0f}", "ns"))
        rows.append(("smp", "bringup", self.smp, "", "barrier_skew_cycles", "850", "cycles"))
        rows.append(("smp", "bringup", self.smp, "", "tsc_skew_cycles", "40", "cycles"))
        return rows

    def stress_rows(self, violations=0):
        return [("stress", "mix", self.smp, "", "ops", "2000000", "count"),
                ("stress", "mix", self.smp, "", "violations", str(violations), "count"),
                ("stress", "mix", self.smp, "", "epochs", "20", "count")]

    def frag_rows(self, cycles=4):
        """Aging rows of both policies: availability decaying over the
        cycles, fast with the policy off, slowly with it on."""
        rows = []
        for policy, decay in (("off", 0.15), ("on", 0.02)):
            for c in range(cycles + 1):
                p = f"policy={policy};cycle={c}"
                ratio = 1.0 if c == 0 else max(0.0, 1.0 - decay * (c + 2))
                ideal = 480 - 2 * c
                rows += [("frag", "aging", self.smp, p, "ideal_huge_blocks", str(ideal), "count"),
                         ("frag", "aging", self.smp, p, "huge_blocks",
                          str(round(ratio * ideal)), "count"),
                         ("frag", "aging", self.smp, p, "huge_avail_ratio", f"{ratio:.4f}",
                          "ratio"),
                         ("frag", "aging", self.smp, p, "huge_alloc_success", f"{ratio:.4f}",
                          "ratio"),
                         ("frag", "aging", self.smp, p, "frag_index_9", f"{1 - ratio:.4f}",
                          "ratio"),
                         ("frag", "aging", self.smp, p, "burst_ns_p50",
                          f"{self.jitter(600):.0f}", "ns")]
        return rows

    def meta(self, cmdline):
        return [("kernel_version", "0.1"), ("commit", "synthetic"),
                ("accel", "tcg"), ("icount", "1" if self.icount else "0"),
                ("cpus", str(self.smp)), ("mem_mib", "1024"), ("cpu_vendor", "GenuineIntel"),
                ("cpu_brand", "QEMU Virtual CPU, synthetic"),
                ("tsc_khz", str(int(self.tsc_ghz * 1e6))), ("tsc_calibration", "pit"),
                ("cmdline", cmdline), ("seed", "1"), ("profile", self.profile)]

    def log(self, violations=0, verdict="pass", crlf=False, cut_after=None, ktap=True):
        """The whole serial log as text; cut_after=N keeps only the first N lines;
        ktap=False leaves out the KTAP block of the self-checks (kernel/report.c)."""
        cmdline = f"bench={','.join(self.benches)} runs={self.runs} profile={self.profile}"
        lines = ["\x1b[2J\x1b[01;01HGRUB loading.", "kernel: synthetic fixture booting"]
        if ktap:
            lines += ["KTAP version 1", "1..6", "ok 1 cmdline", "ok 2 mm_init",
                      "ok 3 smp_bringup", "ok 4 selftests # SKIP none requested"]
        lines.append(f"smp: {self.smp} CPUs online")
        lines += frame("meta.csv", "key,value", self.meta(cmdline))
        hist = []
        for bench in self.benches:
            lines.append(f"# progress: {bench} start")
            if bench == "refcount":
                rows = self.refcount()
            elif bench == "pcp":
                rows, pcp_hist = self.pcp()
                # Histograms of other benchmarks (path "all") travel in the same block.
                hist = self.histogram("refcount", "shared", 1, "", "all", 20.0, 1.0) + pcp_hist
            elif bench == "contig":
                rows = self.contig()
            elif bench == "smp":
                rows = self.smp_rows()
            elif bench == "frag":
                rows = self.frag_rows()
            else:
                rows = self.stress_rows(violations)
            lines += frame("results.csv", RESULTS_HEADER, rows)
            lines.append(f"# progress: {bench} done (1.25 s)")
        if hist:
            lines += frame("hist.csv", HIST_HEADER, hist)
        lines.append(f"@@VERDICT {verdict}")
        if ktap and verdict == "pass":
            lines += ["ok 5 bench", "ok 6 mm_check"]
        elif ktap:
            lines += ["not ok 5 bench # a benchmark's invariant check failed",
                      "ok 6 mm_check # SKIP the allocator is left as the failing check found it"]
        if cut_after is not None:
            lines = lines[:cut_after]
        end = "\r\n" if crlf else "\n"
        return "".join(line + end for line in lines)
