#!/usr/bin/python3
"""Build bootable ISOs of the kernel and boot them under QEMU, bounded by a timeout.

Command line (the Makefile's run/debug/iso targets use it):
    qemu.py --iso ISO --smp N --mem 1G --accel auto|tcg|kvm --icount 0|1
            --firmware bios|uefi --timeout S --log FILE [--quiet] [--interactive]
            [--gdb PORT --symbols ELF] [--no-debug-exit] [--machine-opts pit=off,...]
    qemu.py --build-iso ISO --kernel ELF --cmdline 'key=value ...'
    qemu.py --check --smp N --mem 1G --accel auto --icount 0 [--timeout S]
    (boots and --check also take --cpu MODEL --numa NODES --qemu auto|system|new
     --firmware bios|uefi)
    qemu.py --provide      (make deps) a QEMU >= 9 in build/tools/ when the system's is older
A boot streams the serial port to the terminal and to FILE ("\\r" removed) and
exits with 0 when the kernel reported success, otherwise with the QEMU status
of the verdict (35 check failed, 37 panic, 39 configuration error, 124
timeout, 1 QEMU error).  Bad values exit with status 2 and a message before
anything is built or booted.

Module API (scripts/bench.py and the boot tests import it):
    validate_config(smp, mem, accel, icount, cpu="max", numa=0, qemu="auto",
                    firmware="bios") -> dict (raises ValueError)
    build_iso(kernel_elf, cmdline, out_iso) -> out_iso
    run(iso, smp, mem, accel, icount, timeout, log, stream=True, cpu=, numa=, qemu=,
        firmware=, debug_exit=, machine_opts=, extra_args=) -> Result
    version(qemu="auto", smp=1) -> the --version line of the QEMU such a run uses
    find_qemu(want, smp) -> which QEMU binary, its version, ROM options, CPU limit
where Result.verdict is one of VERDICTS' values.

The ISO is hybrid: El Torito BIOS (GRUB i386-pc) and UEFI (GRUB x86_64-efi in
an EFI system partition image), the same image for a CD, a USB stick or a
BMC's virtual media.  FIRMWARE=bios boots it under SeaBIOS, FIRMWARE=uefi
under OVMF with a fresh copy of the variable store per boot.

Exit codes (kernel/exit.h): the kernel writes v to isa-debug-exit at port 0xf4
and QEMU exits with (v << 1) | 1.
"""
import argparse
import collections
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu_select import (QEMU, QEMU_CHOICES, ROOT, SMP_MAX, X2APIC_QEMU,  # noqa: E402,F401
                         ConfigError, find_qemu, provide, qemu_version, version)


GRUB_TEMPLATE = os.path.join(ROOT, "grub.cfg")
GRUB_PLACEHOLDER = "@KERNEL_CMDLINE@"
# grub-mkrescue builds an image for every platform whose modules are
# installed; both must be, or the ISO would quietly lose one firmware.
GRUB_PLATFORM_DIRS = {"bios": "/usr/lib/grub/i386-pc", "uefi": "/usr/lib/grub/x86_64-efi"}
# Modules copied onto the ISO (GRUB loads them from it after its core image).
# part_*: GRUB probes every partition-map module it knows of when it scans
# the boot device; any one missing is an error message on the console.
# all_video, test: grub.cfg's video set-up.
GRUB_MODULES = ("multiboot2 normal iso9660 all_video test part_acorn part_amiga part_apple part_bsd "
                "part_dfly part_dvh part_gpt part_msdos part_plan part_sun part_sunpc")

# QEMU exit status -> verdict (kernel/exit.h); `timeout` gives 124, or 137
# when QEMU had to be killed.
VERDICTS = {33: "pass", 35: "check-failed", 37: "panic", 39: "config-error",
            124: "timeout", 137: "timeout"}
# What the command line exits with for each verdict.
CLI_STATUS = {"pass": 0, "check-failed": 35, "panic": 37, "config-error": 39, "timeout": 124,
              "qemu-error": 1}

MEM_MIN = 64 << 20            # room for the kernel, its page tables and the allocator
# TCG gives the guest 40 physical address bits (1 TiB) and q35 moves 2 GiB
# above 4 GiB; the kernel's direct map reaches 4 TiB (PAGING_MAX_PHYS).
MEM_MAX = 1000 << 30
META_PER_BYTE = 64 / 4096     # the allocator's 64-byte metadata per 4 KiB frame
META_SLACK = 512 << 20        # QEMU itself, page tables, the kernel image
NUMA_MAX = 8                  # nodes NUMA= may ask for (each needs a CPU)
NUMA_NODE_MEM_MIN = 32 << 20
TIMEOUT_MAX = 24 * 3600
CMDLINE_MAX = 2047            # lib/cmdline.h CMDLINE_MAX_LEN - 1
KILL_GRACE = 5                # seconds between timeout's TERM and KILL

