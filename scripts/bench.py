#!/usr/bin/python3
"""The `make bench` driver: validate, boot, extract, verify, store, plot, summarise.

    bench.py check  [options]            validate the Make variables only (before building)
    bench.py run    [options]            boot build/kernel.elf and make a results directory
    bench.py run --from-log LOG --status S [options]
                                         the same from an existing serial log (no QEMU;
                                         used by the tests with synthetic logs)
    bench.py summary DIR                 print the summary table of a results directory

A run becomes results/<date>-<commit>-smp<N>-<accel>[-icount]/ with serial.log,
the verified CSV blocks, meta.json and the plots, and results/latest points at
it.  A run that failed (bad exit, timeout, a rejected block, an invariant
violation) gets the suffix -failed, says why on the terminal and in
meta.json, keeps its serial log, and is neither plotted nor made `latest`.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import extract  # noqa: E402
import results  # noqa: E402
from results import fmt_value, format_table  # noqa: E402

ROOT = os.path.dirname(HERE)
DEFAULT_TIMEOUT = {False: 300, True: 900}  # seconds, by icount
# Kernel command-line keys this driver composes; ARGS must not repeat them.
OWN_KEYS = ("bench", "runs", "profile", "seed")


class ConfigError(Exception):
    """A bad Make variable: the message names it and what is expected."""


# ---- validation -----------------------------------------------------------

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


def load_qemu():
    try:
        import qemu
    except ImportError as e:
        raise ConfigError(f"scripts/qemu.py cannot be imported ({e}); it boots the kernel")
    return qemu


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
    qemu = load_qemu()
    try:
        cfg.update(qemu.validate_config(smp=opts.smp, mem=opts.mem, accel=opts.accel,
                                        icount=opts.icount, cpu=opts.cpu, numa=opts.numa))
        cfg["timeout"] = qemu.parse_timeout(opts.timeout,
                                            DEFAULT_TIMEOUT[bool(cfg["icount"])])
        cfg["cmdline"] = compose_cmdline(cfg)
        qemu.check_cmdline(cfg["cmdline"])
    except ValueError as e:
        raise ConfigError(str(e))
    cfg["make"] = {"SMP": opts.smp, "MEM": opts.mem, "ACCEL": opts.accel,
                   "ICOUNT": opts.icount, "BENCH": opts.bench, "RUNS": opts.runs,
                   "ARGS": opts.args, "TIMEOUT": opts.timeout, "PROFILE": opts.profile,
                   "SEED": opts.seed, "CPU": opts.cpu, "NUMA": opts.numa}
    return cfg


def compose_cmdline(cfg):
    words = [f"bench={','.join(cfg['bench'])}"]
    if cfg["runs"] is not None:
        words.append(f"runs={cfg['runs']}")
    words.append(f"profile={cfg['profile']}")
    if cfg["seed"] is not None:
        words.append(f"seed={cfg['seed']}")
    return " ".join(words + cfg["args"])


# ---- facts about the host and the tree -----------------------------------

def _first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.splitlines()[0].strip() if out.returncode == 0 and out.stdout else None


def git_commit():
    commit = _first_line(["git", "rev-parse", "--short=7", "HEAD"]) or "nogit"
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
        "qemu": _first_line(["qemu-system-x86_64", "--version"]),
        "gnuplot": _first_line(["gnuplot", "--version"]),
        "python": platform.python_version(),
    }


# ---- judging a run ---------------------------------------------------------

def judge(qemu_verdict, ex, benches, smp):
    """(verdict, reason): 'pass' only when every check holds."""
    if qemu_verdict != "pass":
        return qemu_verdict, f"the kernel run ended with verdict '{qemu_verdict}'"
    if ex.errors:
        return "bad-data", f"{len(ex.errors)} block(s) rejected: " + " | ".join(ex.errors)
    if ex.verdict != "pass":
        what = f"'@@VERDICT {ex.verdict}'" if ex.verdict else "no @@VERDICT line"
        return "check-failed", f"the log has {what} although QEMU exited with success"
    if "results.csv" not in ex.blocks:
        return "bad-data", "no results.csv block in the serial log"
    rows = [results.make_row(r) for r in ex.blocks["results.csv"].records]
    missing = [b for b in benches if not any(r.bench == b for r in rows)]
    if missing:
        return "bad-data", f"benchmark(s) {','.join(missing)} produced no results rows"
    for r in rows:
        if r.metric == "violations" and r.value != 0:
            return "invariant", f"{r.bench}/{r.case}: {fmt_value(r.value)} invariant violations"
        if r.metric == "frees_exact" and r.value != 1:
            return "invariant", f"{r.bench}/{r.case}: the last-drop race freed a frame " \
                                f"other than exactly once (frees_exact={fmt_value(r.value)})"
        if r.metric == "invariants_ok" and r.value != 1:
            return "invariant", f"{r.bench}: the allocator's invariant check failed " \
                                f"after the benchmark (invariants_ok={fmt_value(r.value)})"
        if r.metric == "cpus_online" and smp is not None and r.value != smp:
            return "invariant", f"only {fmt_value(r.value)} of {smp} CPUs came online"
    return "pass", ""


# ---- the results directory -------------------------------------------------

def run_dir_name(when, commit, smp, accel, icount, failed):
    name = f"{when}-{commit}-smp{smp}-{accel}" + ("-icount" if icount else "")
    return name + ("-failed" if failed else "")


def unique_dir(root, name):
    path, n = os.path.join(root, name), 2
    while os.path.exists(path):
        path, n = os.path.join(root, f"{name}.{n}"), n + 1
    os.makedirs(path)
    return path


def update_latest(root, path):
    link = os.path.join(root, "latest")
    tmp = link + ".new"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(os.path.basename(path), tmp)
    os.replace(tmp, link)


def store(cfg, log_bytes, qemu_verdict, status, seconds, root):
    """Verify the log and write the results directory; returns (path, verdict, reason)."""
    ex = extract.extract(log_bytes)
    verdict, reason = judge(qemu_verdict, ex, cfg["bench"], cfg["smp"])
    when = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    commit = git_commit()
    os.makedirs(root, exist_ok=True)
    path = unique_dir(root, run_dir_name(when, commit, cfg["smp"], cfg["accel"],
                                         cfg["icount"], verdict != "pass"))
    with open(os.path.join(path, "serial.log"), "wb") as f:
        f.write(log_bytes)
    written = extract.write_blocks(ex, path)
    meta = {
        "verdict": verdict, "reason": reason, "qemu_verdict": qemu_verdict,
        "exit_status": status, "seconds": round(seconds, 2), "date": when, "commit": commit,
        "smp": cfg["smp"], "mem": cfg["mem"], "accel": cfg["accel"],
        "accel_requested": cfg.get("accel_requested"), "icount": cfg["icount"],
        "profile": cfg["profile"], "bench": cfg["bench"], "runs": cfg["runs"],
        "seed": cfg["seed"], "cmdline": cfg["cmdline"], "make": cfg["make"],
        "cpu_model": cfg["cpu"], "numa_nodes": cfg["numa"],
        "qemu_binary": cfg["qemu"]["binary"], "qemu_version": cfg["qemu"]["version_text"],
        "host": host_facts(),
        "blocks": {n: len(ex.blocks[n].records) for n in written},
        "rejected_blocks": ex.errors, "kernel_verdict": ex.verdict,
        "kernel_meta": {k: v for k, v in ex.blocks["meta.csv"].records}
        if "meta.csv" in ex.blocks else {},
    }
    with open(os.path.join(path, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    return path, verdict, reason


# ---- streaming and the summary ---------------------------------------------

class Follower:
    """Echo a growing serial log: human lines and progress, blocks as one line each."""

    def __init__(self, path, out=sys.stdout):
        self.path, self.out, self.pos, self.in_block, self.partial = path, out, 0, None, b""
        self.count = 0

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return
        self.pos += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for raw in lines:
            self.line(raw.decode("utf-8", errors="replace").rstrip("\r"))

    def line(self, text):
        if self.in_block is not None:
            if text.startswith("@@END"):
                self.out.write(f"  [{self.in_block}: {max(self.count - 1, 0)} rows]\n")
                self.in_block = None
            else:
                self.count += 1
            return
        if text.startswith("@@BEGIN "):
            self.in_block, self.count = text[8:], 0
            return
        self.out.write(("  " if not text.startswith("# progress") else "") + text + "\n")
        self.out.flush()


def log_tail(data, count=8):
    """The last human-readable lines of a serial log (block contents left out)."""
    lines, inside = [], False
    for line in extract.split_lines(data):
        if line.startswith("@@BEGIN "):
            inside = True
        elif line.startswith("@@END "):
            inside = False
        elif not inside and line.strip():
            lines.append(line.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    return lines[-count:]


def boot(cfg, kernel, workdir):
    """Build the ISO, boot it under a timeout; (verdict, status, seconds, log bytes)."""
    qemu = load_qemu()
    iso = os.path.join(workdir, "bench.iso")  # rebuilt when the kernel file or cmdline changes
    log = os.path.join(workdir, "serial.log")
    qemu.build_iso(kernel, cfg["cmdline"], iso)
    if os.path.exists(log):
        os.remove(log)
    box = {}

    def target():
        try:
            box["result"] = qemu.run(iso, cfg["smp"], cfg["mem"], cfg["accel"], cfg["icount"],
                                     cfg["timeout"], log, stream=False, cpu=cfg["cpu"],
                                     numa=cfg["numa"])
        except Exception as e:  # handed to the main thread, which reports it
            box["error"] = e
    follower = Follower(log)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.25)
        follower.poll()
    follower.poll()
    if "error" in box:
        raise box["error"]
    res = box["result"]
    if res.verdict == "qemu-error" and res.qemu_stderr:
        print(f"bench: QEMU said: {res.qemu_stderr}", file=sys.stderr)
    with open(log, "rb") as f:
        data = f.read()
    return res.verdict, res.status, res.seconds, data


def summary(run):
    """The terminal summary: one small table per benchmark."""
    ic = run.icount
    unit = results.display_unit("ns", ic)
    out = [f"Summary of {run.name} ({run.tag()}; times in {unit})"]
    series = results.group(run.rows)

    def val(bench, case, cpus, param, metric):
        s = series.get((bench, case, cpus, param, metric))
        return s.central() if s else None

    rc = [k for k in series if k[0] == "refcount" and k[4] == "ns_per_op"]
    if rc:
        cpus = sorted({k[2] for k in rc})
        cases = list(dict.fromkeys(k[1] for k in rc))
        rows = [[c] + [fmt_value(val("refcount", c, n, "", "ns_per_op")) for n in cpus]
                for c in cases]
        out.append(f"\nrefcount: {unit}/op (median over runs) by CPU count")
        out.append(format_table(["case"] + [f"{n} cpu" for n in cpus], rows,
                                right=range(1, len(cpus) + 1)))
    pc = [k for k in series if k[0] == "pcp" and k[4] == "hit_rate" and k[1] != "batch"]
    if pc:
        rows = [[k[1], k[2], k[3], fmt_value(series[k].central(), "ratio"),
                 fmt_value(val("pcp", k[1], k[2], k[3], "ns_per_op"))] for k in pc]
        out.append("\npcp: per-CPU cache")
        out.append(format_table(["case", "cpus", "param", "hit_rate", f"{unit}/op"], rows,
                                right=(1, 3, 4)))
    ct = [k for k in series if k[0] == "contig" and k[4] == "p50_ns" and k[3].startswith("order=")]
    if ct:
        orders = sorted({int(k[3][6:]) for k in ct})
        cases = list(dict.fromkeys(k[1] for k in ct))
        rows = []
        for o in orders:
            row = [o]
            for c in cases:
                for m in ("p50_ns", "p99_ns", "success_rate"):
                    row.append(fmt_value(val("contig", c, 1, f"order={o}", m),
                                         "ratio" if m == "success_rate" else ""))
            rows.append(row)
        head = ["order"] + [f"{c} {m}" for c in cases for m in ("p50", "p99", "success")]
        out.append(f"\ncontig: allocation latency ({unit}) and success rate by order")
        out.append(format_table(head, rows, right=range(len(head))))
    rest = [k for k in series if k[0] in ("smp", "stress") and not k[3] and k[1] != "check"]
    if rest:
        rows = [[k[0], k[1], k[4], fmt_value(series[k].central()),
                 results.display_unit(series[k].unit, ic)] for k in rest]
        out.append("\nsmp / stress")
        out.append(format_table(["bench", "case", "metric", "value", "unit"], rows, right=(3,)))
    checked = [k[0] for k in series if k[4] == "invariants_ok"]
    if checked:
        out.append(f"\nallocator invariants checked after: {', '.join(checked)} - all held")
    return "\n".join(out)


# ---- main -----------------------------------------------------------------

def add_config_options(ap):
    for name, default in (("smp", "8"), ("mem", "1G"), ("accel", "auto"), ("icount", "0"),
                          ("bench", "all"), ("runs", ""), ("args", ""), ("timeout", ""),
                          ("profile", "full"), ("seed", ""), ("cpu", "max"), ("numa", "0")):
        ap.add_argument(f"--{name}", default=default)


def shown(path):
    """A path as the user would type it: relative below the current directory."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def cmd_run(opts, cfg):
    root = opts.results_root
    if opts.from_log:
        with open(opts.from_log, "rb") as f:
            data = f.read()
        status = opts.status
        qemu_verdict = opts.qemu_verdict
        seconds = 0.0
    else:
        workdir = os.path.join(ROOT, "build", "bench")
        os.makedirs(workdir, exist_ok=True)
        print(f"bench: booting {opts.kernel} with {cfg['qemu']['version_text']}, "
              f"SMP={cfg['smp']} MEM={cfg['mem']} CPU={cfg['cpu']} NUMA={cfg['numa']} "
              f"accel={cfg['accel']}{' icount' if cfg['icount'] else ''}, "
              f"timeout {cfg['timeout']} s\nbench: kernel command line: {cfg['cmdline']}",
              flush=True)
        try:
            qemu_verdict, status, seconds, data = boot(cfg, opts.kernel, workdir)
        except (OSError, RuntimeError, ValueError) as e:
            print(f"bench: cannot boot: {e}", file=sys.stderr)
            return 1
    path, verdict, reason = store(cfg, data, qemu_verdict, status, seconds, root)
    rel = shown(path)
    if verdict != "pass":
        tail = log_tail(data) if opts.from_log else []  # a boot streamed it already
        if tail:
            print("bench: the serial log ends with:\n" + "\n".join("    " + t for t in tail),
                  file=sys.stderr)
        print(f"bench: RUN FAILED ({verdict}): {reason}", file=sys.stderr)
        print(f"bench: serial log kept in {rel}/serial.log; this run is not plotted "
              f"and never used as a baseline", file=sys.stderr)
        return 1
    update_latest(root, path)
    run = results.load_run(path)
    if not opts.no_plot:
        import plot
        plot.plot_all(run)
    print("\n" + summary(run))
    print(f"\nbench: results in {rel} (results/latest), {seconds:.1f} s in QEMU")
    if opts.install_baseline:
        install_baseline(path, opts.install_baseline)
        print(f"bench: {shown(opts.install_baseline)} now holds this run; commit it "
              f"(git add -A {shown(opts.install_baseline)}) with a message saying why "
              f"the figures moved")
    if opts.compare:
        import compare
        print(f"\nbench: comparing with {shown(opts.compare)}", flush=True)
        return compare.main(["--changes", opts.compare, path])
    return 0


