#!/usr/bin/python3
"""Which QEMU a run uses, and `make deps`'s provision of a newer one.

QEMU before 9 (Debian 12 ships 7.2) gives TCG guests no x2APIC, so it
cannot address more than 255 CPUs.  `make deps` provides a newer one on
such a host without touching the system's: Debian's backports packages,
fetched with apt-get through a private package list (never the system's)
and unpacked with dpkg -x into TOOLS_QEMU_DIR.  That build finds its own
ROMs relative to its binary (usr/share/qemu); its BIOS comes from the
seabios package unpacked beside it, named with -L.  The system QEMU stays
the default for runs that do not need more (so `make bench` keeps its
figures comparable); the new one is used when the configuration needs it
(more than 255 CPUs) or the caller asks for it (the SMP tests, x2APIC).

scripts/qemu.py imports and re-exports what its callers use (find_qemu,
version, qemu_version, QEMU, ConfigError).
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU = "qemu-system-x86_64"   # the system's, on PATH
SMP_MAX = 1024                # the kernel's PLAT_MAX_CPUS; each QEMU may allow fewer


class ConfigError(ValueError):
    """A bad setting, with a message that names it."""


TOOLS_QEMU_DIR = os.path.join(ROOT, "build", "tools", "qemu-10")
TOOLS_QEMU_BIN = os.path.join(TOOLS_QEMU_DIR, "usr", "bin", "qemu-system-x86_64")
TOOLS_QEMU_ROMS = [os.path.join(TOOLS_QEMU_DIR, "usr", "share", "seabios"),
                   os.path.join(TOOLS_QEMU_DIR, "usr", "share", "qemu")]
TOOLS_QEMU_STAMP = TOOLS_QEMU_DIR + ".state"   # "ok <version>", "system <version>", "failed ..."
TOOLS_QEMU_PACKAGES = ["qemu-system-x86", "qemu-system-data", "seabios"]
X2APIC_QEMU = (9, 0)          # first version whose TCG offers x2APIC (so > 255 CPUs)
XAPIC_SMP_MAX = 255           # xAPIC ids 0..254
QEMU_CHOICES = ("auto", "system", "new")

_versions = {}


def qemu_version(binary=QEMU):
    """(major, minor, micro), "the --version line" of a QEMU binary, or
    (None, why) when it does not run."""
    if binary not in _versions:
        try:
            out = subprocess.run([binary, "--version"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            _versions[binary] = (None, f"{binary} does not run ({e})")
        else:
            m = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
            line = out.splitlines()[0].strip() if out.strip() else ""
            _versions[binary] = ((tuple(int(x) for x in m.groups()), line) if m
                                 else (None, f"{binary} --version said '{line}'"))
    return _versions[binary]


def smp_max_for(version):
    """CPUs a QEMU of this version can give this kernel under TCG."""
    return SMP_MAX if version and version >= X2APIC_QEMU else XAPIC_SMP_MAX


def _vtext(version):
    return ".".join(map(str, version)) if version else "unknown"


def find_qemu(want="auto", smp=1):
    """The QEMU to run: {"binary", "version" (tuple), "version_text" (its
    --version line), "rom_args" (-L options), "smp_max"}.  want: auto (the
    system's unless smp needs more than it offers), system, or new (QEMU >= 9:
    the system's if it is that new, else the one `make deps` provided).
    Raises ConfigError naming the versions when no QEMU fits."""
    if want not in QEMU_CHOICES:
        raise ConfigError(f"QEMU='{want}': expected one of {', '.join(QEMU_CHOICES)}")
    sys_v, sys_text = qemu_version(QEMU)
    system = {"binary": QEMU, "version": sys_v, "version_text": sys_text, "rom_args": [],
              "smp_max": smp_max_for(sys_v)}
    if want == "system" or (want == "auto" and sys_v and smp <= system["smp_max"]):
        if sys_v is None:
            raise ConfigError(f"no usable system QEMU: {sys_text} (make deps installs it)")
        if smp > system["smp_max"]:
            raise ConfigError(f"SMP={smp}: the system QEMU {_vtext(sys_v)} offers TCG guests "
                              f"at most {system['smp_max']} CPUs (no x2APIC before "
                              f"{_vtext(X2APIC_QEMU)})")
        return system
    if sys_v and sys_v >= X2APIC_QEMU:
        return system
    new_v, new_text = qemu_version(TOOLS_QEMU_BIN) if os.path.exists(TOOLS_QEMU_BIN) \
        else (None, "not provided")
    if new_v is None or new_v < X2APIC_QEMU:
        need = f"SMP={smp} needs" if smp > system["smp_max"] else "this run needs"
        raise ConfigError(f"{need} QEMU >= {_vtext(X2APIC_QEMU)} (x2APIC under TCG, up to "
                          f"{SMP_MAX} CPUs); the system QEMU is {_vtext(sys_v)} and "
                          f"{TOOLS_QEMU_BIN} is {new_text if new_v is None else _vtext(new_v)}: "
                          f"run `make deps` (as root, or with apt-get download allowed)")
    return {"binary": TOOLS_QEMU_BIN, "version": new_v, "version_text": new_text,
            "rom_args": [a for d in TOOLS_QEMU_ROMS for a in ("-L", d)],
            "smp_max": smp_max_for(new_v)}


def version(want="auto", smp=1):
    """The --version line of the QEMU a run with these settings uses (for
    meta.json and summaries); "unavailable: <why>" when there is none."""
    try:
        return find_qemu(want, smp)["version_text"]
    except ConfigError as e:
        return f"unavailable: {e}"


def _apt_options(state):
    """apt-get options for a private package list and cache under state/."""
    return ["-o", f"Dir::Etc::SourceList={state}/sources.list",
            "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"Dir::State::Lists={state}/lists",
            "-o", f"Dir::Cache={state}/cache",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Sandbox::User=" + (os.environ.get("USER") or "root")]


def provide(dest=TOOLS_QEMU_DIR, log=sys.stderr):
    """`make deps`: makes a QEMU >= 9 available.  Returns 0 when there is one
    (the system's, or one unpacked into dest), 1 with a message when it could
    not be fetched (runs that do not need it are unaffected)."""
    def say(text):
        print(f"deps: {text}", file=log)
    sys_v, _ = qemu_version(QEMU)
    if sys_v and sys_v >= X2APIC_QEMU:
        _write_stamp(f"system {_vtext(sys_v)}")
        return 0
    release = _os_release()
    codename = release.get("VERSION_CODENAME", "")
    if release.get("ID") != "debian" or not codename:
        return _failed(say, f"the system QEMU is {_vtext(sys_v)} and this is not Debian: "
                       f"install QEMU >= {_vtext(X2APIC_QEMU)} for runs with more than "
                       f"{XAPIC_SMP_MAX} CPUs")
    suite = f"{codename}-backports"
    state = dest + ".apt"
    for d in (f"{state}/lists/partial", f"{state}/cache/archives/partial", f"{state}/debs"):
        os.makedirs(d, exist_ok=True)
    with open(f"{state}/sources.list", "w") as f:
        f.write(f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                f"http://deb.debian.org/debian {suite} main\n")
    say(f"the system QEMU is {_vtext(sys_v)}; fetching QEMU from Debian {suite} into "
        f"{os.path.relpath(dest, ROOT)} (a private package list; the system's QEMU stays)")
    opts = _apt_options(state)
    for old in os.listdir(f"{state}/debs"):  # an earlier fetch's versions
        os.remove(os.path.join(state, "debs", old))
    steps = [(["apt-get"] + opts + ["update"], None),
             (["apt-get"] + opts + ["download"] + [f"{p}/{suite}" for p in TOOLS_QEMU_PACKAGES],
              f"{state}/debs")]
    for cmd, cwd in steps:
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        if proc.returncode != 0:
            tail = " / ".join(proc.stdout.strip().splitlines()[-3:])
            return _failed(say, f"`{' '.join(cmd[:1] + cmd[-len(TOOLS_QEMU_PACKAGES) - 1:])}` "
                           f"failed: {tail}")
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for deb in sorted(os.listdir(f"{state}/debs")):
        if deb.endswith(".deb"):
            subprocess.run(["dpkg", "-x", os.path.join(state, "debs", deb), tmp], check=True)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    _versions.pop(TOOLS_QEMU_BIN, None)
    new_v, text = qemu_version(TOOLS_QEMU_BIN)
    if new_v is None or new_v < X2APIC_QEMU:
        return _failed(say, f"the unpacked QEMU does not serve: {text}")
    _write_stamp(f"ok {_vtext(new_v)}")
    say(f"{text} ready in {os.path.relpath(dest, ROOT)}")
    return 0


def _os_release():
    try:
        with open("/etc/os-release") as f:
            return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        return {}


def _write_stamp(text):
    os.makedirs(os.path.dirname(TOOLS_QEMU_STAMP), exist_ok=True)
    with open(TOOLS_QEMU_STAMP, "w") as f:
        f.write(text + "\n")


def _failed(say, why):
    _write_stamp(f"failed {why}")
    say(f"no QEMU >= {_vtext(X2APIC_QEMU)}: {why}")
    say(f"runs with more than {XAPIC_SMP_MAX} CPUs and the tests that need x2APIC will "
        f"say so; retry with `rm {os.path.relpath(TOOLS_QEMU_STAMP, ROOT)}; make deps`")
    return 1