# The machine: q35 (boots as fast as pc here, and its AHCI CD-ROM is the modern
# layout); no default devices (no NIC option ROM to load, no VGA).  -no-reboot:
# a guest reset ends QEMU with status 0 (the kernel's exit=reset, or a triple
# fault).
MACHINE_ARGS = ["-machine", "q35", "-nodefaults", "-display", "none", "-no-reboot"]
DEBUG_EXIT_ARGS = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
# Machine properties a test may switch off to look like hardware without
# QEMU's conveniences (the kernel then calibrates against what is left).
MACHINE_OPTS = {"pit=off", "hpet=off"}


def machine_args(debug_exit=True, machine_opts=()):
    """-machine and its devices; debug_exit=False leaves out isa-debug-exit
    (as on hardware: the kernel then resets or halts)."""
    for opt in machine_opts:
        if opt not in MACHINE_OPTS:
            raise ConfigError(f"machine option '{opt}': expected one of "
                              f"{', '.join(sorted(MACHINE_OPTS))}")
    args = list(MACHINE_ARGS)
    if machine_opts:
        args[1] = ",".join([args[1]] + list(machine_opts))
    return args + (DEBUG_EXIT_ARGS if debug_exit else [])

# verdict/status: see VERDICTS; seconds: wall time of the boot; log_text: the
# serial output without "\r"; first_line_seconds: from starting QEMU to the
# first complete serial line (None if none); qemu_stderr: QEMU's own messages.
Result = collections.namedtuple(
    "Result", "verdict status seconds log_text first_line_seconds accel command qemu_stderr")


# ---- validation ------------------------------------------------------------

def parse_smp(value):
    """1..SMP_MAX; whether the QEMU in use offers that many is find_qemu's question."""
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= SMP_MAX:
        raise ConfigError(f"SMP='{value}': expected a whole number of CPUs from 1 to {SMP_MAX}")
    return int(text)


def host_mem_available():
    """Bytes the host can still give (MemAvailable + SwapFree), or None."""
    try:
        with open("/proc/meminfo") as f:
            info = {k: int(v.split()[0]) << 10 for k, v in (l.split(":", 1) for l in f)}
        return info["MemAvailable"] + info.get("SwapFree", 0)
    except (OSError, KeyError, ValueError):
        return None


def check_host_mem(mem, mem_bytes, available=None):
    """The guest's RAM is a reserve=off backend: the host pays only for what
    the guest touches, which is the frame metadata (1/64 of MEM) and little
    else.  Refuses a MEM whose metadata alone does not fit the host."""
    available = host_mem_available() if available is None else available
    need = int(mem_bytes * META_PER_BYTE) + META_SLACK
    if available is not None and need > available:
        raise ConfigError(f"MEM={mem}: the guest writes {need / (1 << 30):.1f} GiB (its frame "
                          f"metadata, {META_PER_BYTE * 100:.2f} % of MEM, plus "
                          f"{META_SLACK >> 20} MiB) but this host has only "
                          f"{available / (1 << 30):.1f} GiB available")


