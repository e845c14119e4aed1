"""The host's full speed, remembered across boots: the kernel's `probe_ref=`.

Under an emulator the host's cores may run a whole set of benchmark runs
slowed (1.6-1.9x on the development host, in stretches of milliseconds to
seconds).  The kernel probes the host around every job and judges a run
slowed when its probe took over 1.25x the fastest probe seen
(bench/harness.c); a boot the host slowed from its first probe on has
nothing faster of its own to compare with.  So the host tools remember, per
host CPU model, QEMU version, accelerator and guest CPU model, the probes
recent timing boots took at their start (meta.csv speed_probe_cycles), and
pass the fastest of them to the next boot as probe_ref=.  Only the last
KEEP boots count, so a host that changed (a new machine in the same
checkout, a slower cloud instance) is followed within KEEP boots.
"""
import json
import os

import hostfacts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, "build", "host-speed.json")
KEEP = 20


def key(cfg):
    """What the probe's cycle count depends on: the host CPU, the emulator and
    how it runs the guest.  None under icount (no probes: time is instructions)."""
    if cfg["icount"]:
        return None
    return "|".join([hostfacts.host_facts()["cpu_model"], cfg["qemu"]["version_text"],
                     cfg["accel"], cfg["cpu"]])


def _load(path):
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: start afresh (it is only a hint)
    return state if isinstance(state, dict) else {}


def reference(k, path=STATE):
    """The fastest start-of-boot probe of the last KEEP boots under key k, or None."""
    probes = [p for p in _load(path).get(k, []) if isinstance(p, int) and p > 0] if k else []
    return min(probes) if probes else None


def record(k, probe, path=STATE):
    """Adds a boot's start-of-boot probe (cycles) under key k."""
    if not k or not isinstance(probe, int) or probe <= 0:
        return
    state = _load(path)
    state[k] = ([p for p in state.get(k, []) if isinstance(p, int)] + [probe])[-KEEP:]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + f".{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, path)  # two runs at once: the last writer wins, nothing torn


def boot_probe(kernel_meta):
    """A run's own start-of-boot probe from its meta.csv values, or None."""
    try:
        v = int((kernel_meta or {}).get("speed_probe_cycles", ""))
    except ValueError:
        return None
    return v if v > 0 else None
