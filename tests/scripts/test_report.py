"""Tests of scripts/report.py: the page of a good run in headless Chromium (no
console errors, nothing fetched, every plot laid out at a non-zero size, a
screenshot that is not blank), the page of a failed run, make report."""
import html
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

from common import ROOT, PY, Skipped, expect, fixtures
from test_bench import bench_from_log, host

REPORT = os.path.join(ROOT, "scripts", "report.py")
OUT = os.path.join(ROOT, "build", "report-test")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
# Appended to a copy of the page: measures what Chromium laid out and records
# script errors, into a <pre> that --dump-dom prints.
PROBE = """<script>
(function () {
  var figs = [].slice.call(document.querySelectorAll('figure.plot')).map(function (f) {
    var svg = f.querySelector('svg'), r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {id: f.id, width: r.width, height: r.height,
            drawn: svg ? svg.querySelectorAll('path, polyline, text').length : 0};
  });
  var res = performance.getEntriesByType('resource').map(function (e) { return e.name; });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({figures: figs, resources: res, errors: window.__errors});
  document.body.appendChild(pre);
})();
</script>"""
ERROR_HOOK = "<script>window.__errors = []; window.addEventListener('error', function (e) " \
             "{ window.__errors.push(String(e.message || e.type)); }, true);</script>"


def chromium():
    path = shutil.which("chromium")
    if path is None:
        raise Skipped("chromium is not installed (make deps installs Debian's chromium)")
    return path


def run_chromium(args, profile):
    """Chromium headless with a fresh profile; (stdout, stderr)."""
    if os.path.exists(profile):
        shutil.rmtree(profile)
    os.makedirs(profile)
    cmd = [chromium()] + CHROMIUM_FLAGS + [f"--user-data-dir={profile}",
                                           "--enable-logging=stderr", "--v=0"] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    expect(r.returncode == 0, f"chromium failed (rc {r.returncode}): {r.stderr[-600:]}")
    return r.stdout, r.stderr


def console_lines(stderr):
    """Messages the page sent to the console (Chromium logs them as CONSOLE)."""
    return [ln for ln in stderr.splitlines() if "CONSOLE" in ln]


