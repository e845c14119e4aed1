"""The LAVA job definitions of lab/lava/: rendered by scripts/lava_job.py,
valid under LAVA's own job schema (Debian's lava-common, strict), rejected
when broken, and their monitors read a real serial log's KTAP block."""
import os
import re
import subprocess

from common import ROOT, PY, Skipped, expect
import ktap

LAVA_JOB = os.path.join(ROOT, "scripts", "lava_job.py")
TEMPLATES = {
    "qemu-iso.yaml": ["--iso-url", "https://lab.example/harness.iso", "--smp", "4",
                      "--mem", "2G"],
    "x86-grub.yaml": ["--kernel-url", "https://lab.example/kernel.elf",
                      "--cmdline", "bench=all profile=full"],
}
# A log in the shape the kernel prints (kernel/report.c), the boot log and
# CSV blocks between the KTAP lines.
LOG = """kernel: frame allocator harness, commit abc
KTAP version 1
1..6
cpu: GenuineIntel "Xeon"
ok 1 cmdline
mm: 2 arenas
ok 2 mm_init
ok 3 smp_bringup
ok 4 selftests # SKIP none requested
@@BEGIN results.csv
bench,case,cpus,param,metric,value,unit
@@END results.csv rows=0 crc32=00000000
not ok 5 bench # a benchmark's invariant check failed
ok 6 mm_check # SKIP the allocator is left as the failing check found it
@@VERDICT check-failed
"""


def lava_available():
    try:
        import yaml  # noqa: F401
        import lava_common.schemas  # noqa: F401
    except ImportError:
        return False
    return True


def render(name, *extra):
    return subprocess.run([PY, LAVA_JOB, os.path.join(ROOT, "lab", "lava", name)]
                          + TEMPLATES[name] + list(extra), capture_output=True, text=True)


def test_jobs_validate():
    if not lava_available():
        raise Skipped("Debian's lava-common is not installed (make deps installs it)")
    for name in TEMPLATES:
        p = render(name, "--validate")
        expect(p.returncode == 0, f"{name}: {p.stderr.strip()}")
        expect(not re.search(r"@[A-Z_]+@", p.stdout), f"{name}: a placeholder was left unrendered")


def test_broken_jobs_rejected():
    if not lava_available():
        raise Skipped("Debian's lava-common is not installed (make deps installs it)")
    import yaml
    from lava_common.schemas import validate
    from voluptuous import Invalid
    breaks = {
        "no job timeout": lambda j: j["timeouts"].pop("job"),
        "unknown boot key": lambda j: next(a for a in j["actions"] if "boot" in a)["boot"]
        .update(colour="blue"),
        "monitor name with a space": lambda j: next(a for a in j["actions"] if "test" in a)
        ["test"]["monitors"][0].update(name="two words"),
        "unknown boot method": lambda j: next(a for a in j["actions"] if "boot" in a)["boot"]
        .update(method="floppy"),
    }
    for name in TEMPLATES:
        text = render(name).stdout
        for what, mutate in breaks.items():
            job = yaml.safe_load(text)
            mutate(job)
            try:
                validate(job, strict=True)
            except Invalid:
                continue
            raise AssertionError(f"{name}: LAVA's schema accepted a job with {what}")


def test_monitor_reads_the_ktap_block():
    import json  # the monitor fields are plain strings: read them without a YAML parser
    for name in TEMPLATES:
        text = render(name).stdout
        fields = dict(re.findall(r"^\s+(start|end|pattern): (.*)$", text, re.M))
        pattern = fields["pattern"].strip("'")
        start, end = fields["start"], fields["end"]
        expect(start in LOG and end in LOG, f"{name}: start/end not in a kernel log")
        body = LOG[LOG.index(start):LOG.index(end) + len(end)]
        cases = [(m.group("test_case_id"), m.group("result"))
                 for m in re.finditer(pattern, body)]
        report = ktap.parse(LOG)
        want = [(t.name, "ok" if t.ok else "not ok") for t in report.tests]
        expect(cases == want, f"{name}: the monitor reads {json.dumps(cases)}, KTAP says {want}")


def test_bad_values_refused():
    x86 = os.path.join(ROOT, "lab", "lava", "x86-grub.yaml")
    qemu = os.path.join(ROOT, "lab", "lava", "qemu-iso.yaml")
    cases = [
        ([x86], "needs --cmdline, --kernel-url"),
        ([qemu, "--iso-url", "u", "--mem", "lots"], "--mem 'lots'"),
        ([qemu, "--iso-url", "u", "--smp", "0"], "--smp 0"),
        ([x86, "--kernel-url", "u", "--cmdline", 'a"b'], "double quote"),
    ]
    for args, needle in cases:
        p = subprocess.run([PY, LAVA_JOB] + args, capture_output=True, text=True)
        expect(p.returncode == 2 and needle in p.stderr, f"{args}: rc {p.returncode} {p.stderr}")


TESTS = [(name[5:], fn) for name, fn in sorted(globals().items()) if name.startswith("test_")]
