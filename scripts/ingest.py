#!/usr/bin/python3
"""Turn a serial log captured anywhere into a results directory (`make ingest`).

    ingest.py LOG [--run N] [--results-root DIR] [--source TEXT] [--no-plot]

A log from a real machine or a KVM host - a BMC's serial-over-LAN, `screen -L`,
`ipmitool sol activate` piped to a file, a lab's console server - is cleaned,
then verified and stored exactly like a `make bench` run (scripts/bench.py):
every framed block checked (rows, CRC32, CSV shape, known headers), the run
judged by the same rules (the kernel's verdict, invariants, every requested
benchmark present), results/<date>-<commit>-smp<N>-<hypervisor>-ingested/
written with the log, the CSVs, meta.json, plots and the summary.  A failed
or damaged run gets -failed, says why, and is never plotted.

Cleaning, each step counted in meta.json ("cleaning"):
  - CR removed (CR LF line ends, and the CR the kernel sends before each LF);
  - terminal escape sequences (CSI, OSC, two-byte ESC) and other control
    characters removed: firmware, BMCs and terminal programs add them, the
    kernel never sends them;
  - a marker line (@@BEGIN/@@END/@@VERDICT) with other text before it on the
    same line (a console server's timestamp, a program writing without a
    newline) is cut to the marker;
  - the log is split into runs at the kernel's first line ("kernel: frame
    allocator harness, ..."); the last run is used unless --run says which.
Lines of other programs between blocks are ignored; inside a block they break
its CRC and the block is rejected.  A log that ends early (the capture stopped,
the machine hung) has no verdict as its last line: the run is stored as
failed, with the blocks that did verify listed.

The run's facts come from the log itself (meta.csv: kernel commit, CPUs,
hypervisor, TSC source, command line, benchmarks); meta.json records where the
log came from (file, size, SHA-256, --source) and that it was ingested.

Exit status: 0 for a good run, 1 for a failed or damaged one, 2 for bad input
(no such file, no run in it, --run out of range).
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import extract  # noqa: E402
import hostfacts  # noqa: E402
import ktap  # noqa: E402
import qemu  # noqa: E402
import results  # noqa: E402
import rundir  # noqa: E402
from summary import summary  # noqa: E402

RUN_START = "kernel: frame allocator harness"
# CSI: ESC [ params intermediates final; OSC: ESC ] ... BEL or ESC \; others:
# ESC intermediates final (ESC ( B, ESC 7, ESC =).
ESCAPE_RE = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                       rb"|\x1b[ -/]*[0-~]?")
CONTROL_RE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
MARKER_RE = re.compile(r"@@(?:BEGIN |END |VERDICT )")


class IngestError(Exception):
    """Input that cannot be ingested at all: the message says why."""


def clean(data):
    """Raw capture bytes -> (text lines, counts of what was removed)."""
    counts = {"cr": data.count(b"\r")}
    data = data.replace(b"\r", b"")
    data, counts["escapes"] = ESCAPE_RE.subn(b"", data)
    data, counts["control_chars"] = CONTROL_RE.subn(b"", data)
    lines = extract.split_lines(data)
    counts["marker_prefixes"] = 0
    for i, line in enumerate(lines):
        m = MARKER_RE.search(line)
        if m and m.start() > 0:
            lines[i] = line[m.start():]
            counts["marker_prefixes"] += 1
    return lines, counts


def split_runs(lines):
    """[(first line number, lines)] for each boot of the kernel in the log."""
    starts = [i for i, ln in enumerate(lines) if ln.startswith(RUN_START)]
    return [(s + 1, lines[s:e]) for s, e in zip(starts, starts[1:] + [len(lines)])]


def kernel_meta(ex):
    return {k: v for k, v in ex.blocks["meta.csv"].records} if "meta.csv" in ex.blocks else {}


def run_facts(ex):
    """(benchmarks requested, CPUs the MADT listed) from the verified blocks."""
    meta = kernel_meta(ex)
    listed = meta.get("bench")
    if listed is None:  # the command line says it too
        words = [w for w in meta.get("cmdline", "").split() if w.startswith("bench=")]
        listed = words[0][len("bench="):] if words else ""
    benches = [b for b in listed.split(",") if b]
    madt = None
    if "results.csv" in ex.blocks:
        for r in ex.blocks["results.csv"].records:
            row = results.make_row(r)
            if row.bench == "smp" and row.metric == "cpus_in_madt":
                madt = int(row.value)
    return benches, madt


def judge(text, ex):
    """(verdict, reason) by make bench's rules (rundir.judge: the KTAP
    self-checks, every block, the invariants), with the log's last line in
    place of QEMU's exit status (there is none on a real machine)."""
    final = qemu.final_verdict(text)
    if final is None:
        last = [ln for ln in text.split("\n") if ln.strip()][-1:] or ["(empty)"]
        return "truncated", (f"the log does not end with the kernel's verdict (its last line "
                             f"is '{last[0][:80]}'): the capture stopped or the machine hung")
    benches, madt = run_facts(ex)
    if not benches:
        return "bad-data", "no verified meta.csv block naming the benchmarks (bench=)"
    return rundir.judge(final, ex, benches, madt, ktap.parse(text))


