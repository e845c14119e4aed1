"""Tests of scripts/bench.py and plot.py on synthetic serial logs (no QEMU):
results directories, failed runs, plots, Make-variable validation."""
import json
import os
import re
import subprocess
import tempfile

from common import ROOT, PY, expect, fixtures
import hostfacts

BENCH = os.path.join(ROOT, "scripts", "bench.py")
PLOT = os.path.join(ROOT, "scripts", "plot.py")
PLOTS = ("latency_cdf", "hitrate_vs_k", "refcount", "contig", "bringup", "frag")


def bench_from_log(root, text, *opts, verdict="pass", status=33, host=None):
    """Run `bench.py run --from-log`; (returncode, stdout, stderr, run dirs).
    host: the host conditions to record (a hostfacts.conditions dict)."""
    log = os.path.join(root, "in.log")
    with open(log, "w") as f:
        f.write(text)
    res_root = os.path.join(root, "results")
    cmd = [PY, BENCH, "run", "--from-log", log, "--status", str(status),
           "--qemu-verdict", verdict, "--results-root", res_root, "--accel", "tcg"] + list(opts)
    if host is not None:
        with open(os.path.join(root, "host.json"), "w") as f:
            json.dump(host, f)
        cmd += ["--host-conditions", os.path.join(root, "host.json")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dirs = sorted(d for d in os.listdir(res_root) if d != "latest") \
        if os.path.isdir(res_root) else []
    return r.returncode, r.stdout, r.stderr, [os.path.join(res_root, d) for d in dirs]


def meta_of(path):
    with open(os.path.join(path, "meta.json")) as f:
        return json.load(f)


def test_good_run():
    with tempfile.TemporaryDirectory() as d:
        rc, out, err, dirs = bench_from_log(d, fixtures.Generator(smp=8).log(), "--smp", "8")
        expect(rc == 0, f"rc {rc}: {err}")
        expect(len(dirs) == 1, f"dirs {dirs}")
        path = dirs[0]
        name = os.path.basename(path)
        expect(re.fullmatch(r"\d{8}-\d{6}-[\w-]+-smp8-tcg", name), f"name {name}")
        for f in ("serial.log", "results.csv", "hist.csv", "meta.csv", "meta.json"):
            expect(os.path.getsize(os.path.join(path, f)) > 0, f"{f} missing or empty")
        meta = meta_of(path)
        expect(meta["verdict"] == "pass" and meta["smp"] == 8 and meta["icount"] == 0, f"{meta}")
        host = meta["host"]
        expect(host["cpu_model"] and host["cpu_cores"] >= 1, f"host facts {host}")
        expect("QEMU" in (host["qemu_version"] or "") and host["qemu_path"],
               f"qemu version/path {host}")
        expect(meta["make"]["SMP"] == "8" and "bench=" in meta["cmdline"], f"{meta['make']}")
        expect(meta["kernel_meta"].get("tsc_khz"), "kernel meta.csv not carried into meta.json")
        latest = os.path.join(d, "results", "latest")
        expect(os.path.realpath(latest) == os.path.realpath(path), "latest not updated")
        for p in PLOTS:
            with open(os.path.join(path, p + ".png"), "rb") as f:
                expect(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{p}.png is not a PNG")
            svg = open(os.path.join(path, p + ".svg")).read()
            expect("SMP=8" in svg and meta["commit"] in svg and "tcg" in svg,
                   f"{p}.svg title lacks SMP/accelerator/commit")
        expect("refcount: ns/op (median over runs)" in out and "hit_rate" in out,
               f"summary missing: {out[-800:]}")


def check_failed(d, rc, err, dirs, verdict, words):
    expect(rc == 1, f"rc {rc}")
    expect(len(dirs) == 1 and dirs[0].endswith("-failed"), f"dirs {dirs}")
    meta = meta_of(dirs[0])
    expect(meta["verdict"] == verdict, f"verdict {meta['verdict']} ({meta['reason']})")
    expect(words in meta["reason"] and words in err, f"reason '{meta['reason']}' / {err}")
    expect(os.path.getsize(os.path.join(dirs[0], "serial.log")) > 0, "serial.log not kept")
    expect(not any(f.endswith(".png") for f in os.listdir(dirs[0])), "a failed run was plotted")
    expect(not os.path.lexists(os.path.join(d, "results", "latest")),
           "latest points at a failed run")


def test_failed_timeout():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3).log(cut_after=40)
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "2", verdict="timeout", status=124)
        check_failed(d, rc, err, dirs, "timeout", "verdict 'timeout'")


