"""Unit tests of scripts/extract.py: framing, counts, CRC32, truncation, CSV escaping."""
import os
import subprocess
import tempfile

from common import ROOT, PY, expect, fixtures
import extract

HEADER = "bench,case,cpus,param,metric,value,unit"
ROWS = [("refcount", "shared", 1, "", "ns_per_op", "12.5", "ns"),
        ("pcp", "batch", 1, "k=64;capacity=32;batch=16", "hit_rate", "0.5", "ratio")]


def log_of(lines, end="\n"):
    return "".join(line + end for line in ["noise before"] + lines + ["@@VERDICT pass"])


def test_good_block():
    ex = extract.extract(log_of(fixtures.frame("results.csv", HEADER, ROWS)))
    expect(ex.ok, f"errors: {ex.errors}")
    block = ex.blocks["results.csv"]
    expect(block.header == HEADER.split(","), f"header {block.header}")
    expect(block.records == [[str(f) for f in r] for r in ROWS], f"records {block.records}")
    expect(ex.verdict == "pass", f"verdict {ex.verdict}")


def test_crlf_and_bytes():
    text = log_of(fixtures.frame("results.csv", HEADER, ROWS), end="\r\n")
    ex = extract.extract(text.encode())
    expect(ex.ok and len(ex.blocks["results.csv"].records) == 2, f"errors: {ex.errors}")


def test_count_mismatch():
    lines = fixtures.frame("results.csv", HEADER, ROWS, rows=3)
    ex = extract.extract(log_of(lines))
    expect("results.csv" not in ex.blocks, "a block with a wrong count was accepted")
    expect(any("row count mismatch: @@END says rows=3, 2 received" in e for e in ex.errors),
           f"message: {ex.errors}")


def test_crc_mismatch():
    lines = fixtures.frame("results.csv", HEADER, ROWS)
    lines[2] = lines[2].replace("12.5", "12.6")  # one garbled digit
    ex = extract.extract(log_of(lines))
    expect("results.csv" not in ex.blocks, "a garbled block was accepted")
    expect(any("CRC32 mismatch" in e and "serial line 2" in e for e in ex.errors),
           f"message: {ex.errors}")


def test_crc_of_known_text():
    # CRC-32/IEEE of "12345678\n" (the standard check string, newline-terminated
    # as a block line is) computed independently of zlib: bitwise, poly 0xedb88320.
    crc = 0xFFFFFFFF
    for byte in b"12345678\n":
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    expect(extract.crc32_of(["12345678"]) == crc ^ 0xFFFFFFFF, "CRC32 of one line")
    expect(extract.crc32_of([]) == 0, "empty payload")


def test_truncated_at_eof():
    text = fixtures.Generator(smp=2, runs=2).log(cut_after=12)
    ex = extract.extract(text)
    expect(any("truncated: the log ends" in e for e in ex.errors), f"message: {ex.errors}")
    expect("results.csv" not in ex.blocks, "a truncated block was accepted")


def test_truncated_by_next_block():
    lines = fixtures.frame("results.csv", HEADER, ROWS)[:-1] + \
        fixtures.frame("hist.csv", fixtures.HIST_HEADER, [])
    ex = extract.extract(log_of(lines))
    expect(any("truncated: a new @@BEGIN" in e for e in ex.errors), f"message: {ex.errors}")
    expect("results.csv" not in ex.blocks and "hist.csv" in ex.blocks,
           f"blocks {list(ex.blocks)}")


def test_truncated_end_line():
    lines = fixtures.frame("results.csv", HEADER, ROWS)
    lines[-1] = lines[-1][:-4]  # the @@END line itself cut short
    ex = extract.extract(log_of(lines))
    expect(any("malformed @@END" in e for e in ex.errors), f"message: {ex.errors}")


