#!/usr/bin/python3
"""Hardware suite: the kernel without QEMU's conveniences, and the ISO under
both firmwares.

  - one hybrid ISO running the quick benchmark profile at SMP=2 under OVMF
    (UEFI) and the very same file under SeaBIOS, each to a pass with every
    block verified; the UEFI run's serial log, given CR LF line ends and
    lines of noise in front, through `scripts/ingest.py` gives the same
    results.csv as the direct run;
  - no isa-debug-exit device: exit=reset ends in the verdict as the last
    line and a reset QEMU reports (status 0 under -no-reboot); the default
    ends in the verdict and a halt (QEMU still running when the test stops
    it, nothing after the verdict);
  - no PIT (-machine pit=off): the TSC is calibrated against the HPET; no
    PIT and no HPET: against the ACPI PM timer; the source named in the
    boot log and in meta.csv; tsc=hpet without an HPET stops the run;
  - the console: an ACPI SPCR table (added with -acpitable) naming COM2, and
    console=com2, move the log to COM2 with every line before the switch
    replayed there, none lost or repeated; COM1 at another rate sends the log
    again from its first line; a bad console= value is refused.

    test_hardware.py --kernel build/kernel.elf --out build/test/hardware
"""
import os
import re
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import boottest  # noqa: E402
import extract  # noqa: E402
import ktap  # noqa: E402
import qemu  # noqa: E402
import testlib  # noqa: E402

PARALLEL = 2
BOOT_TIMEOUT = 120       # the machine is shared; a quick-profile run takes ~10 s alone
HALT_TIMEOUT = 40        # the halted boot is stopped by the timeout; it finishes in a few s
QUICK = "bench=all profile=quick"
FIRST_LINE = "kernel: frame allocator harness"


class HwBoot(boottest.Boot):
    """A boot case with the firmware and machine settings of this suite."""

    def __init__(self, name, firmware="bios", debug_exit=True, machine_opts=(), extra=(),
                 **kw):
        kw.setdefault("timeout", BOOT_TIMEOUT)
        super().__init__(name, kw.pop("smp", 1), kw.pop("mem", "256M"), **kw)
        self.firmware, self.debug_exit = firmware, debug_exit
        self.machine_opts, self.extra = list(machine_opts), list(extra)


def boot_one(boot, iso, out):
    try:
        boot.result = qemu.run(iso, boot.smp, boot.mem, "tcg", 0, boot.timeout,
                               os.path.join(out, f"{boot.name}.log"), stream=False,
                               firmware=boot.firmware, debug_exit=boot.debug_exit,
                               machine_opts=boot.machine_opts, extra_args=boot.extra)
    except Exception as e:  # reported as this boot's failure
        boot.error = e


def lines_of(boot):
    return [ln for ln in boot.result.log_text.split("\n") if ln.strip()]


def kernel_lines(text):
    """The kernel's lines of a serial log: from its first line on (firmware
    and GRUB output before it left out)."""
    lines = text.replace("\r", "").split("\n")
    start = next((i for i, ln in enumerate(lines) if ln.startswith(FIRST_LINE)), None)
    assert start is not None, "the kernel's first line is not in the log"
    return [ln for ln in lines[start:] if ln]


def verified(text):
    """Extraction of a log that must verify completely, with a passing verdict."""
    ex = extract.extract(text.encode("utf-8", "surrogateescape"))
    assert ex.ok, f"rejected blocks: {ex.errors}"
    assert ex.verdict == "pass", f"kernel verdict {ex.verdict}"
    assert "results.csv" in ex.blocks and "meta.csv" in ex.blocks, "blocks missing"
    return ex


def meta_value(ex, key):
    return dict(ex.blocks["meta.csv"].records).get(key)


# ---- checks --------------------------------------------------------------------------

def check_quick_run(boot):
    ex = verified(boot.result.log_text)
    assert lines_of(boot)[-1] == "@@VERDICT pass", "the verdict is not the last line"
    fw = "UEFI" if boot.firmware == "uefi" else "BIOS"
    benches = {r[0] for r in ex.blocks["results.csv"].records}
    assert benches >= {"refcount", "pcp", "contig", "smp", "stress"}, \
        f"{fw}: benchmarks present: {sorted(benches)}"


def check_uefi_quick(boot):
    check_quick_run(boot)
    text = boot.result.log_text
    assert "no console will be available" not in text, "GRUB warns about the console"
    assert not re.search(r"^error: ", text, re.M), \
        f"GRUB errors: {re.findall(r'^error: .*$', text, re.M)}"
    assert "XSDT" in text, "under OVMF the kernel should read the XSDT (tag 15)"


def check_reset(boot):
    r = boot.result
    assert r.status == 0, f"QEMU status {r.status}: expected 0 (a guest reset with -no-reboot)"
    assert r.verdict == "pass", f"verdict {r.verdict}: the reset should carry the log's verdict"
    last = lines_of(boot)[-2:]
    assert last[1] == "@@VERDICT pass", f"last line {last[1]!r}"
    assert re.match(r"exit: code 0x10 \(pass\), reset through the FADT reset register "
                    r"\(I/O 0xcf9 <- 0x[0-9a-f]{2}\)$", last[0]), f"exit line {last[0]!r}"


