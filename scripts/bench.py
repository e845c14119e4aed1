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

The jobs live in their own modules: runconfig.py checks the Make variables,
hostfacts.py records the host, rundir.py judges the run and writes its
directory, summary.py prints the tables; this file boots and streams.
"""
import argparse
import collections
import json
import os
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import extract  # noqa: E402
import hostfacts  # noqa: E402
import hostspeed  # noqa: E402
import qemu  # noqa: E402
import report  # noqa: E402
import results  # noqa: E402
import rundir  # noqa: E402
import runconfig  # noqa: E402
from summary import summary  # noqa: E402

ROOT = os.path.dirname(HERE)


# ---- streaming the boot ----------------------------------------------------

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


Boot = collections.namedtuple("Boot", "verdict status seconds log host qemu")


def boot(cfg, kernel, workdir):
    """Build the ISO and boot it under a timeout, sampling the host meanwhile;
    returns a Boot (host: hostfacts.conditions, qemu: the emulator's path and version)."""
    # Private names: two runs sharing a workdir must not boot each other's ISO
    # or read each other's log (the ISO is rebuilt when kernel or cmdline change).
    tag = zlib.crc32(f"{os.path.realpath(kernel)} {cfg['cmdline']}".encode())
    iso = os.path.join(workdir, f"bench-{tag:08x}.iso")
    log = os.path.join(workdir, f"serial-{os.getpid()}.log")
    qemu.build_iso(kernel, cfg["cmdline"], iso)
    if os.path.exists(log):
        os.remove(log)
    box = {}

    def target():
        try:
            box["result"] = qemu.run(iso, cfg["smp"], cfg["mem"], cfg["accel"], cfg["icount"],
                                     cfg["timeout"], log, stream=False, cpu=cfg["cpu"],
                                     numa=cfg["numa"], firmware=cfg["firmware"])
        except Exception as e:  # handed to the main thread, which reports it
            box["error"] = e
    follower = Follower(log)
    sampler = hostfacts.HostSampler()
    sampler.start()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    polls = 0
    while thread.is_alive():
        thread.join(0.25)
        follower.poll()
        polls += 1
        if polls % 8 == 0:
            sampler.sample()
    follower.poll()
    host = sampler.stop()
    if "error" in box:
        raise box["error"]
    res = box["result"]
    if res.verdict == "qemu-error" and res.qemu_stderr:
        print(f"bench: QEMU said: {res.qemu_stderr}", file=sys.stderr)
    with open(log, "rb") as f:
        data = f.read()
    os.remove(log)  # the results directory keeps it
    facts = hostfacts.qemu_facts(hostfacts.qemu_binary(res.command))
    # How the guest's RAM was backed moves timing figures (qemu.ram_prealloc).
    facts["guest_ram"] = "preallocated" if any("prealloc=on" in a for a in res.command) \
        else "on demand"
    return Boot(res.verdict, res.status, res.seconds, data, host, facts)


# ---- main -----------------------------------------------------------------

def shown(path):
    """A path as the user would type it: relative below the current directory."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def add_host_speed(cfg):
    """What the kernel needs to judge the host's speed (bench/harness.c) onto
    its command line, unless ARGS gave it: the host's remembered full speed
    (scripts/hostspeed.py) and its cores (a set of more CPUs than that is
    slowed by sharing them, and is not measured again).  Timing mode only."""
    if cfg["icount"]:
        return
    words = {"probe_ref": hostspeed.reference(hostspeed.key(cfg)),
             "host_cores": os.cpu_count()}
    for key, value in words.items():
        if value and not any(w.startswith(key + "=") for w in cfg["args"]):
            cfg["cmdline"] += f" {key}={value}"
    qemu.check_cmdline(cfg["cmdline"])


def cmd_run(opts, cfg):
    root = opts.results_root
    if opts.from_log:
        with open(opts.from_log, "rb") as f:
            data = f.read()
        host = {"sampled": False, "host_cores": os.cpu_count(),
                "why": "the run was read from a serial log, not booted here"}
        if opts.host_conditions:
            with open(opts.host_conditions) as f:
                host = json.load(f)
        result = Boot(opts.qemu_verdict, opts.status, 0.0, data, host,
                      hostfacts.qemu_facts(None))
    else:
        workdir = opts.workdir
        os.makedirs(workdir, exist_ok=True)
        add_host_speed(cfg)
        print(f"bench: booting {opts.kernel} with {cfg['qemu']['version_text']}, "
              f"SMP={cfg['smp']} MEM={cfg['mem']} CPU={cfg['cpu']} NUMA={cfg['numa']} "
              f"accel={cfg['accel']}{' icount' if cfg['icount'] else ''}, "
              f"timeout {cfg['timeout']} s\nbench: kernel command line: {cfg['cmdline']}",
              flush=True)
        try:
            result = boot(cfg, opts.kernel, workdir)
        except (OSError, RuntimeError, ValueError) as e:
            print(f"bench: cannot boot: {e}", file=sys.stderr)
            return 1
    data, seconds = result.log, result.seconds
    path, verdict, reason = rundir.store(cfg, result, root)
    rel = shown(path)
    if verdict != "pass":
        tail = extract.log_tail(data) if opts.from_log else []  # a boot streamed it already
        if tail:
            print("bench: the serial log ends with:\n" + "\n".join("    " + t for t in tail),
                  file=sys.stderr)
        print(f"bench: RUN FAILED ({verdict}): {reason}", file=sys.stderr)
        print(f"bench: serial log kept in {rel}/serial.log; this run is not plotted "
              f"and never used as a baseline", file=sys.stderr)
        print(f"bench: report (why it failed) in {shown(report.write_run(path))}",
              file=sys.stderr)
        return 1
    rundir.update_latest(root, path)
    run = results.load_run(path)
    if not opts.from_log:
        hostspeed.record(hostspeed.key(cfg), hostspeed.boot_probe(run.kernel_meta))
    if not opts.no_plot:
        import plot
        plot.plot_all(run)
    print("\n" + summary(run))
    print(f"\nbench: results in {rel} (results/latest), {seconds:.1f} s in QEMU")
    print(f"bench: report in {shown(report.write_run(path))}")
    if opts.install_baseline:
        rundir.install_baseline(path, opts.install_baseline)
        print(f"bench: {shown(opts.install_baseline)} now holds this run; commit it "
              f"(git add -A {shown(opts.install_baseline)}) with a message saying why "
              f"the figures moved")
    if opts.compare:
        import compare
        print(f"\nbench: comparing with {shown(opts.compare)}", flush=True)
        return compare.main(["--changes", opts.compare, path])
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    chk = sub.add_parser("check", help="validate the Make variables")
    runconfig.add_options(chk)
    run = sub.add_parser("run", help="boot and store a results directory")
    runconfig.add_options(run)
    run.add_argument("--kernel", default=os.path.join(ROOT, "build", "kernel.elf"))
    run.add_argument("--results-root", default=os.path.join(ROOT, "results"))
    run.add_argument("--from-log", help="use this serial log instead of booting")
    run.add_argument("--status", type=int, default=33, help="exit status for --from-log")
    run.add_argument("--qemu-verdict", default="pass", help="qemu verdict for --from-log")
    run.add_argument("--host-conditions", metavar="JSON",
                     help="for --from-log: the host conditions recorded where the log was made")
    run.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"),
                     help="where the ISO and the live serial log go (build/bench)")
    run.add_argument("--commit", help="the commit the kernel was built from (default: "
                     "this tree's; make ab boots kernels of other commits)")
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
        cfg = runconfig.validate(opts)
        cfg["commit"] = getattr(opts, "commit", None)
    except runconfig.ConfigError as e:
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