def parse_numa(value, smp, mem_bytes):
    """NUMA=0 (no topology) or 1..NUMA_MAX nodes sharing CPUs and memory evenly."""
    text = str(value).strip() or "0"
    if not re.fullmatch(r"[0-9]+", text) or int(text) > NUMA_MAX:
        raise ConfigError(f"NUMA='{value}': expected 0 (no NUMA topology) or a number of "
                          f"nodes from 1 to {NUMA_MAX}")
    nodes = int(text)
    if nodes > smp:
        raise ConfigError(f"NUMA={nodes}: more nodes than CPUs (SMP={smp}); every node needs "
                          f"at least one CPU")
    if nodes and (mem_bytes % (nodes << 20) or mem_bytes // nodes < NUMA_NODE_MEM_MIN):
        raise ConfigError(f"NUMA={nodes}: MEM={mem_bytes >> 20}M does not split into {nodes} "
                          f"equal nodes of whole MiB, at least {NUMA_NODE_MEM_MIN >> 20}M each")
    return nodes


def numa_layout(nodes, smp, mem_bytes):
    """[(first cpu, cpu count, bytes)] per node: CPUs in contiguous blocks
    (the first smp % nodes nodes one more), memory in equal parts."""
    out, first = [], 0
    for i in range(nodes):
        count = smp // nodes + (1 if i < smp % nodes else 0)
        out.append((first, count, mem_bytes // nodes))
        first += count
    return out


_cpu_models = {}


def cpu_models(binary):
    """The CPU model names `binary -cpu help` lists."""
    if binary not in _cpu_models:
        out = subprocess.run([binary, "-cpu", "help"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=30).stdout
        # QEMU 7: "x86 <name> ..." lines; QEMU 10: "  <name> ..." lines under
        # "Available CPUs:".  Either way the CPUID flag list follows, after a
        # blank line.
        names = set()
        for line in out.splitlines():
            if not line.strip():
                if names:
                    break
                continue
            m = re.match(r"^(?:x86)?\s+(\S+)", line)
            if m:
                names.add(m.group(1))
        _cpu_models[binary] = names
    return _cpu_models[binary]


def parse_cpu(value, binary):
    """A model name from this QEMU's -cpu list (options after a comma are
    QEMU's to judge: `max,-x2apic`)."""
    text = str(value).strip() or "max"
    model = text.split(",", 1)[0]
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+(,[A-Za-z0-9_.=+-]+)*", text):
        raise ConfigError(f"CPU='{value}': expected a CPU model name, optionally with "
                          f"comma-separated flags (max,-x2apic)")
    models = cpu_models(binary)
    if model not in models:
        near = sorted(m for m in models if model.lower()[:4] in m.lower())[:8]
        raise ConfigError(f"CPU='{value}': {binary} knows no CPU model '{model}'"
                          + (f" (similar: {', '.join(near)})" if near else "")
                          + f"; `{binary} -cpu help` lists them")
    return text


def parse_mem(value):
    """'128M', '2G', '8g' -> ('128M', bytes)."""
    text = str(value).strip()
    m = re.fullmatch(r"([0-9]+)([MmGg])", text)
    if not m:
        raise ConfigError(f"MEM='{value}': expected a size like 128M, 2G or 8G")
    unit = m.group(2).upper()
    size = int(m.group(1)) << (20 if unit == "M" else 30)
    if not MEM_MIN <= size <= MEM_MAX:
        raise ConfigError(f"MEM='{value}': must be between {MEM_MIN >> 20}M and "
                          f"{MEM_MAX >> 30}G")
    return f"{int(m.group(1))}{unit}", size


def parse_accel(value):
    text = str(value).strip()
    if text not in ("auto", "tcg", "kvm"):
        raise ConfigError(f"ACCEL='{value}': expected auto, tcg or kvm")
    return text


def parse_icount(value):
    text = str(value).strip()
    if text not in ("0", "1"):
        raise ConfigError(f"ICOUNT='{value}': expected 0 (off) or 1 (deterministic: the guest "
                          f"TSC counts instructions)")
    return int(text)


def parse_timeout(value, default=None):
    """Seconds (whole, 1..TIMEOUT_MAX); empty -> default."""
    text = "" if value is None else str(value).strip()
    if text == "":
        return default
    if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= TIMEOUT_MAX:
        raise ConfigError(f"TIMEOUT='{value}': expected whole seconds from 1 to {TIMEOUT_MAX}")
    return int(text)


def parse_port(value):
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+", text) or not 1024 <= int(text) <= 65535:
        raise ConfigError(f"GDB_PORT='{value}': expected a TCP port from 1024 to 65535")
    return int(text)


def kvm_usable():
    """(usable, why): KVM needs VMX/SVM in /proc/cpuinfo and /dev/kvm."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set()
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
    except OSError as e:
        return False, f"cannot read /proc/cpuinfo ({e})"
    if not flags & {"vmx", "svm"}:
        return False, "the host CPU shows neither vmx nor svm"
    if not os.path.exists("/dev/kvm"):
        return False, "/dev/kvm does not exist"
    return True, "vmx/svm and /dev/kvm present"


def resolve_accel(accel, icount):
    """The accelerator to use: auto picks KVM only where it can work; icount needs TCG."""
    if accel == "kvm":
        if icount:
            raise ConfigError("ICOUNT=1 needs TCG (icount is a TCG feature): use ACCEL=tcg "
                              "or ACCEL=auto")
        ok, why = kvm_usable()
        if not ok:
            raise ConfigError(f"ACCEL=kvm: KVM is not usable here ({why}); use ACCEL=tcg")
        return "kvm"
    if accel == "auto" and not icount and kvm_usable()[0]:
        return "kvm"
    return "tcg"


def validate_config(smp, mem, accel, icount, cpu="max", numa=0, qemu="auto", firmware="bios"):
    """Checks the Make variables; returns smp, mem, mem_bytes, accel (resolved:
    tcg or kvm), accel_requested, icount, cpu, numa (nodes, 0 = none), qemu
    (find_qemu's answer) and firmware.  Raises ConfigError (a ValueError)."""
    smp = parse_smp(smp)
    mem, mem_bytes = parse_mem(mem)
    requested = parse_accel(accel)
    icount = parse_icount(icount)
    found = find_qemu(qemu, smp)
    nodes = parse_numa(numa, smp, mem_bytes)
    check_host_mem(mem, mem_bytes)
    return {"smp": smp, "mem": mem, "mem_bytes": mem_bytes,
            "accel": resolve_accel(requested, icount), "accel_requested": requested,
            "icount": icount, "cpu": parse_cpu(cpu, found["binary"]), "numa": nodes,
            "qemu": found, "firmware": parse_firmware(firmware)}


# ---- firmware ----------------------------------------------------------------

FIRMWARES = ("bios", "uefi")
# OVMF from Debian's ovmf package, the 4 MiB flash layout: code and variable
# store in separate files.  The code is read-only; the variable store is
# written by the firmware (boot entries), so every boot gets its own copy and
# no boot sees another's entries.
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def parse_firmware(value):
    """FIRMWARE: bios (SeaBIOS, QEMU's default) or uefi (OVMF, which must be installed)."""
    text = str(value).strip()
    if text not in FIRMWARES:
        raise ConfigError(f"FIRMWARE='{value}': expected bios (SeaBIOS) or uefi (OVMF)")
    if text == "uefi":
        for path in (OVMF_CODE, OVMF_VARS):
            if not os.path.isfile(path):
                raise ConfigError(f"FIRMWARE=uefi: {path} does not exist (Debian package "
                                  f"ovmf; make deps installs it)")
    return text


# Under KVM the guest runs on the host's CPU model.  migratable=off also
# passes the features QEMU holds back for live migration, invtsc above all:
# without it QEMU reports neither the invariant TSC nor CPUID 0x40000010 (the
# TSC rate, which vmware-cpuid-freq, on by default, fills in when the TSC is
# stable), and the kernel would have to calibrate against the emulated PIT.
KVM_CPU = "host,migratable=off"


def cpu_model(cpu, firmware, accel):
    """The -cpu value.  "max" under KVM becomes KVM_CPU.  Under TCG with OVMF
    the MONITOR feature goes: OVMF parks the APs it started in a MONITOR/MWAIT
    loop until the kernel's INIT, and a TCG vCPU in that loop spins instead of
    sleeping, taking host time CPU 0 needs (the kernel's memory set-up at
    4 GiB, SMP=2, took 1.8-2.8 s with MONITOR and 1.1-2.4 s without, three
    interleaved boots each on a busy host).  QEMU hides MONITOR from KVM
    guests itself."""
    if accel == "kvm" and cpu == "max":
        return KVM_CPU
    if firmware == "uefi" and accel == "tcg":
        return cpu + ",-monitor"
    return cpu


def firmware_args(firmware, vars_copy):
    """QEMU's firmware arguments: none for SeaBIOS (built in); for OVMF two
    flash devices, the code read-only and vars_copy writable, and a display
    adapter: UEFI has no text mode, so GRUB hands the kernel a graphics mode
    (as on a real machine) and without one warns that it found none."""
    if firmware == "bios":
        return []
    return ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}",
            "-device", "bochs-display"]


@contextlib.contextmanager
def firmware_files(firmware, near):
    """Yields the writable variable store for one boot (a fresh copy of
    OVMF's template next to `near`, removed afterwards), or None for bios."""
    if firmware != "uefi":
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="ovmf-vars-", suffix=".fd",
                                dir=os.path.dirname(os.path.abspath(near)))
    try:
        with os.fdopen(fd, "wb") as out, open(OVMF_VARS, "rb") as src:
            shutil.copyfileobj(src, out)
        yield path
    finally:
        os.remove(path)


# ---- ISO -------------------------------------------------------------------

def check_cmdline(cmdline):
    """The kernel command line as words; refuses what GRUB's line cannot carry."""
    text = cmdline or ""
    if len(text) > CMDLINE_MAX:
        raise ConfigError(f"kernel command line is {len(text)} characters; at most "
                          f"{CMDLINE_MAX} fit")
    # GRUB hands quotes and backslashes on escaped (a"b arrives as a\"b), so they
    # cannot reach the kernel as typed.
    for c in text:
        if c in "'\"\\" or not (c == " " or c.isprintable()) or ord(c) > 126:
            raise ConfigError(f"kernel command line '{text}': character {c!r} is not allowed "
                              f"(printable ASCII without quotes and backslashes)")
    return text.split()


def grub_cfg(cmdline, template=GRUB_TEMPLATE):
    """The template with each command-line word single-quoted (GRUB expands
    nothing inside single quotes)."""
    words = check_cmdline(cmdline)
    with open(template) as f:
        text = f.read()
    if text.count(GRUB_PLACEHOLDER) != 1:
        raise ConfigError(f"{template}: expected exactly one {GRUB_PLACEHOLDER}")
    return text.replace(GRUB_PLACEHOLDER, " ".join(f"'{w}'" for w in words))


def build_iso(kernel_elf, cmdline, out_iso, template=GRUB_TEMPLATE):
    """Writes a hybrid BIOS + UEFI ISO of kernel_elf with this command line; skips
    the work when out_iso was made from this very kernel file (path, size and
    modification time) with the same grub.cfg, and is newer than the template
    and this script.  The record is kept next to it as <iso>.grub.cfg.
    Returns out_iso."""
    if not os.path.isfile(kernel_elf):
        raise FileNotFoundError(f"{kernel_elf}: no kernel to put on the ISO (run make)")
    for platform, path in GRUB_PLATFORM_DIRS.items():
        if not os.path.isdir(path):
            raise FileNotFoundError(f"{path}: GRUB's {platform} modules are not installed "
                                    f"(make deps installs them); the ISO would not boot "
                                    f"under {platform.upper()}")
    st = os.stat(kernel_elf)
    record = (f"# kernel {os.path.abspath(kernel_elf)} size {st.st_size} mtime_ns {st.st_mtime_ns}\n"
              + grub_cfg(cmdline, template))
    record_path = out_iso + ".grub.cfg"
    if _iso_up_to_date(out_iso, record_path, record, [template, __file__]):
        return out_iso
    os.makedirs(os.path.dirname(os.path.abspath(out_iso)), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out_iso))) as tmp:
        tree = os.path.join(tmp, "iso")
        os.makedirs(os.path.join(tree, "boot", "grub"))
        # GRUB reads the kernel through the firmware: without debug info it is
        # a fraction of the size and boots faster.  gdb uses the unstripped file.
        subprocess.run(["objcopy", "--strip-debug", kernel_elf,
                        os.path.join(tree, "boot", "kernel.elf")], check=True)
        with open(os.path.join(tree, "boot", "grub", "grub.cfg"), "w") as f:
            f.write(grub_cfg(cmdline, template))
        tmp_iso = os.path.join(tmp, "out.iso")
        # Without -d, grub-mkrescue makes an image for each installed platform
        # (GRUB_PLATFORM_DIRS): El Torito BIOS boot plus an EFI system
        # partition image, and an MBR so that the same file boots from a USB
        # stick.  Every module listed must exist for both platforms or
        # grub-mkrescue stops; the BIOS core image brings biosdisk itself.
        proc = subprocess.run(
            ["grub-mkrescue", "-o", tmp_iso, f"--install-modules={GRUB_MODULES}",
             "--fonts=", "--locales=", "--themes=", tree],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"grub-mkrescue failed for {out_iso}:\n{proc.stdout}")
        os.replace(tmp_iso, out_iso)
    with open(record_path, "w") as f:
        f.write(record)
    return out_iso