def check_halt(boot):
    r = boot.result
    assert r.verdict == "timeout", f"verdict {r.verdict}: a halted guest keeps QEMU running"
    last = lines_of(boot)[-2:]
    assert last == ["exit: code 0x10 (pass), halt (no isa-debug-exit device)",
                    "@@VERDICT pass"], f"the log ends with {last}"


def calibrated_by(source, passed_over, reference):
    """The TSC measured against `source`, each source before it passed over
    with a reason; the rate within 1 % of the PIT calibration of the boot
    named `reference` (the same host TSC, emulated)."""
    def check(boot):
        text = boot.result.log_text
        for name in passed_over:
            assert re.search(rf"^tsc: not calibrating against the {name}: ", text, re.M), \
                f"no line saying why the {name} was passed over"
        m = re.search(r"^tsc: (\d+) kHz \(source (\S+), runs within (\d+) ppm\)", text, re.M)
        assert m and m.group(2) == source, f"tsc line: {m.group(0) if m else None}"
        ex = verified(text)
        assert meta_value(ex, "tsc_source") == source, \
            f"meta.csv tsc_source {meta_value(ex, 'tsc_source')}"
        khz = int(m.group(1))
        assert meta_value(ex, "tsc_khz") == str(khz), "meta.csv tsc_khz is not the logged rate"
        ref = reference()
        pit = re.search(r"^tsc: (\d+) kHz \(source pit", ref.result.log_text, re.M) \
            if ref.result else None
        assert pit, f"the reference boot {ref.name} has no PIT calibration line"
        assert abs(khz - int(pit.group(1))) * 100 <= int(pit.group(1)), \
            f"{source}: {khz} kHz, the PIT gave {pit.group(1)} kHz"
    return check


def spcr_table(port):
    """An SPCR (revision 2) naming a 16550 at I/O `port`, 115200 baud, 8N1."""
    t = bytearray(80)
    t[0:4] = b"SPCR"
    struct.pack_into("<I", t, 4, len(t))
    t[8] = 2
    t[10:16] = b"HWTEST"
    t[16:24] = b"HARNESS "
    t[36] = 0                                           # full 16550
    struct.pack_into("<BBBBQ", t, 40, 1, 8, 0, 1, port)  # I/O space, 8 bits, byte access
    t[58] = 7                                           # 115200 baud
    t[60] = 1                                           # one stop bit
    t[9] = (-sum(t)) & 0xff
    return bytes(t)


def check_moved_to_com2(source):
    """COM1 ends with the switch line; COM2 has everything COM1 had, once,
    then the rest of the run to the verdict, every block verifying."""
    def check(boot):
        com1 = kernel_lines(boot.result.log_text)
        with open(boot.com2, "rb") as f:
            com2 = kernel_lines(f.read().decode("utf-8", "replace"))
        assert re.match(rf"console: moving to the 16550 at I/O port 0x2f8, 115200 baud "
                        rf"\({re.escape(source)}\)", com1[-1]), \
            f"COM1's last line is {com1[-1]!r}"
        assert com2[:len(com1)] == com1, "COM2 does not start with everything COM1 received"
        assert com2[-1] == "@@VERDICT pass", f"COM2 ends with {com2[-1]!r}"
        # Replayed once, then continued: no line of the early log comes twice.
        for ln in (com1[0], com1[-1]):
            assert com2.count(ln) == 1, f"{ln!r} is on COM2 {com2.count(ln)} times"
        verified("\n".join(com2) + "\n")
        rep = ktap.parse("\n".join(com2) + "\n")
        assert rep.verdict == "pass", f"KTAP report on COM2: {rep.verdict} {rep.errors}"
    return check


def check_rate_switch(boot):
    """console=com1,57600: the same port at another rate sends the log again
    from its first line; the copy from there on is complete."""
    text = boot.result.log_text
    starts = [m.start() for m in re.finditer(rf"^{FIRST_LINE}", text, re.M)]
    assert len(starts) == 2, f"the first line appears {len(starts)} times, expected 2"
    again = text[starts[1]:]
    assert re.search(r"^console: switching to 57600 baud \(console=\)", again, re.M), \
        "the replayed copy lacks the switch line"
    verified(again)
    rep = ktap.parse(again)
    assert rep.verdict == "pass", f"KTAP report of the replayed copy: {rep.verdict} {rep.errors}"


def com2_boot(name, cmdline, extra, source, out):
    path = os.path.join(out, f"{name}-com2.log")
    b = HwBoot(name, cmdline=cmdline, check=check_moved_to_com2(source),
               extra=["-serial", f"file:{path}"] + extra)
    b.com2 = path
    b.ktap = None  # COM1 stops at the switch; the check reads the report on COM2
    return b


