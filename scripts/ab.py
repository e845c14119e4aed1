#!/usr/bin/python3
"""Interleaved A/B boots of two commits: `make ab BASE=<commit> NEW=<commit> BOOTS=5`.

    ab.py --base REV --new REV [--boots 5] [--new-args WORDS] [bench.py options]

Each commit is checked out in a scratch worktree under build/ab/ and its
kernel built there; then BOOTS pairs of boots run in the order A B, B A,
A B, ... (each pair next to each other, the order alternating so that a
drift of the host's load over the session falls on both sides alike), into
build/ab/<date>-<base>-<new>/{base,new}/.  The two sides are compared as
paired boots (compare.py --paired: one t test per benchmark case on the
per-pair differences), printed and written as compare.html beside them.
BASE = NEW measures the false alarms of the rule; --new-args adds kernel
words to the new side only (e.g. test_slow_hit=20, an injected slowdown).
Exit status: compare.py's (0 no regression, 1 a regression, 2 cannot
compare), 3 when a build or a boot failed.
"""
import argparse
import datetime
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402
import runconfig  # noqa: E402

ROOT = os.path.dirname(HERE)
AB_ROOT = os.path.join(ROOT, "build", "ab")


class ABError(Exception):
    pass


def git(*args):
    r = subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise ABError(f"git {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout.strip()


def resolve(rev, name):
    if not rev:
        raise ABError(f"{name}=: give a commit (a hash, a branch, HEAD~1, ...)")
    try:
        return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except ABError:
        raise ABError(f"{name}='{rev}': not a commit of this repository")


def kernel_of(sha):
    """Check sha out in build/ab/src-<sha> (once) and build its kernel there."""
    src = os.path.join(AB_ROOT, f"src-{sha[:12]}")
    if not os.path.isdir(src):
        git("worktree", "prune")
        os.makedirs(AB_ROOT, exist_ok=True)
        git("worktree", "add", "--detach", src, sha)
    print(f"ab: building {sha[:7]} in {os.path.relpath(src, ROOT)}", flush=True)
    r = subprocess.run(["make", "-s", "-j2", "--no-print-directory", "-C", src,
                        "build/kernel.elf"], capture_output=True, text=True)
    elf = os.path.join(src, "build", "kernel.elf")
    if r.returncode != 0 or not os.path.exists(elf):
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-5:])
        raise ABError(f"commit {sha[:7]} does not build:\n{tail}")
    return elf


def boot(elf, sha, side, outdir, bench_opts, extra_args):
    root = os.path.join(outdir, side)
    cmd = [sys.executable, os.path.join(HERE, "bench.py"), "run", "--kernel", elf,
           "--results-root", root, "--workdir", os.path.join(AB_ROOT, f"work-{side}"),
           "--no-plot", "--commit", sha[:7]] + bench_opts
    if extra_args:
        i = cmd.index("--args") if "--args" in cmd else None
        if i is None:
            cmd += ["--args", extra_args]
        else:
            cmd[i + 1] = (cmd[i + 1] + " " + extra_args).strip()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tail = (r.stderr.strip() or r.stdout.strip()).splitlines()[-3:]
        raise ABError(f"a {side} boot failed: {' | '.join(tail)}")
    return os.path.realpath(os.path.join(root, "latest"))


def bench_options(opts):
    out = []
    for name, _ in runconfig.MAKE_VARIABLES:
        out += [f"--{name.lower()}", getattr(opts, name.lower())]
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--boots", default="5")
    ap.add_argument("--new-args", default="", help="kernel words for the new side only")
    runconfig.add_options(ap)
    opts = ap.parse_args(argv)
    try:
        boots = runconfig.parse_positive("BOOTS", opts.boots, allow_empty=False)
        if boots < compare.MIN_BOOTS:
            raise runconfig.ConfigError(f"BOOTS='{opts.boots}': at least {compare.MIN_BOOTS} "
                                        f"pairs are needed for the case test")
        runconfig.validate(opts)
        runconfig.parse_args_words(opts.new_args)
        base, new = resolve(opts.base, "BASE"), resolve(opts.new, "NEW")
    except (runconfig.ConfigError, ABError) as e:
        print(f"ab: bad configuration: {e}", file=sys.stderr)
        return 2
    try:
        elf = {base: kernel_of(base)}
        if new not in elf:
            elf[new] = kernel_of(new)
        when = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        outdir = os.path.join(AB_ROOT, f"{when}-{base[:7]}-{new[:7]}")
        sides = {"base": [], "new": []}
        bench_opts = bench_options(opts)
        for i in range(boots):
            order = ("base", "new") if i % 2 == 0 else ("new", "base")
            for side in order:
                sha = base if side == "base" else new
                sides[side].append(boot(elf[sha], sha, side, outdir, bench_opts,
                                        opts.new_args if side == "new" else ""))
            print(f"ab: pair {i + 1}/{boots} done ({order[0]} first)", flush=True)
    except ABError as e:
        print(f"ab: {e}", file=sys.stderr)
        return 3
    print(f"ab: boots in {os.path.relpath(outdir, ROOT)}/{{base,new}}", flush=True)
    return compare.main(["--paired", "--html", os.path.join(outdir, "compare.html"),
                         " ".join(sides["base"]), " ".join(sides["new"])])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
