#!/usr/bin/env python3
"""Checks over the disassembly and layout of hit-path functions.

Each listed function must be present in the object (a renamed or inlined-away
symbol would otherwise pass every check by being absent).  Two checks:

  --object FILE  none of its bodies (the symbol and its compiler clones
                 `name.part.N`, `name.isra.N`, `name.constprop.N`; not
                 `name.cold`, the slow path moved out of line) may contain an
                 atomic read-modify-write: a `lock` prefix, xadd, cmpxchg or an
                 xchg with memory.
  --pages ELF    none of those bodies in the linked ELF may cross a 4 KiB
                 page: under QEMU's TCG an instruction that straddles a page
                 ends a translation block and forces a main-loop exit on every
                 execution (arch/x86_64/linker.ld places the hot functions).

Usage: check_hitpath.py (--object FILE | --pages ELF) --name SUITE/TEST SYMBOL...
       check_hitpath.py --self-test --name SUITE/TEST
Prints one PASS or FAIL line; exit status 0 or 1.  --self-test links a
function planted across a page boundary and requires --pages to fail on it
(and to pass on the same function placed inside one page).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

FUNC = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
RMW = re.compile(r"(^|\s)(lock\s|xadd|cmpxchg)|\sxchg\s.*\(")
PAGE = 4096


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


def extents(elf):
    """{symbol: (address, size)} of the function symbols of a linked ELF."""
    out = subprocess.run(["nm", "-S", "--defined-only", elf],
                         capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            syms[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return syms


def clones(names, name):
    pat = re.compile(re.escape(name) + r"(\.(part|isra|constprop|lto_priv)\.\d+)*$")
    return [f for f in names if pat.match(f)]


def judge(table, where, symbols, problems_of):
    """Every listed symbol must have a body in table; problems_of(body name)
    returns what is wrong with one body (its clones included)."""
    problems = []
    for sym in symbols:
        found = clones(table, sym)
        if not found:
            problems.append(f"{sym} is not in {where}")
        for f in found:
            problems += problems_of(f)
    return problems


def rmw_problems(objfile, symbols):
    funcs = bodies(objfile)

    def locked(f):
        bad = [ln.split("\t", 1)[-1].strip() for ln in funcs[f] if RMW.search(ln)]
        return [f"{f} contains {', '.join(bad)}"] if bad else []
    return judge(funcs, objfile, symbols, locked)


def page_problems(elf, symbols):
    syms = extents(elf)

    def straddles(f):
        addr, size = syms[f]
        if size and addr // PAGE != (addr + size - 1) // PAGE:
            return [f"{f} at {addr:#x}+{size:#x} crosses the page boundary at "
                    f"{(addr // PAGE + 1) * PAGE:#x}"]
        return []
    return judge(syms, elf, symbols, straddles)


SELF_TEST_C = """
void straddle(void) { __asm__ volatile(".fill 600, 1, 0x90"); }
void _start(void) { straddle(); }
"""


def self_test():
    """--pages must fail on a function linked across a page and pass when it fits."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        src, obj = os.path.join(tmp, "t.c"), os.path.join(tmp, "t.o")
        with open(src, "w") as f:
            f.write(SELF_TEST_C)
        subprocess.run(["gcc", "-O2", "-ffunction-sections", "-fno-pic", "-c", src, "-o", obj],
                       check=True)
        for start, must_fail in ((0x1000 - 0x100, True), (0x1000, False)):
            lds, elf = os.path.join(tmp, "t.ld"), os.path.join(tmp, f"t{start:x}.elf")
            with open(lds, "w") as f:
                f.write(f"SECTIONS {{ . = 0x400000; .text.a : {{ *(.text._start) }}\n"
                        f"  .text.b 0x400000 + {start:#x} : {{ *(.text.straddle) }} }}\n")
            subprocess.run(["ld", "-nostdlib", "-T", lds, obj, "-o", elf], check=True)
            got = page_problems(elf, ["straddle"])
            if must_fail and not got:
                problems.append(f"a function at +{start:#x} (crossing a page) passed")
            if not must_fail and got:
                problems.append(f"a function inside one page failed: {got}")
        if not page_problems(elf, ["no_such_function"]):
            problems.append("a missing symbol passed")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--object")
    mode.add_argument("--pages", metavar="ELF")
    mode.add_argument("--self-test", action="store_true")
    ap.add_argument("--name", required=True)
    ap.add_argument("symbols", nargs="*")
    args = ap.parse_args()
    if not args.self_test and not args.symbols:
        ap.error("list the symbols to check")
    if args.self_test:
        problems = self_test()
    elif args.pages:
        problems = page_problems(args.pages, args.symbols)
    else:
        problems = rmw_problems(args.object, args.symbols)
    if problems:
        print(f"FAIL {args.name}: {'; '.join(problems)}")
        return 1
    print(f"PASS {args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