def test_failed_crc():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3).log().replace("refcount,shared,1,run=0",
                                                                 "refcount,shared,1,run=9", 1)
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "2")
        check_failed(d, rc, err, dirs, "bad-data", "CRC32 mismatch")


def test_failed_invariant():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3).log(violations=2)
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "2")
        check_failed(d, rc, err, dirs, "invariant", "2 invariant violations")


def test_failed_kernel_verdict():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3).log(verdict="check-failed")
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "2")
        check_failed(d, rc, err, dirs, "check-failed",
                     "KTAP reports failed self-checks although QEMU exited with success: "
                     "bench: a benchmark's invariant check failed")


def test_failed_without_ktap():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3).log(ktap=False)
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "2")
        check_failed(d, rc, err, dirs, "bad-data", "no 'KTAP version 1' line in the log")


def test_failed_truncated_ktap():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3).log().replace("ok 6 mm_check\n", "")
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "2")
        check_failed(d, rc, err, dirs, "bad-data", "truncated: the plan is 1..6")


def test_failed_cpus_missing():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3).log()
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "4")
        check_failed(d, rc, err, dirs, "invariant", "only 2 of 4 CPUs came online")


def test_failed_missing_bench():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3, benches=("refcount",)).log()
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "2", "--bench", "refcount,pcp")
        check_failed(d, rc, err, dirs, "bad-data", "pcp produced no results rows")
        r = subprocess.run([PY, PLOT, dirs[0]], capture_output=True, text=True)
        expect(r.returncode == 1 and "the run failed" in r.stderr, f"plot: {r.stderr}")


def test_plot_skips_missing_data():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=1, runs=3, benches=("refcount",)).log()
        rc, out, err, dirs = bench_from_log(d, text, "--smp", "1", "--bench", "refcount")
        expect(rc == 0, f"rc {rc}: {err}")
        for p in PLOTS:
            exists = os.path.exists(os.path.join(dirs[0], p + ".png"))
            expect(exists == (p == "refcount"), f"{p}.png exists={exists}")
        expect(out.count("skipped:") == len(PLOTS) - 1, f"skip messages: {out}")


def test_icount_units():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3, icount=True).log()
        rc, out, err, dirs = bench_from_log(d, text, "--smp", "2", "--icount", "1")
        expect(rc == 0, f"rc {rc}: {err}")
        expect(dirs[0].endswith("-smp2-tcg-icount"), f"dir {dirs[0]}")
        expect("times in instr" in out, "summary does not say instructions")
        for p in ("refcount", "contig", "latency_cdf"):
            svg = open(os.path.join(dirs[0], p + ".svg")).read()
            expect("instructions" in svg and "icount" in svg, f"{p}.svg lacks instruction units")


def check(*opts):
    r = subprocess.run([PY, BENCH, "check"] + list(opts), capture_output=True, text=True)
    return r.returncode, r.stderr


def test_validation():
    expect(check() == (0, ""), f"defaults rejected: {check()}")
    expect(check("--bench", "refcount,pcp", "--runs", "7", "--seed", "0")[0] == 0,
           "good values rejected")
    bad = [(("--bench", "bogus"), "unknown benchmark 'bogus'"),
           (("--bench", "pcp,pcp"), "listed twice"),
           (("--bench", "pcp,"), "unknown benchmark ''"),
           (("--runs", "0"), "RUNS='0'"),
           (("--runs", "x"), "RUNS='x'"),
           (("--seed", "-1"), "SEED='-1'"),
           (("--profile", "slow"), "PROFILE='slow'"),
           (("--args", "bench=pcp"), "BENCH Make variable"),
           (("--args", "x='1'"), "is not allowed"),
           (("--timeout", "0"), "TIMEOUT='0'"),
           (("--smp", "0"), "SMP"), (("--smp", "x"), "SMP"),
           (("--mem", "12Q"), "MEM"), (("--accel", "hvf"), "ACCEL"),
           (("--icount", "2"), "ICOUNT")]
    for opts, words in bad:
        rc, err = check(*opts)
        expect(rc == 2 and words in err and "bad configuration" in err,
               f"{' '.join(opts)}: rc {rc}, message '{err.strip()}' lacks '{words}'")


