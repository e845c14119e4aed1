"""Shared helpers for the results tools (bench.py, plot.py, compare.py).

A results directory (results/<date>-<commit>-smp<N>-<accel>[-icount][-failed]/)
holds serial.log, one CSV file per extracted block (results.csv, hist.csv,
meta.csv), meta.json (host facts, Make variables, verdict) and the plots.
This module loads such a directory into a Run and knows what the metrics
mean: which direction is better, which are machine-independent, and what unit
to show (under icount the guest TSC counts instructions, so cycle and ns
figures are instruction counts).
"""
import csv
import json
import os
import statistics
from typing import NamedTuple

BENCHES = ("refcount", "pcp", "contig", "smp", "stress", "frag")
PROFILES = ("full", "quick")

RESULTS_HEADER = ["bench", "case", "cpus", "param", "metric", "value", "unit"]
HIST_HEADER = ["bench", "case", "cpus", "param", "path", "lo", "hi", "count", "unit"]
META_HEADER = ["key", "value"]
# Block name -> the exact CSV header the contract requires.
KNOWN_HEADERS = {
    "results.csv": RESULTS_HEADER,
    "hist.csv": HIST_HEADER,
    "meta.csv": META_HEADER,
}

# Aggregate metric suffixes: derived from the per-run samples of the base
# metric, so a comparison that has the samples ignores them.
AGGREGATE_SUFFIXES = ("_median", "_min", "_max")

# Metrics whose value does not depend on how fast the machine is: compared as
# values, never with timing statistics.
MACHINE_INDEPENDENT_UNITS = ("ratio", "count")
TIMING_COUNTS = {"lock_contended", "cas_retries_per_op"}

# Direction of the metrics whose name says it.  Time units (ns, cycles) and
# *_per_op are lower-is-better, mops higher; a count or ratio not listed here
# describes the workload (samples, attempts, ops, frames...) and is shown
# without a verdict.
HIGHER_IS_BETTER = {"hit_rate", "success_rate", "frees_exact", "cpus_online", "invariants_ok"}
LOWER_IS_BETTER = {"violations", "refills", "drains", "lock_contended", "lock_acquisitions",
                   "oom", "frag_index", "cas_retries_per_op"}
LOWER_IS_BETTER_UNITS = ("ns", "cycles", "us", "ms", "s", "instr")
# How concurrently a multi-CPU point ran (scripts/concurrency.py): describes
# the measurement, so it is shown but never judged better or worse.
CONCURRENCY_FIGURES = {"overlap_frac", "concurrency", "desched_frac", "start_skew_ns",
                       "concurrent"}


class ResultsError(Exception):
    """A results directory that cannot be used, with a message saying why."""


def parse_param(text):
    """'k=64;capacity=32' -> {'k': '64', 'capacity': '32'} (order kept)."""
    out = {}
    for part in text.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ValueError(f"param '{text}': '{part}' is not key=value")
        if key in out:
            raise ValueError(f"param '{text}': key '{key}' given twice")
        out[key] = value
    return out


def format_param(params):
    return ";".join(f"{k}={v}" for k, v in params.items())


class Point(NamedTuple):
    """One measurement point: a benchmark case at a CPU count and parameters
    (without `run=`); every metric of the point shares it."""
    bench: str
    case: str
    cpus: int
    param: str


class Key(NamedTuple):
    """One series: a metric of a point.  `param` is the base param (no `run=`)."""
    bench: str
    case: str
    cpus: int
    param: str
    metric: str

    @property
    def point(self):
        return Point(self.bench, self.case, self.cpus, self.param)

    def with_metric(self, metric):
        return self._replace(metric=metric)


class Row:
    """One results.csv row; `base_param` is `param` without its `run=` pair."""
    __slots__ = ("bench", "case", "cpus", "param", "metric", "value", "unit",
                 "params", "run", "base_param")

    def __init__(self, bench, case, cpus, param, metric, value, unit):
        self.bench, self.case, self.cpus = bench, case, cpus
        self.param, self.metric, self.value, self.unit = param, metric, value, unit
        self.params = parse_param(param)
        run = self.params.get("run")
        self.run = int(run) if run is not None else None
        self.base_param = format_param({k: v for k, v in self.params.items() if k != "run"})

    @property
    def key(self):
        return Key(self.bench, self.case, self.cpus, self.base_param, self.metric)


class HistRow:
    __slots__ = ("bench", "case", "cpus", "param", "path", "lo", "hi", "count", "unit", "params")

    def __init__(self, bench, case, cpus, param, path, lo, hi, count, unit):
        self.bench, self.case, self.cpus, self.param = bench, case, cpus, param
        self.path, self.lo, self.hi, self.count, self.unit = path, lo, hi, count, unit
        self.params = parse_param(param)


def _number(text, what, integer=False):
    try:
        return int(text) if integer else float(text)
    except ValueError:
        raise ValueError(f"{what} '{text}' is not {'an integer' if integer else 'a number'}")


def make_row(fields):
    """A results.csv record (list of 7 strings) -> Row; ValueError names the problem."""
    bench, case, cpus, param, metric, value, unit = fields
    return Row(bench, case, _number(cpus, "cpus", True), param, metric,
               _number(value, f"value of {metric}"), unit)


def make_hist_row(fields):
    bench, case, cpus, param, path, lo, hi, count, unit = fields
    return HistRow(bench, case, _number(cpus, "cpus", True), param, path,
                   _number(lo, "lo"), _number(hi, "hi"), _number(count, "count", True), unit)


