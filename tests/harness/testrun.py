#!/usr/bin/python3
"""Run the test suites named on the command line and total their results.

Each suite is a make target `suite-<name>` that prints, one per line,
    PASS <suite>/<test>
    FAIL <suite>/<test>: <why>
    SKIP <suite>/<test>: <why>
(tests/harness/check.h does this for C programs, tests/harness/testlib.py for Python).
A suite that exits non-zero without printing a FAIL line, or prints no
result at all, counts as one failure, so a crash can never pass silently.
The last line is the summary `N passed, N failed, N skipped`; the exit status
is non-zero when anything failed.
"""
import re
import subprocess
import sys
import time

RESULT = re.compile(r"^(PASS|FAIL|SKIP) (\S+)")


def run_suite(name, make):
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    failures = []
    start = time.monotonic()
    print(f"== suite {name}", flush=True)
    proc = subprocess.Popen(
        [make, "-s", "--no-print-directory", f"suite-{name}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        text=True, errors="replace")
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        m = RESULT.match(line)
        if m:
            counts[m.group(1)] += 1
            if m.group(1) == "FAIL":
                failures.append(line.strip())
    rc = proc.wait()
    if rc != 0 and counts["FAIL"] == 0:
        line = f"FAIL {name}/suite: exited with status {rc} without reporting a failed test"
        print(line)
        counts["FAIL"] += 1
        failures.append(line)
    elif sum(counts.values()) == 0:
        line = f"FAIL {name}/suite: reported no test results"
        print(line)
        counts["FAIL"] += 1
        failures.append(line)
    print(f"== suite {name}: {counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['SKIP']} skipped ({time.monotonic() - start:.1f} s)", flush=True)
    return counts, failures


def main(argv):
    make = "make"
    suites = [s for s in argv[1:] if s]
    if not suites:
        print("testrun.py: no suites given", file=sys.stderr)
        return 2
    total = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    all_failures = []
    for name in suites:
        counts, failures = run_suite(name, make)
        for k in total:
            total[k] += counts[k]
        all_failures += failures
    if all_failures:
        print("\nFailures:")
        for f in all_failures:
            print("  " + f)
    print(f"{total['PASS']} passed, {total['FAIL']} failed, {total['SKIP']} skipped")
    return 1 if total["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