def make(*args):
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT] + list(args),
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def test_make_rejects_before_building():
    # -n would not run the check; instead the check must stop make before the
    # first compiler or linker command is even printed.
    r = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "bench", "BENCH=bogus"],
                       capture_output=True, text=True, timeout=120)
    rc, out, err = r.returncode, r.stdout, r.stderr
    expect(rc != 0 and "unknown benchmark 'bogus'" in err, f"rc {rc}: {err}")
    expect("gcc" not in out + err and "grub-mkrescue" not in out + err,
           f"make bench built something: {out[-300:]}")
    rc, out, err = make("bench", "ARGS=it's")
    expect(rc != 0 and "is not allowed" in err, f"quote in ARGS: rc {rc}: {err}")
    rc, out, err = make("compare", "BASE=x")
    expect(rc != 0 and "give both BASE" in err, f"compare without NEW: rc {rc}: {err}")


def test_make_plot():
    with tempfile.TemporaryDirectory() as d:
        rc, _, err, dirs = bench_from_log(d, fixtures.Generator(smp=2, runs=3).log(),
                                          "--smp", "2", "--no-plot")
        expect(rc == 0 and not os.path.exists(os.path.join(dirs[0], "refcount.png")), err)
        rc, out, err = make("plot", f"RESULTS={os.path.join(d, 'results', 'latest')}")
        expect(rc == 0, f"make plot: rc {rc}: {err}")
        for p in PLOTS:
            expect(os.path.getsize(os.path.join(dirs[0], p + ".svg")) > 1000, f"{p}.svg")


STAT0 = {"user": 1000, "nice": 0, "system": 200, "idle": 5000, "iowait": 0, "irq": 0,
         "softirq": 0, "steal": 0}


def stat_after(busy, idle, steal=0):
    return dict(STAT0, user=STAT0["user"] + busy, idle=STAT0["idle"] + idle,
                steal=STAT0["steal"] + steal)


def test_host_conditions():
    # 10 s on 2 cores at 100 jiffies/s = 2000 jiffies.  Our QEMU used 10 CPU
    # seconds (1 core): 1000 jiffies busy is all ours, 1600 means others used 0.6.
    quiet = hostfacts.conditions(STAT0, stat_after(1000, 1000), 10.0, 10.0, 2, [])
    expect(not quiet["busy"] and quiet["own_cpus"] == 1.0 and quiet["others_cpus"] == 0.0,
           f"quiet host: {quiet}")
    busy = hostfacts.conditions(STAT0, stat_after(1600, 400), 10.0, 10.0, 2, [])
    expect(busy["busy"] and busy["others_cpus"] == 0.6 and "0.60 of the 2" in
           busy["busy_reason"], f"busy host: {busy}")
    stolen = hostfacts.conditions(STAT0, stat_after(1000, 800, steal=200), 10.0, 10.0, 2, [])
    expect(stolen["busy"] and "stole 10%" in stolen["busy_reason"], f"steal: {stolen}")
    other = hostfacts.conditions(STAT0, stat_after(1000, 1000), 10.0, 10.0, 2,
                                 ["qemu-system-x86_64 -smp 4"])
    expect(other["busy"] and "1 other QEMU" in other["busy_reason"], f"other qemu: {other}")
    w = hostfacts.host_warnings(dict(quiet, sampled=True), smp=8, icount=0)
    expect(len(w) == 1 and "SMP=8 exceeds the host's 2 cores" in w[0], f"{w}")
    expect(hostfacts.host_warnings(dict(quiet, sampled=True), smp=8, icount=1) == [],
           "icount runs sequentially anyway: no core warning")
    w = hostfacts.host_warnings(dict(busy, sampled=True), smp=2, icount=0)
    expect(len(w) == 1 and "the host was busy" in w[0], f"{w}")
    expect(hostfacts.parse_proc_stat("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 1 1 1\n")["steal"] == 8,
           "parse_proc_stat")