def run_dir_name(when, meta, failed):
    commit = re.sub(r"[^A-Za-z0-9_.-]", "_", meta.get("kernel_commit", "unknown"))
    cpus = re.sub(r"[^0-9]", "", meta.get("cpus", "")) or "unknown"
    hv = re.sub(r"[^A-Za-z0-9_-]", "_", meta.get("accel", "unknown"))
    return f"{when}-{commit}-smp{cpus}-{hv}-ingested" + ("-failed" if failed else "")


def ingest(path, root, run_index=None, source=None):
    """Cleans, verifies and stores one run of the log; returns (dir, verdict, reason, ex)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}")
    lines, counts = clean(raw)
    runs = split_runs(lines)
    if not runs:
        raise IngestError(f"{path}: no run of the kernel in it (no line starting "
                          f"'{RUN_START}')")
    if run_index is None:
        run_index = len(runs)
    if not 1 <= run_index <= len(runs):
        raise IngestError(f"--run {run_index}: the log holds {len(runs)} run(s)")
    first_line, run_lines = runs[run_index - 1]
    text = "".join(ln + "\n" for ln in run_lines)
    log_bytes = text.encode("utf-8", "surrogateescape")
    ex = extract.extract(log_bytes)
    verdict, reason = judge(text, ex)
    meta_kv = kernel_meta(ex)
    when = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(root, exist_ok=True)
    out = rundir.unique_dir(root, run_dir_name(when, meta_kv, verdict != "pass"))
    with open(os.path.join(out, "serial.log"), "wb") as f:
        f.write(log_bytes)
    written = extract.write_blocks(ex, out)
    cpus = meta_kv.get("cpus", "")
    meta = {
        "verdict": verdict, "reason": reason, "kernel_verdict": ex.verdict,
        "date": when, "commit": meta_kv.get("kernel_commit", "unknown"),
        "smp": int(cpus) if cpus.isdigit() else None,
        "accel": meta_kv.get("accel"), "icount": None, "firmware": None,
        "profile": meta_kv.get("profile"), "bench": meta_kv.get("bench", "").split(","),
        "runs": meta_kv.get("runs"), "seed": meta_kv.get("seed"),
        "cmdline": meta_kv.get("cmdline"),
        "ingested": {
            "log": os.path.abspath(path), "bytes": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(), "source": source,
            "runs_in_log": len(runs), "run": run_index, "first_line": first_line,
            "cleaning": counts, "host": hostfacts.host_facts(),
        },
        "blocks": {n: len(ex.blocks[n].records) for n in written},
        "rejected_blocks": ex.errors, "kernel_meta": meta_kv,
    }
    rows = [results.make_row(r) for r in ex.blocks["results.csv"].records] \
        if "results.csv" in ex.blocks else []
    meta["warnings"] = rundir.warnings(meta, rows)
    rundir.write_meta(out, meta)
    return out, verdict, reason, ex


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", help="the serial log, as captured")
    ap.add_argument("--run", type=int, help="which run of the log (1 = first; default: last)")
    ap.add_argument("--results-root", default=os.path.join(os.path.dirname(HERE), "results"))
    ap.add_argument("--source", help="where the log came from, for meta.json "
                                     "(e.g. 'r650 BMC SOL, 2026-12-01')")
    ap.add_argument("--no-plot", action="store_true")
    opts = ap.parse_args(argv)
    try:
        out, verdict, reason, ex = ingest(opts.log, opts.results_root, opts.run, opts.source)
    except IngestError as e:
        print(f"ingest: {e}", file=sys.stderr)
        return 2
    rel = bench.shown(out)
    with open(os.path.join(out, "meta.json")) as f:
        info = json.load(f)["ingested"]
    print(f"ingest: {opts.log}: run {info['run']} of {info['runs_in_log']} (from serial line "
          f"{info['first_line']}); removed {info['cleaning']['cr']} CR, "
          f"{info['cleaning']['escapes']} escape sequences, "
          f"{info['cleaning']['control_chars']} control characters, "
          f"{info['cleaning']['marker_prefixes']} marker prefixes")
    for name, block in ex.blocks.items():
        print(f"ingest: {name}: {len(block.records)} rows, verified")
    for err in ex.errors:
        print(f"ingest: {err}", file=sys.stderr)
    if verdict != "pass":
        print(f"ingest: RUN FAILED ({verdict}): {reason}", file=sys.stderr)
        print(f"ingest: log and verified blocks kept in {rel}; this run is not plotted and "
              f"never used as a baseline", file=sys.stderr)
        return 1
    rundir.update_latest(opts.results_root, out)
    run = results.load_run(out)
    if not opts.no_plot:
        import plot
        plot.plot_all(run)
    print("\n" + summary(run))
    print(f"\ningest: results in {rel} (results/latest)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