def png_pixels(path):
    """(width, height, rows of RGB(A) tuples) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    expect(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            expect(depth == 8 and colour in (2, 6), f"PNG depth {depth} colour type {colour}")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride, prev, rows = width * bpp, bytearray(width * bpp), []
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def good_run(d):
    text = fixtures.Generator(smp=4, concurrency=True, concurrent_upto=2).log()
    rc, out, err, dirs = bench_from_log(d, text, "--smp", "4", host=host(2, busy=True))
    expect(rc == 0, f"fixture run failed: {err}")
    expect("bench: report in " in out and os.path.exists(os.path.join(dirs[0], "report.html")),
           f"make bench did not print the report's path: {out[-300:]}")
    return dirs[0]


def test_page_content():
    with tempfile.TemporaryDirectory() as d:
        path = good_run(d)
        page = html.unescape(open(os.path.join(path, "report.html"), encoding="utf-8").read())
        for words in ("PASS: every benchmark ran", "SMP=4 exceeds the host's 2 cores",
                      "the host was busy", "were not concurrent", "<details>",
                      'href="results.csv"', 'href="serial.log"', "history.html",
                      "refcount: ns/op (median over runs)", "QEMU emulator version"):
            expect(words in page, f"report lacks '{words}'")
        for tag in ("<script", "<img", "<link", "http://", "https://"):
            expect(tag not in page.replace("http://www.w3.org/", ""),
                   f"report is not self-contained: it has '{tag}'")
        expect(page.count("<figure class=\"plot\"") == 6, "not six plots inlined")


def test_renders_in_chromium():
    chromium()
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        path = good_run(d)
        page = open(os.path.join(path, "report.html"), encoding="utf-8").read()
        probe = os.path.join(path, "probe.html")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(page.replace("<head>", "<head>" + ERROR_HOOK, 1)
                    .replace("</body>", PROBE + "</body>", 1))
        dom, stderr = run_chromium(["--dump-dom", "file://" + probe], os.path.join(OUT, "p1"))
        start = dom.find('<pre id="probe">')
        expect(start >= 0, f"the probe did not run: {stderr[-400:]}")
        found = json.loads(html.unescape(dom[start + 16:dom.index("</pre>", start)]))
        expect(not found["errors"], f"script errors: {found['errors']}")
        expect(not found["resources"], f"the page fetched {found['resources']}")
        figs = found["figures"]
        expect(len(figs) == 6, f"{len(figs)} figures laid out: {figs}")
        for fig in figs:
            expect(fig["width"] > 300 and fig["height"] > 150 and fig["drawn"] > 20,
                   f"figure {fig['id']} not rendered: {fig}")
        shot = os.path.join(OUT, "report.png")
        if os.path.exists(shot):
            os.remove(shot)
        _, stderr = run_chromium(["--window-size=1200,2000", f"--screenshot={shot}",
                                  "file://" + os.path.join(path, "report.html")],
                                 os.path.join(OUT, "p2"))
        expect(not console_lines(stderr), f"console messages: {console_lines(stderr)[:3]}")
        width, height, bpp, rows = png_pixels(shot)
        expect((width, height) == (1200, 2000), f"screenshot {width}x{height}")
        colours, inked = set(), 0
        for row in rows[::4]:
            for x in range(0, width * bpp, bpp * 4):
                px = row[x:x + 3]
                colours.add(px)
                inked += px != b"\xff\xff\xff"
        share = inked / (len(rows[::4]) * len(range(0, width * bpp, bpp * 4)))
        expect(share > 0.03 and len(colours) > 20,
               f"the screenshot looks blank: {share:.1%} non-white, {len(colours)} colours")
        print(f"# report screenshot {shot}: {share:.1%} non-white, {len(colours)} colours")


def test_failed_run_page():
    with tempfile.TemporaryDirectory() as d:
        text = fixtures.Generator(smp=2, runs=3).log(cut_after=40)
        rc, _, err, dirs = bench_from_log(d, text, "--smp", "2", verdict="timeout", status=124)
        expect(rc == 1 and "report (why it failed) in" in err, f"rc {rc}: {err[-300:]}")
        page = open(os.path.join(dirs[0], "report.html"), encoding="utf-8").read()
        expect("RUN FAILED (timeout)" in page and "End of the serial log" in page and
               "kernel: synthetic fixture booting" in page, "failed page does not say why")
        expect("<figure" not in page, "a failed run's page shows plots")


def test_make_report():
    with tempfile.TemporaryDirectory() as d:
        path = good_run(d)
        os.remove(os.path.join(path, "report.html"))
        r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, "report",
                            f"RESULTS={path}"], capture_output=True, text=True, timeout=120)
        expect(r.returncode == 0 and os.path.exists(os.path.join(path, "report.html")),
               f"make report: {r.returncode} {r.stderr}")
        r = subprocess.run([PY, REPORT, os.path.join(d, "nonexistent")], capture_output=True,
                           text=True)
        expect(r.returncode == 1 and "no such results directory" in r.stderr, r.stderr)


def test_history():
    """The index is rebuilt from the directories (a removed run disappears),
    icount and timing runs land in their panels, the page links the reports."""
    import sqlite3
    with tempfile.TemporaryDirectory() as d:
        root = os.path.join(d, "results")
        runs = []
        for i, (icount, commit) in enumerate(((True, "aaaaaaa"), (True, "bbbbbbb"),
                                              (False, "aaaaaaa"), (False, "bbbbbbb"))):
            sub = os.path.join(d, f"r{i}")
            os.makedirs(sub)
            gen = fixtures.Generator(smp=2, icount=icount, seed=i + 1,
                                     benches=("refcount", "pcp", "contig"))
            opts = ["--smp", "2", "--no-plot", "--commit", commit,
                    "--bench", "refcount,pcp,contig"] + (["--icount", "1"] if icount else [])
            rc, _, err, dirs = bench_from_log(sub, gen.log(), *opts)
            expect(rc == 0, f"fixture {i}: {err}")
            runs.append(shutil.move(dirs[0], os.path.join(root, f"2025010{i}-120000-{commit}")))
        r = subprocess.run([PY, os.path.join(ROOT, "scripts", "history.py"), root],
                           capture_output=True, text=True, timeout=300)
        expect(r.returncode == 0 and "4 runs" in r.stdout, f"history: {r.stdout} {r.stderr}")
        db = sqlite3.connect(os.path.join(root, "index.sqlite"))
        got = db.execute("SELECT commit_id, icount, value FROM figures JOIN runs ON name = run "
                         "WHERE bench='refcount' AND case_name='shared' AND cpus=1 AND "
                         "metric='ns_per_op' ORDER BY date").fetchall()
        db.close()
        expect([(c, i) for c, i, _ in got] == [("aaaaaaa", 1), ("bbbbbbb", 1), ("aaaaaaa", 0),
                                               ("bbbbbbb", 0)], f"index: {got}")
        page = open(os.path.join(root, "history.html"), encoding="utf-8").read()
        expect(page.count("<figure class=\"plot\"") == 6, "not six headline charts")
        expect(all(f'href="{os.path.basename(p)}/report.html"' in page for p in runs),
               "run table does not link the reports")
        svg = open(os.path.join(root, "history", "refcount_shared.svg")).read()
        expect("ICOUNT=1, exact" in svg and "min..max" in svg and "bbbbbbb" in svg, "chart")
        shutil.rmtree(runs[0])
        subprocess.run([PY, os.path.join(ROOT, "scripts", "history.py"), root],
                       capture_output=True, text=True, timeout=300)
        db = sqlite3.connect(os.path.join(root, "index.sqlite"))
        n = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        db.close()
        expect(n == 3, f"index not rebuilt from the directories: {n} runs")


TESTS = [(name[5:], fn) for name, fn in globals().items()
         if name.startswith("test_") and callable(fn)]