def _iso_up_to_date(iso, record_path, record, inputs):
    try:
        with open(record_path) as f:
            if f.read() != record:
                return False
        built = os.path.getmtime(iso)
        return all(os.path.getmtime(p) <= built for p in inputs)
    except OSError:
        return False


# ---- boot ------------------------------------------------------------------

# Guest RAM is preallocated when it is at most this share of what the host
# can give (ram_prealloc).
PREALLOC_MAX_SHARE = 0.25


def ram_prealloc(mem_bytes, available=None):
    """Whether the guest's RAM is faulted in when QEMU starts (prealloc=on)
    rather than page by page as the guest first touches it.  Touched on
    demand, the same loop ran at one of two speeds boot to boot here (1x or
    1.5-1.9x slower, for a whole boot or switching in the middle of one): the
    host's transparent huge pages back a guest page or not depending on what
    the host had free at the fault and on when khugepaged collapses it.
    Preallocated, all of it is faulted in at start while QEMU's
    MADV_HUGEPAGE holds, and three boots agreed within 3-4 % where they had
    differed by 60-90 % (docs/results.md).  A guest larger than
    PREALLOC_MAX_SHARE of the host's available memory (MEM beyond the host's
    RAM, e.g. 64G here) keeps reserve=off: the host pays only for what the
    guest touches."""
    available = host_mem_available() if available is None else available
    return available is not None and mem_bytes <= available * PREALLOC_MAX_SHARE


