"""The Make variables of `make bench` checked and turned into one run
configuration, before anything is built or booted.

BENCH, RUNS, SEED, PROFILE and ARGS are judged here; SMP, MEM, ACCEL, ICOUNT,
TIMEOUT and what the boot loader's line can carry by scripts/qemu.py, whose
ConfigError is the one error every tool raises for a bad setting.
"""
import re

import qemu
import results
from qemu import ConfigError

DEFAULT_TIMEOUT = {False: 300, True: 900}  # seconds, by icount
# Kernel command-line keys this driver composes; ARGS must not repeat them.
OWN_KEYS = ("bench", "runs", "profile", "seed", "icount")
# Make variable -> (option name, default), the options every bench.py command takes.
MAKE_VARIABLES = (("SMP", "8"), ("MEM", "1G"), ("ACCEL", "auto"), ("ICOUNT", "0"),
                  ("BENCH", "all"), ("RUNS", ""), ("ARGS", ""), ("TIMEOUT", ""),
                  ("PROFILE", "full"), ("SEED", ""), ("CPU", "max"), ("NUMA", "0"),
                  ("FIRMWARE", "bios"))

__all__ = ["ConfigError", "validate", "add_options"]


def parse_bench(text):
    """BENCH: 'all' or a comma list of known benchmarks -> list of names."""
    text = text.strip()
    if text in ("", "all"):
        return list(results.BENCHES)
    names = text.split(",")
    for name in names:
        if name not in results.BENCHES:
            raise ConfigError(f"BENCH='{text}': unknown benchmark '{name}' "
                              f"(expected all or a comma list of {','.join(results.BENCHES)})")
    if len(set(names)) != len(names):
        raise ConfigError(f"BENCH='{text}': a benchmark is listed twice")
    return names


def parse_positive(name, text, allow_empty=True):
    text = text.strip()
    if text == "" and allow_empty:
        return None
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise ConfigError(f"{name}='{text}': expected a positive integer")
    return int(text)


def parse_seed(text):
    text = text.strip()
    if text == "":
        return None
    if not re.fullmatch(r"[0-9]+", text) or int(text) >= 1 << 64:
        raise ConfigError(f"SEED='{text}': expected an integer 0..2^64-1")
    return int(text)


def parse_args_words(text):
    """ARGS: extra kernel words.  The kernel judges their keys (unknown key ->
    configuration error), qemu.py what the boot loader line can carry; here
    only the keys this driver sets from other Make variables are refused."""
    words = text.split()
    for w in words:
        key = w.split("=", 1)[0]
        if key in OWN_KEYS:
            raise ConfigError(f"ARGS='{text}': '{key}=' is set by the "
                              f"{key.upper()} Make variable, not by ARGS")
    return words


def add_options(ap):
    """The Make variables as --smp, --mem, ... options of an argparse parser."""
    for name, default in MAKE_VARIABLES:
        ap.add_argument(f"--{name.lower()}", default=default)


def validate(opts):
    """Check every variable before anything is built; returns the run config dict."""
    cfg = {
        "bench": parse_bench(opts.bench),
        "runs": parse_positive("RUNS", opts.runs),
        "seed": parse_seed(opts.seed),
        "profile": opts.profile.strip() or "full",
        "args": parse_args_words(opts.args),
    }
    if cfg["profile"] not in results.PROFILES:
        raise ConfigError(f"PROFILE='{opts.profile}': expected one of "
                          f"{', '.join(results.PROFILES)}")
    cfg.update(qemu.validate_config(smp=opts.smp, mem=opts.mem, accel=opts.accel,
                                    icount=opts.icount, cpu=opts.cpu, numa=opts.numa,
                                    firmware=opts.firmware))
    cfg["timeout"] = qemu.parse_timeout(opts.timeout, DEFAULT_TIMEOUT[bool(cfg["icount"])])
    cfg["cmdline"] = compose_cmdline(cfg)
    qemu.check_cmdline(cfg["cmdline"])
    cfg["make"] = {name: getattr(opts, name.lower()) for name, _ in MAKE_VARIABLES}
    return cfg


def compose_cmdline(cfg):
    words = [f"bench={','.join(cfg['bench'])}"]
    if cfg["runs"] is not None:
        words.append(f"runs={cfg['runs']}")
    words.append(f"profile={cfg['profile']}")
    if cfg["seed"] is not None:
        words.append(f"seed={cfg['seed']}")
    if cfg["icount"]:
        words.append("icount=1")  # the kernel labels its time figures instr, not ns
    return " ".join(words + cfg["args"])