def test_escaped_fields():
    rows = [("a,b", 'say "hi"', "two\nlines", "plain", "", '"', ",")]
    lines = fixtures.frame("misc.csv", "f1,f2,f3,f4,f5,f6,f7", rows)
    expect(len("\n".join(lines).split("\n")) == 5, "the newline field spans two serial lines")
    ex = extract.extract(log_of(lines))
    expect(ex.ok, f"errors: {ex.errors}")
    expect(ex.blocks["misc.csv"].records == [list(rows[0])],
           f"records {ex.blocks['misc.csv'].records}")
    with tempfile.TemporaryDirectory() as d:
        extract.write_blocks(ex, d)
        again = open(os.path.join(d, "misc.csv")).read()
        expect('"a,b","say ""hi""","two\nlines",plain,,"""",","' in again, again)


def test_param_field_with_separator():
    rows = [("pcp", "batch", 1, "k=64;capacity=32", "hit_rate", "0.5", "ratio"),
            ("contig", "fresh", 1, "n=3;align=4", "p50_ns", "300", "ns")]
    ex = extract.extract(log_of(fixtures.frame("results.csv", HEADER, rows)))
    expect(ex.ok, f"errors: {ex.errors}")


def test_wrong_header():
    ex = extract.extract(log_of(fixtures.frame("results.csv", "bench,case,value", [])))
    expect(any("header is 'bench,case,value'" in e for e in ex.errors), f"{ex.errors}")


def test_bad_number():
    rows = [("refcount", "shared", "x", "", "ns_per_op", "12.5", "ns")]
    ex = extract.extract(log_of(fixtures.frame("results.csv", HEADER, rows)))
    expect(any("cpus 'x' is not an integer" in e for e in ex.errors), f"{ex.errors}")


def test_ragged_row():
    lines = fixtures.frame("results.csv", HEADER, [("a", "b")])
    ex = extract.extract(log_of(lines))
    expect(any("row 1 has 2 fields, header has 7" in e for e in ex.errors), f"{ex.errors}")


def test_merge_same_name():
    lines = fixtures.frame("results.csv", HEADER, ROWS[:1]) + \
        fixtures.frame("results.csv", HEADER, ROWS[1:])
    ex = extract.extract(log_of(lines))
    expect(ex.ok and len(ex.blocks["results.csv"].records) == 2, f"{ex.errors}")
    other = fixtures.frame("misc.csv", "a,b", [(1, 2)]) + fixtures.frame("misc.csv", "a,c", [])
    ex = extract.extract(log_of(other))
    expect(any("header differs" in e for e in ex.errors), f"{ex.errors}")


def test_stray_end_and_bad_name():
    ex = extract.extract(log_of(["@@END results.csv rows=0 crc32=00000000"] +
                                fixtures.frame("../evil", "a", [])))
    expect(any("without a matching @@BEGIN" in e for e in ex.errors), f"{ex.errors}")
    expect(any("not a plain file name" in e for e in ex.errors), f"{ex.errors}")
    expect("../evil" not in ex.blocks, "a path-like block name was accepted")


def test_progress_and_full_log():
    ex = extract.extract(fixtures.Generator(smp=4, runs=3).log())
    expect(ex.ok, f"errors: {ex.errors}")
    expect(set(ex.blocks) == {"meta.csv", "results.csv", "hist.csv"}, f"{list(ex.blocks)}")
    expect("refcount start" in ex.progress, f"progress {ex.progress}")


def test_cli():
    with tempfile.TemporaryDirectory() as d:
        good, bad = os.path.join(d, "good.log"), os.path.join(d, "bad.log")
        open(good, "w").write(fixtures.Generator(smp=2, runs=2).log())
        lines = fixtures.frame("results.csv", HEADER, ROWS, crc=0x1234)
        open(bad, "w").write(log_of(lines))
        tool = os.path.join(ROOT, "scripts", "extract.py")
        r = subprocess.run([PY, tool, good, "--out", os.path.join(d, "out")],
                           capture_output=True, text=True)
        expect(r.returncode == 0 and "results.csv:" in r.stdout, f"good: {r.returncode} {r.stderr}")
        expect(os.path.exists(os.path.join(d, "out", "hist.csv")), "hist.csv not written")
        r = subprocess.run([PY, tool, bad], capture_output=True, text=True)
        expect(r.returncode == 1 and "CRC32 mismatch" in r.stderr, f"bad: {r.returncode} {r.stderr}")


TESTS = [(name[5:], fn) for name, fn in sorted(globals().items())
         if name.startswith("test_") and callable(fn)]
