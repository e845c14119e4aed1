#!/usr/bin/python3
"""Reads the KTAP version 1 block of a serial log (kernel/report.h).

The kernel reports its self-checks - each step of the boot sequence, and
each benchmark's invariant check as a subtest of `bench` - in KTAP, the
format of the Linux kernel's KUnit and kselftest.  This module finds the
block among the log's other lines, checks it and gives the verdict:

- the block starts at a line `KTAP version 1` with no indentation; every
  level of nesting is indented two more spaces and starts with its own
  version line and plan `1..N`;
- results `ok N name` / `not ok N name [# diagnostic]` are numbered 1..N
  in order, exactly N of them; `# SKIP reason` marks a skipped test;
- a test with subtests is not ok when any subtest is not ok;
- lines of any other shape (the boot log, CSV blocks) are skipped, as KTAP
  allows; a line that looks like KTAP but is not (a result without a
  number, a second plan) is an error.

A missing block, a truncated one (fewer results than planned: the machine
died mid-run) or a malformed one is a failure with a message naming the
line, never a pass.

Usage: ktap.py LOG    prints the tree and the verdict; exit 0 pass, 1 fail,
                      2 missing or malformed
"""
import re
import sys
from dataclasses import dataclass, field
from typing import List, Optional

INDENT = "  "
VERSION = re.compile(r"^KTAP version 1$")
PLAN = re.compile(r"^1\.\.(\d+)$")
RESULT = re.compile(r"^(ok|not ok) (\d+)(?: ([^#]*?))?\s*(?:# ?(.*))?$")
LOOKS_LIKE_RESULT = re.compile(r"^(ok|not ok)\b")


@dataclass
class Test:
    name: str
    ok: bool
    number: int
    directive: str = ""          # "SKIP" or ""
    diagnostic: str = ""
    subtests: List["Test"] = field(default_factory=list)

    @property
    def skipped(self):
        return self.directive == "SKIP"


@dataclass
class Report:
    tests: List[Test] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    found: bool = False

    @property
    def ok(self):
        return self.found and not self.errors and all(t.ok for t in self.tests)

    @property
    def verdict(self):
        """'pass', 'fail' (a test not ok) or 'malformed' (no complete, valid block)."""
        if not self.found or self.errors:
            return "malformed"
        return "pass" if self.ok else "fail"

    def failures(self, prefix=""):
        out = []
        for t in self.tests:
            path = f"{prefix}{t.name}"
            if not t.ok:
                out.append(f"{path}: {t.diagnostic}" if t.diagnostic else path)
            out.extend(Report(t.subtests, found=True).failures(path + "/"))
        return out


def _depth(line):
    """(depth, text) of a line whose indentation is whole levels, else None."""
    stripped = line.lstrip(" ")
    spaces = len(line) - len(stripped)
    if spaces % len(INDENT):
        return None
    return spaces // len(INDENT), stripped


def _parse_result(text):
    m = RESULT.match(text)
    if not m:
        return None
    name = (m.group(3) or "").strip()
    diag = (m.group(4) or "").strip()
    directive = ""
    if diag.upper().startswith("SKIP"):
        directive, diag = "SKIP", diag[4:].strip()
    return Test(name=name, ok=m.group(1) == "ok", number=int(m.group(2)),
                directive=directive, diagnostic=diag)


class _Parser:
    def __init__(self, lines):
        self.lines = lines
        self.i = 0
        self.errors = []

    def error(self, lineno, msg):
        self.errors.append(f"line {lineno}: {msg}")

    def block(self, depth, start):
        """Parses the block whose version line is lines[start]; returns its tests."""
        self.i = start + 1
        plan, tests, pending = None, [], None
        while self.i < len(self.lines):
            lineno, line = self.i + 1, self.lines[self.i]
            d = _depth(line)
            if d is None:
                self.i += 1
                continue
            level, text = d
            if level > depth and VERSION.match(text):
                if level != depth + 1:
                    self.error(lineno, f"subtest block nested {level - depth} levels at once")
                if plan is None:
                    self.error(lineno, "subtest block before this block's plan")
                pending = self.block(level, self.i)
                continue
            if level < depth and (VERSION.match(text) or PLAN.match(text)
                                  or LOOKS_LIKE_RESULT.match(text)):
                break  # the enclosing block continues (its test's result)
            if level != depth:
                self.i += 1
                continue
            if VERSION.match(text):
                if depth == 0:
                    self.error(lineno, "a second KTAP block starts before this one ended")
                    break
                self.i += 1
                continue
            m = PLAN.match(text)
            if m:
                if plan is not None:
                    self.error(lineno, f"a second plan '{text}'")
                plan = int(m.group(1))
                self.i += 1
                continue
            if LOOKS_LIKE_RESULT.match(text):
                t = _parse_result(text)
                if t is None:
                    self.error(lineno, f"malformed result line '{text}'")
                    self.i += 1
                    continue
                if plan is None:
                    self.error(lineno, f"result '{text}' before the plan")
                if t.number != len(tests) + 1:
                    self.error(lineno, f"result number {t.number} where {len(tests) + 1} was due")
                if pending is not None:
                    t.subtests, pending = pending, None
                    if t.ok and not t.skipped and any(not s.ok for s in t.subtests):
                        self.error(lineno, f"'{t.name}' is ok although a subtest is not")
                tests.append(t)
                self.i += 1
                if plan is not None and len(tests) == plan:
                    break  # complete: what follows belongs to the enclosing block
                continue
            self.i += 1  # a diagnostic or an unknown line at this level
        if plan is None:
            self.error(start + 1, "KTAP block without a plan")
        elif len(tests) < plan:
            self.error(start + 1, f"truncated: the plan is 1..{plan} but {len(tests)} "
                                  f"result(s) followed" + (f" (last: {tests[-1].name})"
                                                           if tests else ""))
        if pending is not None:
            self.error(start + 1, "a subtest block with no result line for its test")
        return tests


def parse(text):
    """The Report of the first top-level KTAP block in text (str or bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    for start, line in enumerate(lines):
        if VERSION.match(line):
            p = _Parser(lines)
            tests = p.block(0, start)
            return Report(tests=tests, errors=p.errors, found=True)
    return Report(errors=["no 'KTAP version 1' line in the log"], found=False)


def _print_tree(tests, depth=0):
    for t in tests:
        _print_tree(t.subtests, depth + 1)
        mark = "ok" if t.ok else "NOT OK"
        extra = f" # {t.directive} {t.diagnostic}".rstrip() if t.directive or t.diagnostic else ""
        print(f"{INDENT * depth}{mark} {t.number} {t.name}{extra}")


def main(argv):
    if len(argv) != 2:
        print("usage: ktap.py LOG", file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        report = parse(f.read())
    _print_tree(report.tests)
    for e in report.errors:
        print(f"ktap: {e}", file=sys.stderr)
    print(f"ktap: verdict {report.verdict}")
    return {"pass": 0, "fail": 1}.get(report.verdict, 2)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
