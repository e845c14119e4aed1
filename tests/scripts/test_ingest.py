"""Tests of scripts/ingest.py (make ingest) on synthetic serial logs mangled the
way real captures are: CR LF line ends, terminal escapes, lines of other
programs, text glued before a marker, several boots in one log, a truncated
tail, a flipped byte.  Each mangled log must give the outcome stated: the
same results.csv as the clean log, or a failed run naming the problem."""
import json
import os
import subprocess
import tempfile

from common import ROOT, PY, expect, fixtures

INGEST = os.path.join(ROOT, "scripts", "ingest.py")
EXTRACT = os.path.join(ROOT, "scripts", "extract.py")
FIRST = "kernel: frame allocator harness, commit synthetic"


def clean_log(**kw):
    """A run as the kernel prints it: its first line, the blocks, the exit
    line, the verdict last."""
    text = fixtures.Generator(smp=4, noise=0).log(**kw)
    lines = text.split("\n")[:-1]
    # The generator's @@VERDICT (the benchmarks') moves to the end, after the
    # KTAP block and the exit line, where kernel_exit prints the run's.
    verdicts = [ln for ln in lines if ln.startswith("@@VERDICT")]
    lines = [ln for ln in lines if not ln.startswith("@@VERDICT")]
    return "\n".join([FIRST] + lines + ["kernel: done",
                                        "exit: code 0x10 (pass), halt (no isa-debug-exit device)"]
                     + verdicts[-1:]) + "\n"