def memory_args(mem_bytes, smp, numa, prealloc=False):
    """Guest RAM as memory-backend-ram objects, preallocated (ram_prealloc)
    or with reserve=off, so MEM may exceed the host's RAM (the guest touches
    only its metadata): one backend for the machine, or one per NUMA node
    with its CPUs (numa_layout)."""
    mib = mem_bytes >> 20
    backing = "prealloc=on" if prealloc else "reserve=off"
    if not numa:
        return ["-m", f"{mib}M", "-object", f"memory-backend-ram,id=ram0,size={mib}M,{backing}",
                "-machine", "memory-backend=ram0"]
    args = ["-m", f"{mib}M"]
    for i, (first, count, size) in enumerate(numa_layout(numa, smp, mem_bytes)):
        args += ["-object", f"memory-backend-ram,id=ram{i},size={size >> 20}M,{backing}",
                 "-numa", f"node,nodeid={i},memdev=ram{i},cpus={first}-{first + count - 1}"]
    return args


def qemu_command(iso, smp, mem, accel, icount, serial, gdb_port=None, cpu="max", numa=0,
                 found=None, firmware="bios", vars_copy=None, debug_exit=True, machine_opts=(),
                 extra_args=()):
    found = found or find_qemu("auto", smp)
    _, mem_bytes = parse_mem(mem)
    cmd = [found["binary"]] + found["rom_args"] + machine_args(debug_exit, machine_opts) + \
        firmware_args(firmware, vars_copy) + \
        ["-cpu", cpu_model(cpu, firmware, accel), "-smp", str(smp)] + \
        memory_args(mem_bytes, smp, numa, ram_prealloc(mem_bytes))
    if accel == "kvm":
        cmd += ["-accel", "kvm"]
    elif icount:
        # icount runs every vCPU on one thread: it is what makes time deterministic.
        cmd += ["-accel", "tcg,thread=single", "-icount", "shift=0,align=off,sleep=off"]
    else:
        cmd += ["-accel", "tcg,thread=multi"]
    cmd += serial + list(extra_args) + ["-cdrom", iso, "-boot", "d"]
    if gdb_port is not None:
        cmd += ["-gdb", f"tcp::{gdb_port}", "-S"]
    return cmd


