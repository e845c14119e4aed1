#!/usr/bin/env python3
"""Checks over the disassembly of hit-path functions.

Each listed function must be present in the object (a renamed or inlined-away
symbol would otherwise pass every check by being absent), and none of its
bodies (the symbol and its compiler clones `name.part.N`, `name.isra.N`,
`name.constprop.N`; not `name.cold`, the slow path moved out of line) may
contain an atomic read-modify-write: a `lock` prefix, xadd, cmpxchg or an
xchg with memory.

Usage: check_hitpath.py --object FILE --name SUITE/TEST SYMBOL...
Prints one PASS or FAIL line; exit status 0 or 1.
"""
import argparse
import re
import subprocess
import sys

FUNC = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
RMW = re.compile(r"(^|\s)(lock\s|xadd|cmpxchg)|\sxchg\s.*\(")


def bodies(objfile):
    """{symbol: [instruction lines]} from objdump -d."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", objfile],
                         capture_output=True, text=True, check=True).stdout
    funcs, cur = {}, None
    for line in out.splitlines():
        m = FUNC.match(line)
        if m:
            cur = funcs.setdefault(m.group(1), [])
        elif cur is not None and line.startswith(" "):
            cur.append(line)
    return funcs


def clones(funcs, name):
    pat = re.compile(re.escape(name) + r"(\.(part|isra|constprop|lto_priv)\.\d+)*$")
    return [f for f in funcs if pat.match(f)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--object", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("symbols", nargs="+")
    args = ap.parse_args()
    funcs = bodies(args.object)
    problems = []
    for sym in args.symbols:
        found = clones(funcs, sym)
        if not found:
            problems.append(f"{sym} is not in {args.object}")
        for f in found:
            bad = [ln.split("\t", 1)[-1].strip() for ln in funcs[f] if RMW.search(ln)]
            if bad:
                problems.append(f"{f} contains {', '.join(bad)}")
    if problems:
        print(f"FAIL {args.name}: {'; '.join(problems)}")
        return 1
    print(f"PASS {args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