def test_host_speed_warnings():
    """Slowed runs and points left with too few full-speed runs are warned
    about in timing mode, with their counts; icount runs never are."""
    import results
    import rundir

    def row(case, metric, value, param=""):
        return results.make_row(["refcount", case, "1", param, metric, str(value), "x"])
    rows = [row("shared", "ns_per_op", 90, f"run={k}") for k in range(4)] + \
        [row("shared", "host_slowed_runs", 3), row("shared", "host_slowed", 1)]
    meta = {"icount": 0, "host": {"guest_ram": "preallocated"}}
    w = rundir.host_speed_warnings(meta, rows)
    expect(len(w) == 2 and "3 of 4 timed runs slowed" in w[0] and
           "1 point(s) had fewer than 3 full-speed runs" in w[1] and "refcount/shared cpus=1"
           in w[1], f"{w}")
    expect(rundir.host_speed_warnings(dict(meta, icount=1), rows) == [], "icount: no warning")
    w = rundir.host_speed_warnings({"icount": 0, "host": {"guest_ram": "on demand"}}, rows[:4])
    expect(len(w) == 1 and "touched on demand" in w[0], f"{w}")
    # The kernel's own thresholds (meta.csv) name the rule; sets measured again are said.
    meta = {"icount": 0, "kernel_meta": {"host_slow_ratio": "1.5", "host_min_fast_runs": "4"}}
    w = rundir.host_speed_warnings(meta, rows + [row("shared", "host_set_attempts", 3)])
    expect(len(w) == 3 and "over 1.5x" in w[0] and "measured again (up to 3 times)" in w[1] and
           "fewer than 4 full-speed runs" in w[2], f"{w}")


def test_host_speed_reference():
    """The remembered full speed: the fastest start-of-boot probe of the last
    KEEP boots per key; nothing under icount, and a bad state file is a fresh start."""
    import hostspeed
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "build", "host-speed.json")
        expect(hostspeed.reference("k", path) is None, "no state: no reference")
        for p in (9000, 6200, 8000):
            hostspeed.record("k", p, path)
        hostspeed.record("other", 100, path)
        expect(hostspeed.reference("k", path) == 6200, f"{hostspeed.reference('k', path)}")
        for _ in range(hostspeed.KEEP):
            hostspeed.record("k", 7000, path)
        expect(hostspeed.reference("k", path) == 7000, "old boots age out")
        hostspeed.record("k", 0, path)
        hostspeed.record(None, 5, path)
        expect(hostspeed.reference("k", path) == 7000, "no probe: nothing recorded")
        with open(path, "w") as f:
            f.write("{not json")
        expect(hostspeed.reference("k", path) is None, "unreadable state: no reference")
    cfg = {"icount": 1, "qemu": {"version_text": "QEMU 7.2"}, "accel": "tcg", "cpu": "max"}
    expect(hostspeed.key(cfg) is None, "icount: no key")
    expect(hostspeed.key(dict(cfg, icount=0)).endswith("|QEMU 7.2|tcg|max"), "key")
    expect(hostspeed.boot_probe({"speed_probe_cycles": "6223"}) == 6223 and
           hostspeed.boot_probe({"speed_probe_cycles": "0"}) is None and
           hostspeed.boot_probe({}) is None, "boot_probe")


def host(cores, busy=False):
    return {"sampled": True, "host_cores": cores, "seconds": 10.0, "busy_frac": 0.5,
            "steal_frac": 0.0, "own_cpus": 1.0, "others_cpus": 0.9 if busy else 0.0,
            "other_qemu": [], "busy": busy, "busy_reason": "other processes used 0.90 of "
            "the 2 host cores" if busy else ""}


def test_concurrency_shown():
    """Points the kernel measured as concurrent are filled and 'yes'; the others
    hollow, 'no', with the reason in the summary, meta.json and the plot axis."""
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=8, concurrency=True, concurrent_upto=2).log()
        rc, out, err, dirs = bench_from_log(d, text, "--smp", "8", host=host(16))
        expect(rc == 0, f"rc {rc}: {err}")
        table = out[out.index("refcount: ns/op"):out.index("pcp: per-CPU")]
        row = next(ln for ln in table.splitlines() if ln.startswith("concurrent?"))
        expect(row.split()[1:] == ["-", "yes", "no", "no"], f"concurrency row: {row}")
        expect("WARNING: refcount: 12 of 18 multi-CPU points were not concurrent" in out,
               f"summary warning: {out[-1500:]}")
        meta = meta_of(dirs[0])
        expect(any("not concurrent" in w for w in meta["warnings"]), f"{meta['warnings']}")
        svg = open(os.path.join(dirs[0], "refcount.svg")).read()
        expect("hollow: not all running at once" in svg and "below the kernel" in svg,
               "refcount axis does not say the points were not concurrent")
        expect("running the benchmark concurrently" not in svg, "axis claims concurrency")
        cdf = open(os.path.join(dirs[0], "latency_cdf.svg")).read()
        expect("NOT CONCURRENT" in cdf, "latency panel at 8 CPUs not marked")
    with tempfile.TemporaryDirectory() as d:  # the same log, from a 2-core host
        rc, out, err, dirs = bench_from_log(d, text, "--smp", "8", host=host(2, busy=True))
        expect("WARNING: SMP=8 exceeds the host's 2 cores" in out and
               "WARNING: the host was busy" in out, f"host warnings: {out[-1200:]}")
        expect("e.g. shared at 8 CPUs: 8 vCPUs on 2 host cores" in out, out[-1200:])


