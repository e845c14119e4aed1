"""Facts about the host and the source tree that a results directory records:
the commit, the CPU model and core count, tool versions, the emulator that
ran, and how busy the host was while it ran."""
import os
import platform
import shutil
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def first_line(cmd):
    """The first line of a command's output, None when it fails or says nothing."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.splitlines()[0].strip() if out.returncode == 0 and out.stdout else None


def git_commit():
    commit = first_line(["git", "rev-parse", "--short=7", "HEAD"]) or "nogit"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=ROOT,
                           capture_output=True).returncode == 1 if commit != "nogit" else False
    return commit + ("-dirty" if dirty else "")


def host_facts():
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_model": model or platform.processor() or "unknown",
        "cpu_cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "gnuplot": first_line(["gnuplot", "--version"]),
        "python": platform.python_version(),
    }


# ---- what else the host was doing during a boot ------------------------------
#
# Under TCG each vCPU is a host thread, so a figure is only as good as the host
# cores it got.  /proc/stat before and after the boot gives the host's busy and
# steal time; the run's own QEMU is taken out through the CPU time of the
# children this process waited for (RUSAGE_CHILDREN covers QEMU under
# `timeout`), so what remains is everyone else's load.

# A host counts as busy when others used at least this share of its cores over
# the boot, or the hypervisor stole at least STEAL_BUSY of its time.
OTHERS_BUSY = 0.10
STEAL_BUSY = 0.05
PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def parse_proc_stat(text):
    """The aggregate `cpu` line of /proc/stat -> {field: jiffies}."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            values = [int(v) for v in parts[1:1 + len(PROC_STAT_FIELDS)]]
            values += [0] * (len(PROC_STAT_FIELDS) - len(values))
            return dict(zip(PROC_STAT_FIELDS, values))
    raise ValueError("/proc/stat has no aggregate 'cpu' line")


def _parent(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descends_from(pid, ancestor):
    for _ in range(16):
        pid = _parent(pid)
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def qemu_processes():
    """[(pid, command line)] of the QEMU system emulators running now that this
    process did not start (its own boot is not "other load")."""
    found, me = [], os.getpid()
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).startswith("qemu-system") \
                and not _descends_from(pid, me):
            found.append((pid, " ".join(argv)[:200]))
    return found


def _own_children_cpu():
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class HostSampler:
    """Samples the host before and after a boot: `start()`, `sample()` while it
    runs (other QEMUs that come and go), `stop()` -> the conditions dict."""

    def __init__(self, stat_path="/proc/stat"):
        self.stat_path = stat_path
        self.others = {}

    def _stat(self):
        with open(self.stat_path) as f:
            return parse_proc_stat(f.read())

    def start(self):
        self.t0, self.stat0, self.own0 = time.monotonic(), self._stat(), _own_children_cpu()
        self.sample()

    def sample(self):
        """Note the QEMU processes other than ours running now."""
        for pid, cmd in qemu_processes():
            self.others.setdefault(pid, cmd)

    def stop(self):
        stat1 = self._stat()
        cond = conditions(self.stat0, stat1, _own_children_cpu() - self.own0,
                          time.monotonic() - self.t0, os.cpu_count() or 1,
                          [c for _, c in sorted(self.others.items())],
                          os.sysconf("SC_CLK_TCK"))
        cond["sampled"] = True
        return cond


def conditions(stat0, stat1, own_cpu_s, elapsed_s, cores, other_qemus, clk_tck=100):
    """The host's conditions over an interval, from two /proc/stat samples.

    busy_frac and steal_frac are shares of all host cores; own_cpus is this
    run's QEMU in cores (CPU seconds / wall seconds), others_cpus everyone
    else's load in cores; busy says whether others' load or steal reached the
    thresholds above, busy_reason why."""
    delta = {k: stat1[k] - stat0[k] for k in PROC_STAT_FIELDS}
    total = sum(delta.values())
    idle = delta["idle"] + delta["iowait"]
    busy = total - idle - delta["steal"]
    out = {"host_cores": cores, "seconds": round(elapsed_s, 3),
           "busy_frac": None, "steal_frac": None, "own_cpus": None, "others_cpus": None,
           "other_qemu": list(other_qemus)}
    if total > 0 and elapsed_s > 0:
        own = own_cpu_s / elapsed_s
        all_busy = busy / clk_tck / elapsed_s
        out.update(busy_frac=round(busy / total, 4), steal_frac=round(delta["steal"] / total, 4),
                   own_cpus=round(own, 3), others_cpus=round(max(0.0, all_busy - own), 3))
    reasons = []
    if out["others_cpus"] is not None and out["others_cpus"] >= OTHERS_BUSY * cores:
        reasons.append(f"other processes used {out['others_cpus']:.2f} of the "
                       f"{cores} host cores")
    if out["steal_frac"] is not None and out["steal_frac"] >= STEAL_BUSY:
        reasons.append(f"the hypervisor stole {out['steal_frac']:.0%} of the host's time")
    if out["other_qemu"]:
        reasons.append(f"{len(out['other_qemu'])} other QEMU process(es) ran")
    out["busy"] = bool(reasons)
    out["busy_reason"] = "; ".join(reasons)
    return out


def host_warnings(cond, smp, icount, cores=None):
    """Warnings about the host for the summary, meta.json and the report;
    cores: the host's core count when cond does not have it (older runs)."""
    out = []
    cores = cond.get("host_cores") or cores or os.cpu_count() or 1
    if smp and smp > cores and not icount:
        out.append(f"SMP={smp} exceeds the host's {cores} cores: points with more than "
                   f"{cores} CPUs cannot all run at once, their figures are not "
                   f"concurrent scaling")
    if cond.get("busy"):
        out.append(f"the host was busy during the boot ({cond['busy_reason']}): timing "
                   f"figures carry that load")
    if cond.get("sampled") is False:
        out.append(f"host conditions not measured ({cond.get('why', 'no boot')})")
    return out


def qemu_binary(command):
    """The QEMU executable of a boot command (after `timeout` and its options)."""
    for word in command or ():
        if os.path.basename(word).startswith("qemu-system"):
            return shutil.which(word) or word
    return None


def qemu_facts(binary):
    """{'qemu_path', 'qemu_version'} of the emulator that ran (or would run)."""
    binary = binary or shutil.which("qemu-system-x86_64")
    path = os.path.realpath(binary) if binary and os.path.exists(binary) else binary
    return {"qemu_path": path, "qemu_version": first_line([binary, "--version"])
            if binary else None}
