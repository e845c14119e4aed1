#!/usr/bin/python3
"""Extract and verify the framed CSV blocks of a serial log.

The kernel sends its data inside frames (DESIGN.md, "Serial output"):

    @@BEGIN <name>
    <CSV header>
    <rows>
    @@END <name> rows=<N> crc32=<8 lowercase hex>

where N counts the CSV records after the header and the CRC32 (IEEE, as
zlib.crc32) covers the header and rows exactly as sent, each followed by
"\\n".  A block is accepted only when its frame is complete, the count and
the CRC match and the CSV parses into records of the header's width; any
other block is rejected with a message naming it and the serial line, so a
truncated or garbled run is never plotted.  Blocks of the same name (e.g. one
results.csv per benchmark) are concatenated when their headers agree.

Usage: extract.py SERIAL_LOG [--out DIR]   (exit 1 when any block is bad)
"""
import argparse
import csv
import io
import os
import re
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402

BEGIN_RE = re.compile(r"^@@BEGIN (\S+)$")
END_RE = re.compile(r"^@@END (\S+) rows=(\d+) crc32=([0-9a-f]{8})$")
VERDICT_RE = re.compile(r"^@@VERDICT (\S+)$")
PROGRESS_PREFIX = "# progress: "
# Block names become file names in the results directory: no paths, no dot files.
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


class Block:
    """One verified block: its CSV header and records."""

    def __init__(self, name, line, header, records):
        self.name = name
        self.line = line  # serial line number of @@BEGIN (1-based)
        self.header = header
        self.records = records


class Extraction:
    def __init__(self):
        self.blocks = {}   # name -> Block (same-name blocks merged)
        self.errors = []   # one message per rejected block or stray marker
        self.verdict = None
        self.progress = []

    @property
    def ok(self):
        return not self.errors


def split_lines(data):
    """Serial text -> lines without terminators; accepts str or bytes, CR LF or LF.

    Bytes are decoded with surrogateescape so that encoding a line back gives
    exactly the bytes that were sent: the CRC is checked over those.
    """
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="surrogateescape")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def crc32_of(lines):
    payload = "".join(ln + "\n" for ln in lines)
    return zlib.crc32(payload.encode("utf-8", errors="surrogateescape")) & 0xFFFFFFFF


def _where(name, line):
    return f"block {name} (serial line {line})"


def verify_block(name, begin_line, lines, rows_declared, crc_declared):
    """Block on success; ValueError with the reasons otherwise."""
    problems = []
    if not NAME_RE.match(name):
        problems.append(f"name '{name}' is not a plain file name")
    crc = crc32_of(lines)
    if crc != crc_declared:
        problems.append(f"CRC32 mismatch: @@END says {crc_declared:08x}, "
                        f"the {len(lines)} line(s) received give {crc:08x}")
    try:
        text = "".join(ln + "\n" for ln in lines)
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        problems.append(f"CSV does not parse: {e}")
        records = []
    if not records:
        problems.append("no CSV header")
    else:
        header, rows = records[0], records[1:]
        if len(rows) != rows_declared:
            problems.append(f"row count mismatch: @@END says rows={rows_declared}, "
                            f"{len(rows)} received")
        expected = results.KNOWN_HEADERS.get(name)
        if expected is not None and header != expected:
            problems.append(f"header is '{','.join(header)}', "
                            f"expected '{','.join(expected)}'")
        for i, rec in enumerate(rows, start=1):
            if len(rec) != len(header):
                problems.append(f"row {i} has {len(rec)} fields, header has {len(header)}")
                break
    if not problems:
        problems += _check_values(name, rows)
    if problems:
        raise ValueError("; ".join(problems))
    return Block(name, begin_line, header, rows)


def _check_values(name, rows):
    """Known blocks must also carry numbers where numbers belong."""
    make = {"results.csv": results.make_row, "hist.csv": results.make_hist_row}.get(name)
    if make is None:
        return []
    for i, rec in enumerate(rows, start=1):
        try:
            make(rec)
        except ValueError as e:
            return [f"row {i}: {e}"]
    return []


