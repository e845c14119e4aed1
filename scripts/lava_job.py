#!/usr/bin/python3
"""Renders a LAVA job definition of lab/lava/ for one run, and validates it.

The templates carry @NAME@ placeholders; each comes from an option here:

    @ISO_URL@     --iso-url       (qemu-iso.yaml) where the lab fetches the ISO
    @KERNEL_URL@  --kernel-url    (x86-grub.yaml) where the lab fetches kernel.elf
    @CMDLINE@     --cmdline       (x86-grub.yaml) the kernel command line
    @SMP@ @MEM@   --smp --mem     (qemu-iso.yaml) the QEMU machine
    @MEM_MIB@                     derived from --mem
    @NO_KVM@      --accel         tcg -> true, kvm -> false
    @COMMIT@      --commit        default: git describe of this tree

A placeholder the template uses but no option gives is an error, as is a
value that would break the YAML (a newline, a double quote).  With
--validate the rendered job is checked against LAVA's own job schema
(Debian's lava-common, strict mode); the job is written to --out or stdout.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
MEM = re.compile(r"^([1-9][0-9]*)([MG])$")

sys.path.insert(0, HERE)
from qemu_select import ConfigError  # noqa: E402  (the tools' one error type)


def commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def values(opts):
    v = {"COMMIT": opts.commit or commit(), "SMP": str(opts.smp), "MEM": opts.mem,
         "NO_KVM": "true" if opts.accel == "tcg" else "false"}
    m = MEM.match(opts.mem)
    if not m:
        raise ConfigError(f"--mem {opts.mem!r}: expected a size like 1024M or 4G")
    v["MEM_MIB"] = str(int(m.group(1)) * (1024 if m.group(2) == "G" else 1))
    if opts.smp < 1:
        raise ConfigError(f"--smp {opts.smp}: expected at least 1")
    for key, val in (("ISO_URL", opts.iso_url), ("KERNEL_URL", opts.kernel_url),
                     ("CMDLINE", opts.cmdline)):
        if val is not None:
            v[key] = val
    for key, val in v.items():
        if "\n" in val or '"' in val:
            raise ConfigError(f"the value for @{key}@ contains a newline or a double quote")
    return v


def render(template, v):
    missing = sorted({m for m in PLACEHOLDER.findall(template) if m not in v})
    if missing:
        opts = ", ".join("--" + m.lower().replace("_", "-") for m in missing)
        raise ConfigError(f"the template needs {opts}")
    return PLACEHOLDER.sub(lambda m: v[m.group(1)], template)


def validate(text):
    """Raises ConfigError naming the first schema violation."""
    try:
        import yaml
        from lava_common.schemas import validate as lava_validate
    except ImportError as e:
        raise ConfigError(f"--validate needs Debian's lava-common (make deps): {e}")
    from voluptuous import Invalid
    job = yaml.safe_load(text)
    try:
        lava_validate(job, strict=True)
    except Invalid as e:
        raise ConfigError(f"LAVA rejects the job at {'/'.join(map(str, e.path))}: {e.msg}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("template")
    ap.add_argument("--iso-url")
    ap.add_argument("--kernel-url")
    ap.add_argument("--cmdline")
    ap.add_argument("--smp", type=int, default=8)
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--accel", choices=["tcg", "kvm"], default="kvm")
    ap.add_argument("--commit")
    ap.add_argument("--validate", action="store_true")
    ap.add_argument("--out")
    opts = ap.parse_args(argv[1:])
    try:
        with open(opts.template, encoding="utf-8") as f:
            text = render(f.read(), values(opts))
        if opts.validate:
            validate(text)
    except (ConfigError, OSError) as e:
        print(f"lava_job: {e}", file=sys.stderr)
        return 2
    if opts.out:
        with open(opts.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
