"""A run's results directory: the verdict from the verified serial log, the
directory and its meta.json, results/latest, the committed baseline copy.

A run becomes results/<date>-<commit>-smp<N>-<accel>[-icount]/; a failed one
(bad exit, timeout, a rejected block, an invariant violation) gets -failed,
keeps its serial log and says why in meta.json, and never becomes `latest`.
"""
import datetime
import json
import os
import shutil

import concurrency
import extract
import hostfacts
import ktap
import results
from results import fmt_value


def judge(qemu_verdict, ex, benches, smp, report):
    """(verdict, reason): 'pass' only when every check holds.  report is the
    log's KTAP block (ktap.parse): the kernel's own self-checks, which must
    agree with the exit status."""
    if qemu_verdict != "pass":
        failed = "; ".join(report.failures()) if report.found else ""
        return qemu_verdict, f"the kernel run ended with verdict '{qemu_verdict}'" + \
            (f" (KTAP: {failed})" if failed else "")
    if report.verdict == "malformed":
        return "bad-data", "the KTAP block of the kernel's self-checks is unusable: " + \
            "; ".join(report.errors)
    if report.verdict != "pass":
        return "check-failed", "KTAP reports failed self-checks although QEMU exited with " \
                               "success: " + "; ".join(report.failures())
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


def write_meta(path, meta):
    with open(os.path.join(path, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


def warnings(meta, rows):
    """Every warning about a run's figures: the host (cores, load) and the
    multi-CPU points that were not concurrent or whose concurrency is unknown."""
    cores = concurrency.host_cores_of(meta)
    out = hostfacts.host_warnings(meta.get("host_conditions") or {}, meta.get("smp"),
                                  meta.get("icount"), cores)
    out += host_speed_warnings(meta, rows)
    return out + concurrency.warnings(concurrency.assess(rows, bool(meta.get("icount")), cores))


def host_speed_warnings(meta, rows):
    """Timing runs: the runs the kernel's host-speed probe found slowed
    (left out of the medians), the points left with too few full-speed runs
    (medians over every run), and guest RAM touched on demand."""
    if meta.get("icount"):
        return []
    out = []
    km = meta.get("kernel_meta") or {}
    ratio, need = km.get("host_slow_ratio", "1.25"), km.get("host_min_fast_runs", "3")
    slowed = sum(int(r.value) for r in rows if r.metric == "host_slowed_runs")
    timed = sum(1 for r in rows if r.metric == "ns_per_op" and r.run is not None)
    if slowed:
        out.append(f"the host ran {slowed} of {timed} timed runs slowed (host-speed probe over "
                   f"{ratio}x the fastest): they are left out of the medians")
    again = [r for r in rows if r.metric == "host_set_attempts"]
    if again:
        out.append(f"{len(again)} point(s) were measured again (up to "
                   f"{max(int(r.value) for r in again)} times) because the host slowed most of "
                   f"their runs; their times come from the last attempt, their counts from the first")
    points = [f"{r.bench}/{r.case} cpus={r.cpus}{' ' + r.param if r.param else ''}"
              for r in rows if r.metric == "host_slowed" and r.value]
    if points:
        shown = ", ".join(points[:5]) + (f" and {len(points) - 5} more" if len(points) > 5 else "")
        out.append(f"{len(points)} point(s) had fewer than {need} full-speed runs even after "
                   f"being measured again, so their medians come from fewer runs (or, where "
                   f"none ran at full speed, carry the host's slowdown): {shown}")
    if (meta.get("host") or {}).get("guest_ram") == "on demand":
        out.append("guest RAM was touched on demand (MEM over a quarter of the host's available "
                   "memory): timing figures can move 1.5x from boot to boot with the host's "
                   "huge pages")
    return out


def store(cfg, boot, root):
    """Verify a boot's serial log and write the results directory; boot is
    bench.Boot (verdict, status, seconds, log, host, qemu).  Returns (path,
    verdict, reason)."""
    log_bytes, qemu_verdict = boot.log, boot.verdict
    ex = extract.extract(log_bytes)
    verdict, reason = judge(qemu_verdict, ex, cfg["bench"], cfg["smp"], ktap.parse(log_bytes))
    when = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    kernel_meta = {k: v for k, v in ex.blocks["meta.csv"].records} \
        if "meta.csv" in ex.blocks else {}
    # The commit the kernel says it was built from names the figures; the
    # tree's HEAD may have moved on since the build.
    commit = cfg.get("commit") or kernel_meta.get("kernel_commit") or hostfacts.git_commit()
    os.makedirs(root, exist_ok=True)
    path = unique_dir(root, run_dir_name(when, commit, cfg["smp"], cfg["accel"],
                                         cfg["icount"], verdict != "pass"))
    with open(os.path.join(path, "serial.log"), "wb") as f:
        f.write(log_bytes)
    written = extract.write_blocks(ex, path)
    meta = {
        "verdict": verdict, "reason": reason, "qemu_verdict": qemu_verdict,
        "exit_status": boot.status, "seconds": round(boot.seconds, 2), "date": when,
        "commit": commit,
        "smp": cfg["smp"], "mem": cfg["mem"], "accel": cfg["accel"],
        "accel_requested": cfg.get("accel_requested"), "icount": cfg["icount"],
        "firmware": cfg.get("firmware"),
        "profile": cfg["profile"], "bench": cfg["bench"], "runs": cfg["runs"],
        "seed": cfg["seed"], "cmdline": cfg["cmdline"], "make": cfg["make"],
        "cpu_model": cfg.get("cpu"), "numa_nodes": cfg.get("numa"),
        "host": {**hostfacts.host_facts(), **boot.qemu}, "host_conditions": boot.host,
        "blocks": {n: len(ex.blocks[n].records) for n in written},
        "rejected_blocks": ex.errors, "kernel_verdict": ex.verdict,
        "kernel_meta": kernel_meta, "tree_commit": hostfacts.git_commit(),
    }
    rows = [results.make_row(r) for r in ex.blocks["results.csv"].records] \
        if "results.csv" in ex.blocks else []
    meta["warnings"] = warnings(meta, rows)
    write_meta(path, meta)
    return path, verdict, reason


def install_baseline(path, dest):
    """Replace dest by a copy of the run directory (never half-replaced)."""
    tmp, old = dest + ".new", dest + ".old"
    for d in (tmp, old):
        shutil.rmtree(d, ignore_errors=True)
    # the report is a view of the run, rebuilt on demand; the baseline is its data
    shutil.copytree(path, tmp, ignore=shutil.ignore_patterns("report.html"))
    with open(os.path.join(tmp, "meta.json")) as f:
        meta = json.load(f)
    meta["baseline_of"] = os.path.basename(path)
    write_meta(tmp, meta)
    if os.path.exists(dest):
        os.rename(dest, old)
    os.rename(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
