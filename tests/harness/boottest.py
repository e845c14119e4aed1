"""What the QEMU boot suites (tests/kernel, tests/arch, tests/bench) share: a boot case, the
parallel build-boot-judge loop, and repeated one-at-a-time boots for figures.

A Boot names a command line, a machine (SMP, memory, CPU model, NUMA nodes,
icount, which QEMU: qemu.find_qemu's auto/system/new), the verdict it must
end with and an optional check on its serial log.  A case whose QEMU is not
available here (no QEMU >= 9 and `make deps` could not fetch one) is a SKIP
naming why, not a failure.  run_boots
builds one ISO per distinct command line, boots the cases `parallel` at a
time, then reports each as a test of the suite (its failure message says the
verdict and the last lines of the log).
"""
import argparse
import concurrent.futures
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))
import ktap  # noqa: E402
import qemu  # noqa: E402

# The KTAP verdict (scripts/ktap.py) each exit verdict must come with: the
# kernel reports every step, so only a run that never reached the kernel's
# console or was cut off (a hang) has no complete block.
KTAP_FOR_VERDICT = {"pass": "pass", "check-failed": "fail", "config-error": "fail",
                    "panic": "fail", "timeout": "malformed"}


class Boot:
    def __init__(self, name, smp=1, mem="128M", cmdline="", expect="pass", check=None,
                 timeout=60, cpu="max", icount=0, numa=0, qemu="auto", ktap=None):
        self.name, self.smp, self.mem, self.cmdline = name, smp, mem, cmdline
        self.expect, self.check, self.timeout = expect, check, timeout
        self.cpu, self.icount, self.numa, self.qemu = cpu, icount, numa, qemu
        self.ktap = ktap or KTAP_FOR_VERDICT.get(expect)
        self.result = None
        self.error = None


def parse_args():
    """The suites' command line: --kernel ELF --out DIR (created)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--out", required=True)
    opts = ap.parse_args()
    os.makedirs(opts.out, exist_ok=True)
    return opts


def expect_lines(*patterns):
    """A check: every pattern matches some line of the serial log."""
    def check(boot):
        for p in patterns:
            assert re.search(p, boot.result.log_text, re.M), f"no line matching /{p}/ in the log"
    return check


def iso_path(out, cmdline):
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", cmdline) or "default"
    return os.path.join(out, f"{name}.iso")


def _boot_one(boot, iso, out):
    try:
        boot.result = qemu.run(iso, boot.smp, boot.mem, "tcg", boot.icount, boot.timeout,
                               os.path.join(out, f"{boot.name}.log"), stream=False, cpu=boot.cpu,
                               numa=boot.numa, qemu=boot.qemu)
    except Exception as e:  # reported as this boot's failure
        boot.error = e


def _judge(boot):
    if boot.error:
        raise boot.error
    r = boot.result
    assert r.verdict == boot.expect, \
        f"verdict {r.verdict} (QEMU status {r.status}), expected {boot.expect}; " \
        f"last lines: {r.log_text.strip().splitlines()[-3:]}"
    if boot.expect != "timeout":
        assert r.seconds < boot.timeout, f"took {r.seconds:.1f} s, timeout {boot.timeout} s"
    if boot.ktap:
        rep = ktap.parse(r.log_text)
        assert rep.verdict == boot.ktap, \
            f"KTAP verdict {rep.verdict}, expected {boot.ktap} with exit verdict {r.verdict}: " \
            f"{'; '.join(rep.errors or rep.failures()) or 'no failed test'}"
    if boot.check:
        boot.check(boot)


def run_boots(suite, kernel, out, boots, parallel=2, prefix="", boot_fn=None):
    """Builds, boots and judges every case; returns (booted cases, {cmdline: iso}).
    boot_fn(boot, iso, out) boots one case (default: qemu.run with the case's
    machine; a suite with machine settings of its own passes its own)."""
    boot_fn = boot_fn or _boot_one
    isos = {}
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        cmdlines = sorted({b.cmdline for b in boots})
        futures = {c: pool.submit(qemu.build_iso, kernel, c, iso_path(out, c)) for c in cmdlines}
        for c, f in futures.items():
            try:
                isos[c] = f.result()
            except Exception as e:
                suite.fail(f"iso/{c or 'default'}", f"{type(e).__name__}: {e}")
        runnable = []
        for b in boots:
            if b.cmdline not in isos:
                continue
            try:
                qemu.find_qemu(b.qemu, b.smp)
            except qemu.ConfigError as e:
                suite.skip(prefix + b.name, str(e))
                continue
            runnable.append(b)
        list(pool.map(lambda b: boot_fn(b, isos[b.cmdline], out), runnable))
    for b in runnable:
        suite.run(prefix + b.name, _judge, b)
    return runnable, isos


def solo_figures(iso, count, smp, mem, timeout, out, tag, figure, qemu_want="auto"):
    """Boots iso `count` times one at a time; returns the sorted figure(result)
    values of the boots where it is not None."""
    values = []
    for i in range(count):
        r = qemu.run(iso, smp, mem, "tcg", 0, timeout, os.path.join(out, f"{tag}-{i}.log"),
                     stream=False, qemu=qemu_want)
        v = figure(r)
        if v is not None:
            values.append(v)
    return sorted(values)
