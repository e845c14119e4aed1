"""Facts about the host and the source tree that a results directory records:
the commit, the CPU model and core count, tool versions."""
import os
import platform
import subprocess

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
        "qemu": first_line(["qemu-system-x86_64", "--version"]),
        "gnuplot": first_line(["gnuplot", "--version"]),
        "python": platform.python_version(),
    }
