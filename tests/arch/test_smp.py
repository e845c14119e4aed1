#!/usr/bin/python3
"""SMP boot tests: AP bring-up through the MADT and INIT-SIPI-SIPI under QEMU/TCG.

  - SMP=1, 2, 4, 8, 16, 32 (and 4 with -icount, 8 with smp_idle=pause): every
    CPU the MADT lists comes online, and a dispatched job run on all of them
    (test_smp_dispatch=1) answers from N distinct CPU indices, each from the
    right APIC id and per-CPU area, then on N-1 and on 1 CPU;
  - test_ap_fail=2: that AP is sent to a dead loop; the BSP times out,
    retries once, gives up, and the run goes on with N-1 CPUs and says so;
  - test_madt_corrupt=1: the MADT copy fails its checksum, the message says
    so and the run stops with exit check-failed (35) before any work;
  - bad smp_* values and a test_ap_fail naming no CPU stop with exit 39;
  - under a QEMU >= 9 (the one `make deps` provides on Debian 12; SKIP
    without it): SMP=288, where APIC ids 255..287 come as MADT type 9
    entries, brings every CPU up in x2APIC mode; at SMP=8 x2APIC by default,
    xAPIC forced by smp_xapic=1 and by a CPU model without x2APIC, and
    x2APIC left on by "firmware" (test_firmware_x2apic=1) kept even with
    smp_xapic=1;
  - CPU=qemu64 (no RDTSCP, no 1 GiB pages) runs to a pass, the timed-region
    ends rewritten.
Bring-up times are printed (the goal at SMP=8 is <= 3 ms of guest time),
not asserted: wall time on a shared 2-core machine is not a pass/fail
property.  Boots run two at a time.

    test_smp.py --kernel build/kernel.elf --out build/test/smp
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import boottest  # noqa: E402
import testlib  # noqa: E402

PARALLEL = 2
BOOT_TIMEOUT = 90   # generous: 16 vCPUs on a shared 2-core host
BIG_TIMEOUT = 600   # SMP=288: SeaBIOS alone takes ~35 s to count the CPUs
XAPIC_IDS = 255     # QEMU lists APIC ids 0..254 as type 0 entries, the rest as type 9
MEM = "256M"
FAIL_TIMEOUT_MS = 200  # test_ap_fail: two of these per attempt are spent waiting
BRINGUP_GOAL_MS = 3
SOLO_BOOTS = 3

MADT_LINE = re.compile(r"^smp: MADT at 0x[0-9a-f]+: (\d+) CPUs listed .*; (\d+) in x2APIC entries\)",
                       re.M)
MODE_LINE = re.compile(r"^smp: starting \d+ AP\(s\) in parallel \((x2APIC|xAPIC),", re.M)
ONLINE = re.compile(r"^smp: (\d+) of (\d+) CPUs online \(MADT lists (\d+)\), bring-up "
                    r"(\d+)\.(\d+) ms", re.M)
AP_LINE = re.compile(r"^smp: cpu (\d+) \(APIC id (\d+)\) online ([\d.]+) us after its STARTUP IPI",
                     re.M)
DISPATCH = re.compile(r"^smp: dispatch ok: (\d+) distinct indices$", re.M)


def online_line(log):
    m = ONLINE.findall(log)
    assert len(m) == 1, f"expected one 'smp: N of M CPUs online' line, found {len(m)}"
    online, started, listed, ms, frac = m[0]
    return int(online), int(started), int(listed), float(f"{ms}.{frac}")


def all_online(boot):
    """Every CPU the MADT lists is online, each AP has its start line, and the
    dispatched job saw every index exactly once."""
    log = boot.result.log_text
    online, started, listed, _ = online_line(log)
    n = boot.smp
    assert listed == n, f"MADT lists {listed} CPUs, QEMU has {n}"
    assert online == n and started == n, f"{online} of {started} CPUs online, expected {n} of {n}"
    aps = AP_LINE.findall(log)
    assert sorted(int(c) for c, _, _ in aps) == list(range(1, n)), \
        f"AP start lines for CPUs {[c for c, _, _ in aps]}, expected 1..{n - 1}"
    assert len({a for _, a, _ in aps}) == n - 1, "two APs reported the same APIC id"
    d = DISPATCH.findall(log)
    assert d == [str(n)], f"dispatch lines {d}, expected 'dispatch ok: {n} distinct indices'"
    assert "smp: dispatch test passed" in log, "the partial dispatches did not pass"
    if n > 1:
        assert re.search(r"^smp: TSC skew .*: proven \d+ cycles", log, re.M), \
            "no TSC skew line"
        assert re.search(r"^smp: barrier start skew .*: median \d+, worst \d+ cycles", log, re.M), \
            "no barrier skew line"
    assert "kernel: done" in log, "the kernel did not reach the end of its boot sequence"


def in_mode(mode, *patterns):
    """all_online, in this APIC mode, with these lines in the log."""
    def check(boot):
        all_online(boot)
        log = boot.result.log_text
        modes = MODE_LINE.findall(log)
        assert modes == [mode], f"APs started in {modes}, expected [{mode!r}]"
        for p in patterns:
            assert re.search(p, log, re.M), f"no line matching /{p}/ in the log"
    return check


def many_x2apic(boot):
    """Every CPU online in x2APIC mode, the ones beyond the xAPIC ids listed
    by type 9 entries."""
    in_mode("x2APIC")(boot)
    m = MADT_LINE.findall(boot.result.log_text)
    assert m, "no MADT line with the x2APIC entry count"
    listed, x2 = map(int, m[0])
    assert listed == boot.smp, f"MADT lists {listed} CPUs, expected {boot.smp}"
    assert x2 == boot.smp - XAPIC_IDS, \
        f"{x2} CPUs in x2APIC (type 9) entries, expected {boot.smp - XAPIC_IDS} (ids >= 255)"


def ap_fails(boot):
    """CPU 2 never answers: reported twice (timeout, then giving up), the run
    continues on N-1 CPUs, renumbered densely, and dispatch sees N-1 indices."""
    log = boot.result.log_text
    n = boot.smp
    assert re.search(rf"^smp: cpu 2 \(APIC id \d+\) did not answer within {FAIL_TIMEOUT_MS} ms; "
                     r"retrying$", log, re.M), "no timeout/retry line for cpu 2"
    assert re.search(r"^smp: cpu 2 \(APIC id \d+\) did not answer after 2 attempts; "
                     r"continuing without it$", log, re.M), "no give-up line for cpu 2"
    online, started, listed, _ = online_line(log)
    assert (online, started, listed) == (n - 1, n, n), \
        f"{online} of {started} online, MADT {listed}; expected {n - 1} of {n}, MADT {n}"
    assert re.search(rf"^smp: running with {n - 1} CPUs: 1 AP\(s\) did not start \(", log, re.M), \
        "the log does not say the run continues with fewer CPUs"
    assert re.search(r"^smp: cpu 2 \(APIC id \d+\) online .*\(renumbered\)$", log, re.M), \
        "the CPU after the failed one was not renumbered to index 2"
    assert DISPATCH.findall(log) == [str(n - 1)], "dispatch did not see exactly N-1 indices"
    assert "kernel: done" in log, "the run did not continue after the failed AP"


def madt_corrupt(boot):
    log = boot.result.log_text
    assert re.search(r"^acpi: APIC: bad checksum \(bytes sum to 0x[0-9a-f]{2} over \d+ bytes, "
                     r"must be 0\); ignored$", log, re.M), "no checksum message for the MADT"
    assert re.search(r"^smp: the MADT is invalid: cannot enumerate the CPUs; stopping "
                     r"\(exit check-failed\)$", log, re.M), "no stop message"
    assert "kernel: done" not in log, "the kernel went on after an invalid MADT"
    assert not AP_LINE.search(log), "APs were started from an invalid MADT"


expect_lines = boottest.expect_lines


def Boot(name, smp, cmdline, mem=MEM, timeout=BOOT_TIMEOUT, **kw):
    return boottest.Boot(name, smp, mem, cmdline, timeout=timeout, **kw)


def dispatch(n):
    return Boot(f"smp{n}", n, "test_smp_dispatch=1", check=all_online)


def new_qemu(name, smp, cmdline, check, **kw):
    return Boot(name, smp, f"test_smp_dispatch=1 {cmdline}".strip(), check=check, qemu="new", **kw)


BOOTS = [
    new_qemu("smp288-x2apic", 288, "", many_x2apic, timeout=BIG_TIMEOUT, mem="1G"),
    new_qemu("smp8-x2apic", 8, "", in_mode("x2APIC", r"^cpu: .*x2APIC yes")),
    new_qemu("smp8-xapic-forced", 8, "smp_xapic=1", in_mode("xAPIC")),
    new_qemu("smp8-cpu-without-x2apic", 8, "", in_mode("xAPIC", r"^cpu: no x2APIC"),
             cpu="max,-x2apic"),
    new_qemu("smp8-firmware-x2apic", 8, "test_firmware_x2apic=1 smp_xapic=1",
             in_mode("x2APIC", r"^smp: test_firmware_x2apic: x2APIC mode switched on",
                     r"^apic: firmware enabled x2APIC mode; staying in it$")),
    Boot("cpu-qemu64", 2, "test_smp_dispatch=1", cpu="qemu64",
         check=in_mode("xAPIC", r"^cpu: no RDTSCP .*: the \d+ timed-region ends use lfence;rdtsc",
                       r"^cpu: .*rdtscp no")),
    dispatch(32), dispatch(16), dispatch(8), dispatch(4), dispatch(2), dispatch(1),
    Boot("smp4-icount", 4, "test_smp_dispatch=1", check=all_online, icount=1),
    Boot("smp8-pause", 8, "test_smp_dispatch=1 smp_idle=pause", check=all_online),
    Boot("ap-fail", 4, f"test_smp_dispatch=1 test_ap_fail=2 smp_ap_timeout_ms={FAIL_TIMEOUT_MS}",
         check=ap_fails),
    Boot("madt-corrupt", 2, "test_madt_corrupt=1", expect="check-failed", check=madt_corrupt),
    Boot("ap-fail-no-such-cpu", 2, "test_ap_fail=5", expect="config-error",
         check=expect_lines(r"^smp: test_ap_fail=5: no such AP \(CPUs are 0\.\.1, 0 is the BSP\)$")),
    Boot("bad-delay", 1, "smp_init_delay_us=soon smp_ap_timeout_ms=0", expect="config-error",
         check=expect_lines(r"smp_init_delay_us.*soon", r"smp_ap_timeout_ms")),
]


def report(boots, iso, out):
    """Bring-up times (guest TSC; under TCG that is host time) from the boots
    above, which ran two at a time, then from SOLO_BOOTS boots at SMP=8 one at
    a time, which is the figure the <= 3 ms goal is about."""
    for b in boots:
        if b.result is None or b.result.verdict != "pass" or b.expect != "pass":
            continue
        try:
            online, _, _, ms = online_line(b.result.log_text)
        except AssertionError:
            continue
        print(f"# smp: {b.name}: {online} CPUs online, bring-up {ms:.3f} ms from the first INIT "
              f"to the last AP online (2 boots at a time); boot {b.result.seconds:.1f} s wall",
              flush=True)
    if iso is None:
        return
    solo = boottest.solo_figures(iso, SOLO_BOOTS, 8, MEM, BOOT_TIMEOUT, out, "solo-smp8",
                                 lambda r: online_line(r.log_text)[3] if r.verdict == "pass" else None)
    if solo:
        print(f"# smp: SMP=8 under TCG, one boot at a time: bring-up median {solo[len(solo) // 2]:.3f} "
              f"ms (min {solo[0]:.3f}, max {solo[-1]:.3f}, {len(solo)} boots); goal <= "
              f"{BRINGUP_GOAL_MS} ms, reported, not asserted", flush=True)


def main():
    opts = boottest.parse_args()
    suite = testlib.Suite("smp")

    runnable, isos = boottest.run_boots(suite, opts.kernel, opts.out, BOOTS, PARALLEL, "boot/")
    report(runnable, isos.get("test_smp_dispatch=1"), opts.out)
    suite.exit()


if __name__ == "__main__":
    main()