def verdict_for(status, log_text=""):
    """The verdict of a boot.  Status 0 is a guest reset: the kernel's own
    (exit=reset), when the log's last line is its framed verdict, else a
    triple fault, which counts as a panic."""
    if status == 0:
        return final_verdict(log_text) or "panic"
    return VERDICTS.get(status, "qemu-error")


FINAL_VERDICT_RE = re.compile(r"^@@VERDICT (\S+)$")


def final_verdict(log_text):
    """The kernel's verdict when it is the log's last line (kernel/exit.h), else None."""
    lines = [ln for ln in log_text.replace("\r", "").split("\n") if ln.strip()]
    m = FINAL_VERDICT_RE.match(lines[-1]) if lines else None
    return m.group(1) if m and m.group(1) in CLI_STATUS else None


def explain(status, interactive=False, log_text=""):
    if status == 0 and interactive:
        return ("QEMU quit before the kernel ended the run (Ctrl-A X, the monitor's quit, "
                "gdb's kill, or a guest reset)")
    if status == 0 and final_verdict(log_text):
        return "the kernel reset the machine after printing its verdict (exit=reset)"
    if status == 0:
        return ("QEMU exited without an exit code from the kernel: the guest reset itself, "
                "most likely a triple fault")
    if status in (124, 137):
        return "the run did not finish within the timeout (hang or too slow)"
    if status not in VERDICTS:
        return f"QEMU failed (status {status})"
    return None


