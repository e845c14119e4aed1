"""End-to-end tests against the real kernel (build/kernel.elf under QEMU).

Three runs in the perf-check configuration (quick profile, ICOUNT=1, SMP=2,
seed 1): two of the same kernel, one with `test_slow_hit=<cycles>` (a fixed
delay on the per-CPU cache hit path).  Checks: the two unchanged runs give
identical single-CPU figures and compare as unchanged; the slowed run is
flagged as a regression on the pcp hit path.  Each test SKIPs with the
reason while the kernel cannot run the benchmarks yet.
"""
import os
import subprocess
import tempfile

from common import ROOT, PY, Skipped, expect
import results

BENCH = os.path.join(ROOT, "scripts", "bench.py")
COMPARE = os.path.join(ROOT, "scripts", "compare.py")
# RESULTS_KERNEL=<elf> runs these checks against another kernel image.
KERNEL = os.environ.get("RESULTS_KERNEL") or os.path.join(ROOT, "build", "kernel.elf")
PERF = ["--smp", "2", "--mem", "1G", "--accel", "tcg", "--icount", "1", "--profile", "quick",
        "--seed", "1", "--bench", "all", "--no-plot"]
SLOW_HIT_CYCLES = 100

_state = {}


def kernel_ready():
    """Build the kernel if needed; Skipped unless it can run the benchmarks."""
    if "ready" in _state:
        if _state["ready"] is not True:
            raise Skipped(_state["ready"])
        return
    _state["ready"] = why = _probe()
    if why is not True:
        raise Skipped(why)


def _probe():
    if not os.path.exists(os.path.join(ROOT, "scripts", "qemu.py")):
        return "scripts/qemu.py (the boot runner) does not exist yet"
    if not os.environ.get("RESULTS_KERNEL"):
        r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT,
                            "build/kernel.elf"], capture_output=True, text=True, timeout=900)
        if r.returncode != 0 or not os.path.exists(KERNEL):
            last = (r.stderr.strip().splitlines() or ["no message"])[-1]
            return f"build/kernel.elf does not build yet ({last[:120]})"
    with open(KERNEL, "rb") as f:
        image = f.read()
    for needle in (b"@@VERDICT", b"@@BEGIN", b"test_slow_hit"):
        if needle not in image:
            return f"build/kernel.elf has no benchmark support yet (no '{needle.decode()}')"
    return True


def perf_run(tag, *extra):
    """One perf-check-configuration run into a private results root (cached)."""
    if tag in _state:
        return _state[tag]
    kernel_ready()
    if "tmp" not in _state:
        _state["tmp"] = tempfile.mkdtemp(prefix="results-suite-")
    root = os.path.join(_state["tmp"], tag)
    r = subprocess.run([PY, BENCH, "run", "--kernel", KERNEL, "--results-root", root] + PERF +
                       list(extra),
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        if "unknown parameter 'bench'" in failed_log(root):
            _state["ready"] = "the kernel does not read the benchmark keys (bench=...) yet"
            raise Skipped(_state["ready"])
        tail = (r.stderr.strip() or r.stdout.strip()).splitlines()[-3:]
        raise AssertionError(f"run '{tag}' failed (rc {r.returncode}): {' | '.join(tail)}")
    path = os.path.realpath(os.path.join(root, "latest"))
    _state[tag] = path
    return path


def failed_log(root):
    """The serial log of the failed run under root ('' when there is none)."""
    for d in os.listdir(root) if os.path.isdir(root) else []:
        path = os.path.join(root, d, "serial.log")
        if d.endswith("-failed") and os.path.exists(path):
            with open(path, errors="replace") as f:
                return f.read()
    return ""


def test_deterministic_single_cpu():
    a, b = perf_run("a"), perf_run("b")
    ra, rb = results.load_run(a), results.load_run(b)
    cond = ra.meta.get("host_conditions") or {}
    expect(cond.get("sampled") and cond.get("own_cpus") is not None and
           cond.get("host_cores") == os.cpu_count(), f"host conditions of a boot: {cond}")
    expect("QEMU" in (ra.meta["host"].get("qemu_version") or "") and
           os.path.isabs(ra.meta["host"].get("qemu_path") or ""),
           f"the QEMU that ran: {ra.meta['host']}")
    sa = {k: s.values or [s.aggregate] for k, s in results.group(ra.rows).items() if k.cpus == 1}
    sb = {k: s.values or [s.aggregate] for k, s in results.group(rb.rows).items() if k.cpus == 1}
    expect(sa, "no single-CPU figures in the run")
    differ = [k for k in sa if sa[k] != sb.get(k)]
    expect(not differ, f"{len(differ)} single-CPU figure(s) differ between two icount runs, "
                       f"e.g. {differ[:3]}: {[(sa[k], sb.get(k)) for k in differ[:3]]}")
    multi = results.group(ra.rows)
    other = results.group(rb.rows)
    moved = [k for k, s in multi.items() if k.cpus > 1 and k in other
             and (s.values or [s.aggregate]) != (other[k].values or [other[k].aggregate])]
    print(f"# determinism: {len(sa)} single-CPU series identical; {len(moved)} of "
          f"{sum(1 for k in multi if k.cpus > 1)} multi-CPU series differ between the runs")


def test_unchanged_runs_compare_unchanged():
    a, b = perf_run("a"), perf_run("b")
    r = subprocess.run([PY, COMPARE, "--changes", a, b], capture_output=True, text=True)
    expect(r.returncode == 0 and "compare: no regression" in r.stdout,
           f"two runs of the same kernel compared as changed (rc {r.returncode}): "
           f"{[ln for ln in r.stdout.splitlines() if ln.startswith('REGRESSION')][:3]}")


def test_slow_hit_flagged():
    a = perf_run("a")
    slow = perf_run("slow", "--args", f"test_slow_hit={SLOW_HIT_CYCLES}")
    r = subprocess.run([PY, COMPARE, "--changes", a, slow], capture_output=True, text=True)
    flagged = [ln for ln in r.stdout.splitlines() if ln.startswith("REGRESSION")]
    expect(r.returncode == 1, f"test_slow_hit={SLOW_HIT_CYCLES} not flagged (rc {r.returncode})")
    expect(any(ln.startswith("REGRESSION pcp/") for ln in flagged),
           f"no pcp regression among {flagged[:5]}")
    expect(not any(ln.startswith("REGRESSION refcount/") for ln in flagged),
           f"refcount, which never touches the cache hit path, flagged: {flagged[:5]}")


def cleanup():
    """Called by the runner after the tests: removes the runs' private results root."""
    tmp = _state.pop("tmp", None)
    if tmp:
        subprocess.run(["rm", "-rf", tmp])


TESTS = [(name[5:], fn) for name, fn in globals().items()
         if name.startswith("test_") and callable(fn)]
