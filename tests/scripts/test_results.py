#!/usr/bin/python3
"""The `results` suite (make suite-results): extraction, results directories,
plots, comparisons, and - when build/kernel.elf runs the benchmarks - the
end-to-end checks against the real kernel (determinism under icount, the
regression detector catching test_slow_hit).  Output in the protocol of
tests/harness/testrun.py.  `test_results.py WORD` runs only the tests whose name
contains WORD."""
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, Skipped  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import testlib  # noqa: E402
import test_extract  # noqa: E402
import test_bench  # noqa: E402
import test_compare  # noqa: E402
import test_ktap  # noqa: E402
import test_lava  # noqa: E402
import test_report  # noqa: E402
import test_real  # noqa: E402
import test_ingest  # noqa: E402


def run_test(suite, test, fn):
    try:
        fn()
    except Skipped as e:
        suite.skip(test, str(e))
    except AssertionError as e:
        suite.fail(test, str(e) or "assertion failed")
    except Exception as e:  # a crash in a test is a failure, with its trace
        traceback.print_exc(file=sys.stdout)
        suite.fail(test, f"{type(e).__name__}: {e}")
    else:
        suite.passed(test)


def main(argv):
    only = argv[1] if len(argv) > 1 else None
    suite = testlib.Suite("results")
    try:
        for module in (test_extract, test_ktap, test_lava, test_bench, test_compare,
                       test_report, test_ingest, test_real):
            prefix = module.__name__[5:]
            for name, fn in module.TESTS:
                test = f"{prefix}_{name}"
                if not only or only in test:
                    run_test(suite, test, fn)
    finally:
        test_real.cleanup()
    suite.exit()


if __name__ == "__main__":
    main(sys.argv)