def extract(data):
    """Scan a serial log; returns an Extraction (blocks, errors, verdict, progress)."""
    ex = Extraction()
    current = None  # (name, begin line number, [lines])
    for number, line in enumerate(split_lines(data), start=1):
        begin = BEGIN_RE.match(line)
        if line.startswith("@@"):
            if current is not None:
                end = END_RE.match(line)
                if end is None:
                    name = current[0]
                    what = ("a new @@BEGIN" if begin else
                            "a malformed @@END" if line.startswith("@@END") else
                            f"'{line[:40]}'")
                    ex.errors.append(f"{_where(name, current[1])}: truncated: "
                                     f"{what} at line {number} before its @@END; rejected")
                    current = None
                else:
                    _finish(ex, current, end, number)
                    current = None
                    continue
            if begin:
                current = (begin.group(1), number, [])
                continue
            verdict = VERDICT_RE.match(line)
            if verdict:
                ex.verdict = verdict.group(1)
            elif line.startswith("@@END"):
                ex.errors.append(f"serial line {number}: '{line[:60]}' without a matching "
                                 f"@@BEGIN; ignored")
            continue
        if current is not None:
            current[2].append(line)
        elif line.startswith(PROGRESS_PREFIX):
            ex.progress.append(line[len(PROGRESS_PREFIX):])
    if current is not None:
        ex.errors.append(f"{_where(current[0], current[1])}: truncated: the log ends "
                         f"after {len(current[2])} line(s) without @@END; rejected")
    return ex


def _finish(ex, current, end, end_line):
    name, begin_line, lines = current
    if end.group(1) != name:
        ex.errors.append(f"{_where(name, begin_line)}: closed by '@@END {end.group(1)}' "
                         f"at line {end_line}; rejected")
        return
    try:
        block = verify_block(name, begin_line, lines, int(end.group(2)), int(end.group(3), 16))
    except ValueError as e:
        ex.errors.append(f"{_where(name, begin_line)}: {e}; rejected")
        return
    prev = ex.blocks.get(name)
    if prev is None:
        ex.blocks[name] = block
    elif prev.header != block.header:
        ex.errors.append(f"{_where(name, begin_line)}: header differs from the earlier "
                         f"{name} block at line {prev.line}; rejected")
    else:
        prev.records.extend(block.records)


def log_tail(data, count=8):
    """The last human-readable lines of a serial log (block contents left out)."""
    lines, inside = [], False
    for line in split_lines(data):
        if line.startswith("@@BEGIN "):
            inside = True
        elif line.startswith("@@END "):
            inside = False
        elif not inside and line.strip():
            lines.append(line.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    return lines[-count:]


def write_blocks(ex, outdir):
    """Write each block as <outdir>/<name>; returns the file names written."""
    written = []
    for name, block in ex.blocks.items():
        with open(os.path.join(outdir, name), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(block.header)
            w.writerows(block.records)
        written.append(name)
    return written


def main(argv):
    ap = argparse.ArgumentParser(description="Extract and verify framed CSV blocks.")
    ap.add_argument("log", help="serial log written by scripts/qemu.py")
    ap.add_argument("--out", help="directory to write the verified blocks into")
    args = ap.parse_args(argv)
    try:
        with open(args.log, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"extract.py: cannot read {args.log}: {e.strerror}", file=sys.stderr)
        return 2
    ex = extract(data)
    for name, block in ex.blocks.items():
        print(f"{name}: {len(block.records)} rows, verified")
    for err in ex.errors:
        print(f"extract.py: {err}", file=sys.stderr)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_blocks(ex, args.out)
    if ex.verdict is None:
        print("extract.py: no @@VERDICT line in the log", file=sys.stderr)
    return 0 if ex.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