def read_csv(path, header):
    """Rows of a CSV file after checking its header; [] when the file is absent."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        records = list(csv.reader(f))
    if not records or records[0] != header:
        raise ResultsError(f"{path}: header is {records[0] if records else 'missing'}, "
                           f"expected {','.join(header)}")
    for i, rec in enumerate(records[1:], start=2):
        if len(rec) != len(header):
            raise ResultsError(f"{path}:{i}: {len(rec)} fields, expected {len(header)}")
    return records[1:]


class Run:
    """A loaded results directory."""

    def __init__(self, path, meta, rows, hist, kernel_meta):
        self.path = path
        self.meta = meta
        self.rows = rows
        self.hist = hist
        self.kernel_meta = kernel_meta

    @property
    def name(self):
        return os.path.basename(os.path.normpath(os.path.realpath(self.path)))

    @property
    def failed(self):
        return self.meta.get("verdict") != "pass"

    @property
    def smp(self):
        return self.meta.get("smp")

    @property
    def accel(self):
        return self.meta.get("accel")

    @property
    def icount(self):
        return bool(self.meta.get("icount"))

    @property
    def commit(self):
        return self.meta.get("commit", "unknown")

    def tag(self):
        """'SMP=8, tcg, commit 1a2b3c4' for plot titles and table headers."""
        mode = f"{self.accel}, icount" if self.icount else f"{self.accel}"
        return f"SMP={self.smp}, {mode}, commit {self.commit}"

    def select(self, bench=None, case=None, metric=None, aggregate=None):
        """Rows matching the given fields; aggregate=True/False keeps rows without/with run=."""
        out = []
        for r in self.rows:
            if bench is not None and r.bench != bench:
                continue
            if case is not None and r.case != case:
                continue
            if metric is not None and r.metric != metric:
                continue
            if aggregate is not None and (r.run is None) != aggregate:
                continue
            out.append(r)
        return out


def load_run(path, allow_failed=False):
    """Load a results directory; ResultsError when it is missing, broken or failed."""
    if not os.path.isdir(path):
        raise ResultsError(f"{path}: no such results directory")
    meta_path = os.path.join(path, "meta.json")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except OSError:
        raise ResultsError(f"{path}: no meta.json (not a results directory made by make bench)")
    except json.JSONDecodeError as e:
        raise ResultsError(f"{meta_path}: not valid JSON: {e}")
    if meta.get("verdict") != "pass" and not allow_failed:
        raise ResultsError(f"{path}: the run failed (verdict {meta.get('verdict')}: "
                           f"{meta.get('reason', 'no reason recorded')}); "
                           f"its figures are not used")
    try:
        rows = [make_row(r) for r in read_csv(os.path.join(path, "results.csv"), RESULTS_HEADER)]
        hist = [make_hist_row(r) for r in read_csv(os.path.join(path, "hist.csv"), HIST_HEADER)]
        kmeta = dict(read_csv(os.path.join(path, "meta.csv"), META_HEADER))
    except ValueError as e:
        raise ResultsError(f"{path}: {e}")
    return Run(path, meta, rows, hist, kmeta)


# ---- what metrics mean

def is_aggregate(metric):
    return metric.endswith(AGGREGATE_SUFFIXES)


def aggregate_base(metric):
    for suffix in AGGREGATE_SUFFIXES:
        if metric.endswith(suffix):
            return metric[: -len(suffix)]
    return metric


def direction(metric, unit):
    """'lower' or 'higher' when one is better; None for informational metrics."""
    if aggregate_base(metric) in CONCURRENCY_FIGURES:
        return None
    if metric in HIGHER_IS_BETTER or unit == "mops":
        return "higher"
    if metric in LOWER_IS_BETTER or unit in LOWER_IS_BETTER_UNITS:
        return "lower"
    return None


def machine_independent(metric, unit):
    """True for ratios and counts that do not depend on the host's speed; the
    contention counters count collisions between CPUs, which is timing."""
    return unit in MACHINE_INDEPENDENT_UNITS and metric not in TIMING_COUNTS


def display_unit(unit, icount):
    """Unit to print: under icount (shift=0) the guest TSC counts instructions."""
    if icount and unit in ("ns", "cycles"):
        return "instr"
    return unit


class Series:
    """All values of one (bench, case, cpus, param-without-run, metric) key."""

    def __init__(self, key, unit):
        self.key = key
        self.unit = unit
        self.samples = []     # (run, value) of the per-run rows
        self.aggregate = None  # value of the row without run=, if any
        # The kernel's <metric>_median row of a per-run metric: the median of
        # the runs it counted, without those the host slowed (bench/harness.c)
        self.kernel_median = None

    @property
    def values(self):
        return [v for _, v in sorted(self.samples)]

    def central(self):
        """The figure to show: the kernel's median of the runs where it gave
        one, else the median of the runs, else the single value."""
        if self.kernel_median is not None:
            return self.kernel_median
        if self.samples:
            return statistics.median(self.values)
        return self.aggregate


def group(rows):
    """rows -> {key: Series}, keeping the order in which keys first appear.
    A per-run series takes its point's <metric>_median row as its central
    figure when that row is among rows."""
    out = {}
    for r in rows:
        s = out.get(r.key)
        if s is None:
            s = out[r.key] = Series(r.key, r.unit)
        if r.run is None:
            s.aggregate = r.value
        else:
            s.samples.append((r.run, r.value))
    for k, s in out.items():
        if s.samples:
            median = out.get(k.with_metric(k.metric + "_median"))
            if median is not None and median.aggregate is not None:
                s.kernel_median = median.aggregate
    return out


def fmt_value(value, unit=""):
    """Compact number: 4 significant digits, integers without a fraction."""
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value:.4f}"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value)}"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def format_table(header, rows, right=()):
    """Plain text table; `right` = indices of right-aligned (numeric) columns."""
    cells = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, r in enumerate(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