def run(iso, smp, mem, accel, icount, timeout, log, stream=True, interactive=False,
        gdb_port=None, cpu="max", numa=0, qemu="auto", firmware="bios", debug_exit=True,
        machine_opts=(), extra_args=()):
    """Boots iso; returns Result.  log receives the serial output as it
    arrives (without "\\r"); stream copies it to stdout too.  interactive
    leaves the terminal to QEMU (serial and monitor on stdio, Ctrl-A X quits);
    gdb_port adds QEMU's gdb stub and waits for the debugger.  cpu, numa and
    qemu: see validate_config.  firmware: bios or uefi; debug_exit=False and
    machine_opts (MACHINE_OPTS) take QEMU's conveniences away; extra_args go
    to QEMU as they are (tests: a second serial port, an extra ACPI table)."""
    cfg = validate_config(smp, mem, accel, icount, cpu, numa, qemu, firmware)
    timeout = parse_timeout(timeout)
    if timeout is None:
        raise ConfigError("run(): a timeout is required")
    if not os.path.isfile(iso):
        raise FileNotFoundError(f"{iso}: no such ISO")
    if log:
        os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
    if interactive:
        serial = ["-chardev", "stdio,id=ser0,mux=on" + (f",logfile={log}" if log else ""),
                  "-serial", "chardev:ser0", "-mon", "chardev=ser0"]
    else:
        serial = ["-serial", "stdio"]
    with firmware_files(cfg["firmware"], log or iso) as vars_copy:
        qemu = qemu_command(iso, cfg["smp"], cfg["mem"], cfg["accel"], cfg["icount"], serial,
                            gdb_port, cfg["cpu"], cfg["numa"], cfg["qemu"], cfg["firmware"],
                            vars_copy, debug_exit, machine_opts, extra_args)
        return _boot(qemu, cfg["accel"], timeout, log, stream, interactive)


def _boot(qemu, accel, timeout, log, stream, interactive):
    # `timeout` bounds QEMU even if this script dies; --foreground keeps an
    # interactive QEMU attached to the terminal.
    cmd = ["timeout", "-k", str(KILL_GRACE)] + (["--foreground"] if interactive else []) + \
          [str(timeout)] + qemu
    start = time.monotonic()
    if interactive:
        status = subprocess.run(cmd).returncode
        text = ""
        if log and os.path.exists(log):
            with open(log, "rb") as f:
                text = f.read().decode("utf-8", "replace").replace("\r", "")
        # Status 0 here is usually the user quitting, not a crash.
        verdict = "qemu-error" if status == 0 else verdict_for(status)
        return Result(verdict, status, time.monotonic() - start, text, None, accel, cmd, "")
    return _run_captured(cmd, accel, start, timeout, log, stream)


def _run_captured(cmd, accel, start, timeout, log, stream):
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    errors = []
    err_thread = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    err_thread.start()
    chunks = []
    first_line = None
    logf = open(log, "wb") if log else None
    try:
        while True:
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            if first_line is None and b"\n" in data:
                first_line = time.monotonic() - start
            data = data.replace(b"\r", b"")
            chunks.append(data)
            if logf:
                logf.write(data)
                logf.flush()
            if stream:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
        try:
            status = proc.wait(timeout=timeout + 2 * KILL_GRACE)
        except subprocess.TimeoutExpired:  # `timeout` itself did not end it
            status = 124
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if logf:
            logf.close()
    err_thread.join(5)
    seconds = time.monotonic() - start
    qemu_err = b"".join(e for e in errors if e).decode("utf-8", "replace").strip()
    text = b"".join(chunks).decode("utf-8", "replace")
    verdict = verdict_for(status, text)
    if status == 137 and seconds < timeout:
        # `timeout` says 137 for its own KILL, but also when something else
        # (the OOM killer) killed QEMU before the time was up.
        verdict = "qemu-error"
        qemu_err = (qemu_err + "\n" if qemu_err else "") + \
            f"QEMU was killed (SIGKILL) after {seconds:.1f} s, before the {timeout} s timeout"
    if qemu_err and verdict == "qemu-error":
        print(f"qemu.py: QEMU said: {qemu_err}", file=sys.stderr)
    return Result(verdict, status, seconds, text, first_line, accel, cmd, qemu_err)


