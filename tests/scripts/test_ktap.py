"""Unit tests of scripts/ktap.py: the verdict of well-formed, failing,
nested, truncated and malformed KTAP blocks among other log lines."""
from common import expect
import ktap

PASSING = """kernel: frame allocator harness, commit abc
KTAP version 1
1..3
cpu: GenuineIntel
ok 1 cmdline
mm: 2 arenas
  KTAP version 1
  1..2
# progress: refcount start
  ok 1 refcount
  ok 2 pcp # SKIP not selected
ok 2 bench
ok 3 mm_check
@@VERDICT pass
"""


def verdict(text):
    return ktap.parse(text).verdict


def test_passing_block_among_log_lines():
    rep = ktap.parse(PASSING)
    expect(rep.verdict == "pass", f"verdict {rep.verdict}: {rep.errors}")
    expect([t.name for t in rep.tests] == ["cmdline", "bench", "mm_check"], f"{rep.tests}")
    sub = rep.tests[1].subtests
    expect([t.name for t in sub] == ["refcount", "pcp"] and sub[1].skipped, f"subtests {sub}")


def test_crlf_and_bytes():
    rep = ktap.parse(PASSING.replace("\n", "\r\n").encode())
    expect(rep.verdict == "pass", f"verdict {rep.verdict}: {rep.errors}")


def test_not_ok_fails_with_its_diagnostic():
    text = PASSING.replace("ok 3 mm_check", "not ok 3 mm_check # free frames: 12 listed, 13")
    rep = ktap.parse(text)
    expect(rep.verdict == "fail", f"verdict {rep.verdict}")
    expect(rep.failures() == ["mm_check: free frames: 12 listed, 13"], f"{rep.failures()}")


def test_failed_subtest_names_its_path():
    text = (PASSING.replace("  ok 1 refcount", "  not ok 1 refcount # 3 frames lost")
            .replace("ok 2 bench", "not ok 2 bench"))
    rep = ktap.parse(text)
    expect(rep.verdict == "fail", f"verdict {rep.verdict}: {rep.errors}")
    expect("bench/refcount: 3 frames lost" in rep.failures(), f"{rep.failures()}")


def test_parent_ok_over_failed_subtest_is_malformed():
    text = PASSING.replace("  ok 1 refcount", "  not ok 1 refcount")
    expect(verdict(text) == "malformed", "an ok parent over a failed subtest was accepted")


def test_truncated_block_is_malformed():
    text = PASSING[:PASSING.index("ok 3 mm_check")]
    rep = ktap.parse(text)
    expect(rep.verdict == "malformed", f"verdict {rep.verdict}")
    expect(any("truncated" in e and "1..3" in e for e in rep.errors), f"{rep.errors}")


def test_truncated_subtest_block_is_malformed():
    text = PASSING[:PASSING.index("  ok 2 pcp")]
    expect(verdict(text) == "malformed", "a cut subtest block was accepted")


def test_missing_block_is_malformed():
    rep = ktap.parse("kernel: frame allocator harness\n@@VERDICT pass\n")
    expect(rep.verdict == "malformed" and not rep.found, f"verdict {rep.verdict}")


def test_numbering_and_plan_errors():
    cases = {
        "skipped number": PASSING.replace("ok 2 bench", "ok 4 bench"),
        "second plan": PASSING.replace("ok 1 cmdline", "1..3\nok 1 cmdline"),
        "result before plan": "KTAP version 1\nok 1 a\n1..1\n",
        "no plan": "KTAP version 1\nok 1 a\n",
        "malformed result": PASSING.replace("ok 1 cmdline", "ok cmdline"),
        "odd indentation": PASSING.replace("  ok 1 refcount", "   ok 1 refcount"),
    }
    for what, text in cases.items():
        expect(verdict(text) == "malformed", f"{what}: verdict {verdict(text)}")


def test_early_exit_report_is_complete():
    # What kernel/report.c prints when a bad key ends the run at step 1.
    text = ("KTAP version 1\n1..3\nnot ok 1 cmdline # the run ended here (exit config-error)\n"
            "ok 2 mm_init # SKIP not run\nok 3 mm_check # SKIP not run\n")
    rep = ktap.parse(text)
    expect(rep.verdict == "fail" and not rep.errors, f"{rep.verdict} {rep.errors}")


TESTS = [(name[5:], fn) for name, fn in sorted(globals().items()) if name.startswith("test_")]