def check_ingest_of(boot_name, boots, out):
    """The Done-when check: the UEFI run's log with CR LF and noise before it,
    through ingest.py, gives the results.csv of the direct run."""
    boot = next(b for b in boots if b.name == boot_name)
    assert boot.result is not None and boot.result.verdict == "pass", \
        f"{boot_name} did not pass; nothing to ingest"
    ex = verified(boot.result.log_text)
    direct = os.path.join(out, "direct")
    os.makedirs(direct, exist_ok=True)
    extract.write_blocks(ex, direct)
    noise = "ipmitool> sol activate\r\n[SOL Session operational.  Use ~? for help]\r\n"
    captured = os.path.join(out, "captured-sol.log")
    with open(captured, "wb") as f:
        f.write((noise + boot.result.log_text.replace("\n", "\r\n")).encode())
    res = os.path.join(out, "ingested")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "ingest.py"), captured,
                        "--results-root", res, "--no-plot", "--source", "hardware suite"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"ingest.py exited {r.returncode}: {r.stderr[-400:]}"
    latest = os.path.join(res, "latest")
    with open(os.path.join(latest, "results.csv")) as a, \
            open(os.path.join(direct, "results.csv")) as b:
        assert a.read() == b.read(), "the ingested results.csv differs from the direct run's"


def check_firmware_var(target):
    """FIRMWARE is validated before anything is built or booted."""
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, target,
                           "FIRMWARE=efi", "TIMEOUT=5"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)
    assert proc.returncode != 0, f"make {target} FIRMWARE=efi succeeded"
    assert "FIRMWARE='efi': expected bios (SeaBIOS) or uefi (OVMF)" in proc.stdout, \
        f"make {target}: no message naming FIRMWARE in {proc.stdout[-300:]!r}"
    assert "booting" not in proc.stdout, f"make {target} FIRMWARE=efi booted"


def main():
    opts = boottest.parse_args()
    suite = testlib.Suite("hardware")
    out = opts.out
    for f in os.listdir(out):
        if f.endswith("-com2.log"):
            os.remove(os.path.join(out, f))
    spcr = os.path.join(out, "spcr-com2.bin")
    with open(spcr, "wb") as f:
        f.write(spcr_table(0x2f8))
    def reference():
        return next(b for b in boots if b.name == "bios-quick-smp2")

    boots = [
        HwBoot("uefi-quick-smp2", "uefi", smp=2, mem="1G", cmdline=QUICK,
               check=check_uefi_quick),
        HwBoot("bios-quick-smp2", "bios", smp=2, mem="1G", cmdline=QUICK,
               check=check_quick_run),
        HwBoot("no-debug-exit-reset", debug_exit=False, cmdline="exit=reset",
               check=check_reset),
        HwBoot("no-debug-exit-halt", debug_exit=False, timeout=HALT_TIMEOUT, expect="timeout",
               ktap="pass", check=check_halt),  # halted after a complete report
        HwBoot("no-pit-hpet", machine_opts=["pit=off"], cmdline="bench=smp profile=quick",
               check=calibrated_by("hpet", ["pit"], reference)),
        HwBoot("no-pit-no-hpet-pmtimer", machine_opts=["pit=off", "hpet=off"],
               cmdline="bench=smp profile=quick",
               check=calibrated_by("pmtimer", ["pit", "hpet"], reference)),
        HwBoot("tsc-hpet-absent", machine_opts=["hpet=off"], cmdline="tsc=hpet",
               expect="panic",
               check=boottest.expect_lines(r"^tsc: not calibrating against the hpet: no valid "
                                           r"ACPI HPET table",
                                           r"^PANIC .*no reference counter to calibrate")),
        com2_boot("spcr-com2", "bench=smp profile=quick", ["-acpitable", f"file={spcr}"],
                  "ACPI SPCR", out),
        com2_boot("console-com2", "bench=smp profile=quick console=com2", [], "console=", out),
        HwBoot("console-com1-57600", cmdline="bench=smp profile=quick console=com1,57600",
               ktap="malformed",  # two copies of the start; the check reads the second
               check=check_rate_switch),
        HwBoot("console-bad", cmdline="console=com9", expect="config-error",
               check=boottest.expect_lines(r"^cmdline: console=com9: expected com1\.\.com4")),
        HwBoot("exit-bad", cmdline="exit=sideways", expect="config-error",
               check=boottest.expect_lines(r"^cmdline: exit=sideways: expected one of")),
    ]
    runnable, _ = boottest.run_boots(suite, opts.kernel, out, boots, PARALLEL,
                                     boot_fn=boot_one)
    for target in ("run", "bench"):
        suite.run(f"make-vars/{target},FIRMWARE=efi", check_firmware_var, target)
    suite.run("ingest-uefi-log-crlf-noise", check_ingest_of, "uefi-quick-smp2", runnable,
              os.path.join(out, "ingest"))
    suite.exit()


if __name__ == "__main__":
    main()
