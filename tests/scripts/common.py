"""Shared bits of the `results` suite: paths, the assertion helper, fixtures."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.path.insert(0, HERE)

import fixtures  # noqa: E402,F401


class Skipped(Exception):
    """Raised by a test that cannot run here; the message is the reason."""


def expect(ok, why):
    if not ok:
        raise AssertionError(why)
