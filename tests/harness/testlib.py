"""Result lines for Python test suites, in the protocol of tests/harness/testrun.py,
and the one fact of the kernel's output contract that both the checks of real
output and the synthetic fixtures need: which CPU counts a benchmark sweeps."""
import sys
import traceback


class Suite:
    def __init__(self, name):
        self.name = name
        self.failed = 0

    def passed(self, test):
        print(f"PASS {self.name}/{test}", flush=True)

    def fail(self, test, why):
        self.failed += 1
        print(f"FAIL {self.name}/{test}: {why}", flush=True)

    def skip(self, test, why):
        print(f"SKIP {self.name}/{test}: {why}", flush=True)

    def check(self, test, ok, why=""):
        if ok:
            self.passed(test)
        else:
            self.fail(test, why or "check failed")
        return ok

    def run(self, test, fn, *args):
        """Run fn(*args); an AssertionError or any exception fails the test."""
        try:
            fn(*args)
        except AssertionError as e:
            self.fail(test, str(e) or "assertion failed")
            return False
        except Exception as e:  # a crash in a test is a failure, with its trace
            traceback.print_exc(file=sys.stdout)
            self.fail(test, f"{type(e).__name__}: {e}")
            return False
        self.passed(test)
        return True

    def exit(self):
        sys.exit(1 if self.failed else 0)


def cpu_sweep(cpus):
    """The CPU counts the kernel's benchmarks run at with `cpus` online: 1, 2, 4, ...
    below it, then `cpus` itself (bench/README.md)."""
    out, n = [], 1
    while n < cpus:
        out.append(n)
        n *= 2
    return out + [cpus]
