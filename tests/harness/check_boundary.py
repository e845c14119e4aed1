#!/usr/bin/env python3
"""The platform boundary as one rule over every portable directory.

Portable code (lib/, mm/, bench/ and the door include/plat/) builds into the
kernel and into the host library, so it may include only C11 freestanding
headers and the portable directories below it in this order:

    plat  <-  lib  <-  mm  <-  bench  <-  kernel

A directory may include its own headers and those of the directories to its
left; bench/ sees only mm/'s public header.  Nothing portable includes arch/,
kernel/ or tests/.  kernel/ only sequences the boot: it reaches the machine
through kernel/arch.h and plat/platform.h, never an arch/ header.  The rule
is the table LAYERS below; a violation prints one FAIL line naming the file,
the line and the include.

Usage: check_boundary.py [--root DIR] [--name SUITE/TEST]
Exit status 0 when the tree obeys the rule, 1 otherwise.
"""
import argparse
import os
import re
import sys

FREESTANDING = {"float.h", "iso646.h", "limits.h", "stdalign.h", "stdarg.h", "stdatomic.h",
                "stdbool.h", "stddef.h", "stdint.h", "stdnoreturn.h"}

# directory -> (directory it names in includes, headers of others it may include)
LAYERS = {
    "include/plat": ("plat", []),
    "lib": ("lib", ["plat/"]),
    "mm": ("mm", ["plat/", "lib/"]),
    "bench": ("bench", ["plat/", "lib/", "mm/mm.h"]),
    "kernel": ("kernel", ["plat/", "lib/", "mm/mm.h", "bench/bench.h"]),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*(.*?)\s*(?://.*|/\*.*)?$')


def allowed(own, others, target):
    if target.startswith("<") and target.endswith(">"):
        return target[1:-1] in FREESTANDING
    if not (target.startswith('"') and target.endswith('"')):
        # `#include MACRO`: only the door may choose its implementation so.
        return own == "plat" and target == "PLAT_IMPL_H"
    path = target[1:-1]
    if path.startswith(own + "/"):
        return True
    return any(path == o or (o.endswith("/") and path.startswith(o)) for o in others)


def violations(root):
    for directory, (own, others) in LAYERS.items():
        top = os.path.join(root, directory)
        if not os.path.isdir(top):
            yield directory, 0, "(directory missing)"
            continue
        for dirpath, _, names in os.walk(top):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and not allowed(own, others, m.group(1)):
                            yield os.path.relpath(path, root), lineno, m.group(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--name", default="boundary/portable_includes")
    args = ap.parse_args()
    bad = list(violations(args.root))
    if not bad:
        print(f"PASS {args.name}")
        return 0
    where = "; ".join(f"{f}:{n}: {inc}" for f, n, inc in bad)
    print(f"FAIL {args.name}: portable code includes what it may not: {where}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