def test_concurrency_all_concurrent():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, concurrency=True, concurrent_upto=2,
                                  benches=("refcount",)).log()
        rc, out, err, dirs = bench_from_log(d, text, "--smp", "2", "--bench", "refcount",
                                            host=host(2))
        expect(rc == 0 and "WARNING" not in out, f"rc {rc}: {out[-800:]}")
        svg = open(os.path.join(dirs[0], "refcount.svg")).read()
        expect("CPUs running the benchmark concurrently (measured)" in svg, "axis")


def test_concurrency_not_measured():
    """Today's kernel emits no concurrency rows: never read as concurrent."""
    with tempfile.TemporaryDirectory() as d:
        rc, out, err, dirs = bench_from_log(d, fixtures.Generator(smp=2).log(), "--smp", "2",
                                            host=host(2))
        expect(rc == 0, f"rc {rc}: {err}")
        expect("WARNING: refcount: concurrency not measured for 6 of 6" in out, out[-1200:])
        svg = open(os.path.join(dirs[0], "refcount.svg")).read()
        expect("concurrency not measured" in svg and "concurrently" not in svg, "axis")


def test_concurrency_icount():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, icount=True, concurrency=True).log()
        rc, out, err, dirs = bench_from_log(d, text, "--smp", "2", "--icount", "1",
                                            host=host(2))
        expect(rc == 0 and "icount runs the vCPUs one after another" in out, out[-1200:])
        expect("exceeds" not in out, "icount warned about host cores")


def test_summary_numa():
    """The summary's NUMA tables: the topology from the kernel's meta row and
    which node served pcp's node_local / node_remote refills; nothing on one
    node."""
    import results
    import summary

    class Run:
        def __init__(self, topology):
            self.meta = {"kernel_meta": {"numa_topology": topology}}
            self.icount = False

    def row(case, metric, value):
        serve = "own_node" if case == "node_local" else "nearest_other_node"
        return results.Row("pcp", case, 4, f"k=1024;serve={serve}", metric, value, "count")
    rows = [row(c, m, v) for c, vals in (("node_local", (696, 696, 0, 1.0)),
                                         ("node_remote", (696, 0, 696, 0.0)))
            for m, v in zip(("refills", "local_refills", "remote_refills",
                             "served_node_local_frac"), vals)]
    series = results.group(rows)
    topo = "node0:cpus=0-1:mem_mib=512:dist=10/20;node1:cpus=2-3:mem_mib=512:dist=20/10"
    tables = summary.numa_tables(Run(topo), series, "ns")
    expect(len(tables) == 2, f"{len(tables)} NUMA tables")
    expect(tables[0].rows == [["0", "0-1", "512", "10 20"], ["1", "2-3", "512", "20 10"]],
           f"topology rows {tables[0].rows}")
    expect([r[:6] for r in tables[1].rows] == [["node_local", 4, "696", "696", "0", "1.0000"],
                                               ["node_remote", 4, "696", "0", "696", "0.0000"]],
           f"refill rows {tables[1].rows}")
    expect(summary.numa_tables(Run("node0:cpus=0-3:mem_mib=1024:dist=10"), series, "ns") == [],
           "a table for one node")
    expect(summary.numa_tables(Run(""), series, "ns") == [], "a table without an SRAT")


TESTS = [(name[5:], fn) for name, fn in globals().items()
         if name.startswith("test_") and callable(fn)]