def install_baseline(path, dest):
    """Replace dest by a copy of the run directory (never half-replaced)."""
    tmp, old = dest + ".new", dest + ".old"
    for d in (tmp, old):
        shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(path, tmp)
    meta_path = os.path.join(tmp, "meta.json")
    with open(meta_path) as f:
        meta = json.load(f)
    meta["baseline_of"] = os.path.basename(path)
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    if os.path.exists(dest):
        os.rename(dest, old)
    os.rename(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    chk = sub.add_parser("check", help="validate the Make variables")
    add_config_options(chk)
    run = sub.add_parser("run", help="boot and store a results directory")
    add_config_options(run)
    run.add_argument("--kernel", default=os.path.join(ROOT, "build", "kernel.elf"))
    run.add_argument("--results-root", default=os.path.join(ROOT, "results"))
    run.add_argument("--from-log", help="use this serial log instead of booting")
    run.add_argument("--status", type=int, default=33, help="exit status for --from-log")
    run.add_argument("--qemu-verdict", default="pass", help="qemu verdict for --from-log")
    run.add_argument("--no-plot", action="store_true")
    run.add_argument("--compare", metavar="BASE",
                     help="after a good run, compare it with BASE (exit 1 on a regression)")
    run.add_argument("--install-baseline", metavar="DIR",
                     help="after a good run, make DIR (results/baseline) a copy of it")
    summ = sub.add_parser("summary", help="print the summary table of a results directory")
    summ.add_argument("dir")
    opts = ap.parse_args(argv)
    if opts.cmd == "summary":
        try:
            print(summary(results.load_run(opts.dir)))
        except results.ResultsError as e:
            print(f"bench: {e}", file=sys.stderr)
            return 1
        return 0
    try:
        cfg = validate(opts)
    except ConfigError as e:
        print(f"bench: bad configuration: {e}", file=sys.stderr)
        return 2
    if opts.cmd == "check":
        return 0
    start = time.monotonic()
    rc = cmd_run(opts, cfg)
    print(f"bench: {time.monotonic() - start:.1f} s wall (boot, extraction, plots)")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