# ---- command line ----------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iso", help="boot this ISO")
    ap.add_argument("--build-iso", metavar="ISO", help="write an ISO of --kernel with --cmdline")
    ap.add_argument("--check", action="store_true", help="only validate the settings")
    ap.add_argument("--kernel", help="kernel ELF for --build-iso")
    ap.add_argument("--cmdline", default="", help="kernel command line for --build-iso")
    ap.add_argument("--smp", default="1")
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--accel", default="auto")
    ap.add_argument("--icount", default="0")
    ap.add_argument("--firmware", default="bios")
    ap.add_argument("--no-debug-exit", action="store_true",
                    help="without isa-debug-exit, as on hardware (the kernel resets or halts)")
    ap.add_argument("--machine-opts", default="",
                    help=f"comma list of {', '.join(sorted(MACHINE_OPTS))}")
    ap.add_argument("--timeout", default="")
    ap.add_argument("--log", help="serial log file")
    ap.add_argument("--quiet", action="store_true", help="do not copy the serial output here")
    ap.add_argument("--interactive", action="store_true",
                    help="serial and QEMU monitor on this terminal (Ctrl-A X quits)")
    ap.add_argument("--gdb", metavar="PORT", help="start stopped, gdb stub on PORT")
    ap.add_argument("--symbols", default="build/kernel.elf", help="ELF for the gdb hint")
    ap.add_argument("--cpu", default="max", help="QEMU CPU model (CPU=), from its -cpu help")
    ap.add_argument("--numa", default="0", help="NUMA nodes (NUMA=), 0 = none")
    ap.add_argument("--qemu", default="auto", choices=QEMU_CHOICES,
                    help="auto: the system QEMU unless SMP needs a newer one")
    ap.add_argument("--provide", action="store_true",
                    help="make deps: provide a QEMU >= 9 when the system's is older")
    opts = ap.parse_args(argv[1:])
    if opts.provide:
        return provide()
    try:
        if opts.build_iso:
            if not opts.kernel:
                raise ConfigError("--build-iso needs --kernel")
            build_iso(opts.kernel, opts.cmdline, opts.build_iso)
            return 0
        cfg = validate_config(opts.smp, opts.mem, opts.accel, opts.icount, opts.cpu, opts.numa,
                              opts.qemu, opts.firmware)
        machine_opts = [o for o in opts.machine_opts.split(",") if o]
        machine_args(True, machine_opts)  # refuses unknown options here, before booting
        timeout = parse_timeout(opts.timeout, 60)
        gdb_port = parse_port(opts.gdb) if opts.gdb else None
        if opts.check:
            return 0
        if not opts.iso:
            raise ConfigError("give --iso (or --build-iso / --check)")
    except (ConfigError, FileNotFoundError, RuntimeError) as e:
        print(f"qemu.py: {e}", file=sys.stderr)
        return 2
    how = f"{cfg['accel']}, {cfg['firmware']}" + (", icount" if cfg["icount"] else "")
    numa = f" NUMA={cfg['numa']}" if cfg["numa"] else ""
    print(f"qemu.py: booting {opts.iso} with {cfg['qemu']['version_text']}: SMP={cfg['smp']} "
          f"MEM={cfg['mem']}{numa} CPU={cfg['cpu']} ({how}), "
          f"timeout {timeout} s" + (f", serial log {opts.log}" if opts.log else ""),
          file=sys.stderr)
    if gdb_port is not None:
        print(f"qemu.py: QEMU waits for gdb on port {gdb_port}; in another terminal run:\n"
              f"    gdb -q {opts.symbols} -ex 'target remote localhost:{gdb_port}' "
              f"-ex 'hbreak kmain' -ex continue", file=sys.stderr)
    if opts.interactive:
        print("qemu.py: Ctrl-A X quits QEMU, Ctrl-A C switches to its monitor", file=sys.stderr)
    res = run(opts.iso, cfg["smp"], cfg["mem"], cfg["accel"], cfg["icount"], timeout, opts.log,
              stream=not opts.quiet, interactive=opts.interactive, gdb_port=gdb_port,
              cpu=cfg["cpu"], numa=cfg["numa"], qemu=opts.qemu, firmware=cfg["firmware"],
              debug_exit=not opts.no_debug_exit, machine_opts=machine_opts)
    why = explain(res.status, opts.interactive, res.log_text)
    first = f", first serial line after {res.first_line_seconds:.2f} s" \
        if res.first_line_seconds is not None else ""
    print(f"qemu.py: verdict {res.verdict} (QEMU status {res.status}) after "
          f"{res.seconds:.2f} s{first}" + (f": {why}" if why else ""), file=sys.stderr)
    return CLI_STATUS[res.verdict]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