def ingest(root, data, *opts):
    """(returncode, stdout + stderr, the run directory or None)."""
    log = os.path.join(root, "capture.log")
    with open(log, "wb") as f:
        f.write(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
    res = os.path.join(root, "results")
    r = subprocess.run([PY, INGEST, log, "--results-root", res, "--no-plot"] + list(opts),
                       capture_output=True, text=True, timeout=120)
    dirs = sorted(d for d in os.listdir(res) if d != "latest") if os.path.isdir(res) else []
    return r.returncode, r.stdout + r.stderr, os.path.join(res, dirs[-1]) if dirs else None


def results_csv(path):
    with open(os.path.join(path, "results.csv")) as f:
        return f.read()


def reference_csv(root, text):
    """results.csv as extract.py writes it from the unmangled log (what
    make bench stores for the same serial output)."""
    log = os.path.join(root, "ref.log")
    out = os.path.join(root, "ref")
    with open(log, "w") as f:
        f.write(text)
    r = subprocess.run([PY, EXTRACT, log, "--out", out], capture_output=True, text=True,
                       timeout=60)
    expect(r.returncode == 0, f"extract.py on the clean log: {r.stderr}")
    return results_csv(out)


def meta_of(path):
    with open(os.path.join(path, "meta.json")) as f:
        return json.load(f)


def crlf(text):
    return text.replace("\n", "\r\n")


def test_clean_log():
    with tempfile.TemporaryDirectory() as d:
        text = clean_log()
        rc, out, path = ingest(d, text, "--source", "fixture")
        expect(rc == 0, f"rc {rc}: {out}")
        expect(path.endswith("-ingested"), f"directory {path}")
        expect(results_csv(path) == reference_csv(d, text), "results.csv differs from extract's")
        meta = meta_of(path)
        got = meta["ingested"]
        expect(meta["verdict"] == "pass" and got["source"] == "fixture" and
               len(got["sha256"]) == 64 and got["runs_in_log"] == 1, f"meta {meta}")
        expect(os.path.realpath(os.path.join(d, "results", "latest")) == os.path.realpath(path),
               "latest does not point at the ingested run")


def test_mangled_but_complete():
    """CR LF, escapes around and inside lines, other programs' lines between
    blocks, a timestamp glued before markers: all recovered exactly."""
    with tempfile.TemporaryDirectory() as d:
        text = clean_log()
        lines = text.split("\n")[:-1]
        mangled = ["\x1b[2J\x1b[01;01H\x1b[=3hBdsDxe: loading Boot0001", "login: ",
                   "\x1b]0;sol session\x07ipmitool: SOL session operational"]
        for ln in lines:
            if ln.startswith("@@BEGIN"):
                mangled.append("[sol 12:00:01] other program output")
                ln = "[12:00:02] " + ln  # a console server's timestamp
            elif ln.startswith("@@END") or ln.startswith("@@VERDICT"):
                ln = "\x1b[0m" + ln
            mangled.append(ln)
        data = crlf("\n".join(mangled) + "\n").replace("\r\n", "\r\r\n", 3)
        rc, out, path = ingest(d, data)
        expect(rc == 0, f"rc {rc}: {out}")
        expect(results_csv(path) == reference_csv(d, text), "results.csv differs after cleaning")
        counts = meta_of(path)["ingested"]["cleaning"]
        expect(counts["cr"] > 0 and counts["escapes"] >= 4 and counts["marker_prefixes"] > 0,
               f"cleaning counts {counts}")


def test_last_of_several_runs():
    with tempfile.TemporaryDirectory() as d:
        first = clean_log(cut_after=12)  # a boot that died, then the machine was reset
        text = clean_log()
        rc, out, path = ingest(d, first + "BIOS POST\n" + text)
        expect(rc == 0, f"rc {rc}: {out}")
        expect(meta_of(path)["ingested"]["runs_in_log"] == 2, "two runs not found")
        expect(results_csv(path) == reference_csv(d, text), "not the last run's results")
        rc, out, path = ingest(d, first + text, "--run", "1")
        expect(rc == 1 and "truncated" in out, f"the first run should be truncated: {out}")
        rc, out, _ = ingest(d, first + text, "--run", "3")
        expect(rc == 2 and "holds 2 run(s)" in out, f"--run 3: rc {rc}: {out}")


def test_truncated_tail():
    with tempfile.TemporaryDirectory() as d:
        lines = clean_log().split("\n")
        cut = next(i for i, ln in enumerate(lines) if ln.startswith("@@BEGIN results.csv")) + 3
        rc, out, path = ingest(d, "\n".join(lines[:cut]))  # no final newline either
        expect(rc == 1, f"rc {rc}: {out}")
        expect(path.endswith("-failed"), f"directory {path}")
        meta = meta_of(path)
        expect(meta["verdict"] == "truncated", f"verdict {meta['verdict']}")
        expect(any("truncated" in e for e in meta["rejected_blocks"]),
               f"the cut block is not reported: {meta['rejected_blocks']}")
        expect(not any(f.endswith(".png") for f in os.listdir(path)), "a failed run was plotted")


def test_flipped_byte():
    with tempfile.TemporaryDirectory() as d:
        text = clean_log()
        at = text.index("ns_per_op") + 2
        data = text[:at] + chr(ord(text[at]) ^ 0x20) + text[at + 1:]
        rc, out, path = ingest(d, crlf(data))
        expect(rc == 1 and path.endswith("-failed"), f"rc {rc}: {out}")
        meta = meta_of(path)
        expect(meta["verdict"] == "bad-data", f"verdict {meta['verdict']}")
        expect(any("CRC32 mismatch" in e for e in meta["rejected_blocks"]),
               f"no CRC message: {meta['rejected_blocks']}")


def test_noise_inside_a_block():
    with tempfile.TemporaryDirectory() as d:
        lines = clean_log().split("\n")
        at = next(i for i, ln in enumerate(lines) if ln.startswith("@@BEGIN results.csv")) + 2
        lines.insert(at, "kernel: [ 12.345] usb 1-1: new device")  # another program's line
        rc, out, path = ingest(d, "\n".join(lines))
        expect(rc == 1 and "CRC32 mismatch" in out and "row count mismatch" in out,
               f"rc {rc}: {out}")


def test_bad_input():
    with tempfile.TemporaryDirectory() as d:
        rc, out, path = ingest(d, "just a terminal session\nno kernel here\n")
        expect(rc == 2 and "no run of the kernel" in out and path is None, f"rc {rc}: {out}")
        r = subprocess.run([PY, INGEST, os.path.join(d, "missing.log")], capture_output=True,
                           text=True, timeout=60)
        expect(r.returncode == 2 and "cannot read" in r.stderr, f"{r.returncode}: {r.stderr}")
        r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, "ingest"],
                           capture_output=True, text=True, timeout=60)
        expect(r.returncode != 0 and "give LOG=" in r.stderr, f"make ingest: {r.stderr}")


TESTS = [(name[5:], fn) for name, fn in sorted(globals().items())
         if name.startswith("test_") and callable(fn)]
