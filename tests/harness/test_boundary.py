#!/usr/bin/env python3
"""The boundary check must fail on a planted violation, not only pass.

Copies the checked directories into a scratch tree, plants one forbidden
include at a time and runs check_boundary.py on the copy: the clean copy
must pass, every planted include must fail with its file named.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHECK = os.path.join(HERE, "check_boundary.py")
PORTABLE = ["include/plat", "lib", "mm", "bench", "kernel"]

# (test name, file to plant in, include line, must fail)
PLANTS = [
    ("clean_tree_passes", None, None, False),
    ("arch_include_in_mm_fails", "mm/frame.c", '#include "arch/x86_64/x86.h"', True),
    ("kernel_include_in_lib_fails", "lib/fmt.c", '#include "kernel/console.h"', True),
    ("mm_internals_in_bench_fail", "bench/harness.c", '#include "mm/mm_int.h"', True),
    ("bench_include_in_mm_fails", "mm/buddy.c", '#include "bench/bench.h"', True),
    ("hosted_header_in_lib_fails", "lib/cmdline.c", "#include <stdio.h>", True),
    ("tests_include_in_plat_fails", "include/plat/barrier.h", '#include "tests/harness/check.h"', True),
    ("arch_include_in_kernel_fails", "kernel/main.c", '#include "arch/x86_64/percpu.h"', True),
]


def run(name, plant_file, line, must_fail):
    with tempfile.TemporaryDirectory() as tmp:
        for d in PORTABLE:
            shutil.copytree(os.path.join(ROOT, d), os.path.join(tmp, d))
        if plant_file:
            path = os.path.join(tmp, plant_file)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            with open(path, "w", encoding="utf-8") as f:
                f.write(line + "\n" + text)
        p = subprocess.run([sys.executable, CHECK, "--root", tmp], capture_output=True, text=True)
        failed = p.returncode != 0
        if failed != must_fail:
            return f"check exited {p.returncode}: {p.stdout.strip()}"
        if must_fail and plant_file not in p.stdout:
            return f"the FAIL line does not name {plant_file}: {p.stdout.strip()}"
    return None


def main():
    failed = 0
    for name, plant_file, line, must_fail in PLANTS:
        why = run(name, plant_file, line, must_fail)
        if why:
            failed += 1
            print(f"FAIL layout/{name}: {why}")
        else:
            print(f"PASS layout/{name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
