/*
 * test_ktap.c - lib/ktap.c: the exact lines, nesting, long and multi-line
 * diagnostics.  Output goes through plat_write (the host platform writes
 * stdout), captured here into a temporary file.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/ktap.h"
#include "tests/harness/check.h"

CHECK_SUITE("lib");

static char out[8192];
static int saved_stdout = -1;
static FILE *capture;

static void capture_begin(void)
{
    fflush(stdout);
    capture = tmpfile();
    saved_stdout = dup(1);
    dup2(fileno(capture), 1);
}

static const char *capture_end(void)
{
    fflush(stdout);
    dup2(saved_stdout, 1);
    close(saved_stdout);
    size_t n = 0;
    if (fseek(capture, 0, SEEK_SET) == 0)
        n = fread(out, 1, sizeof out - 1, capture);
    out[n] = '\0';
    fclose(capture);
    return out;
}

CHECK_TEST(ktap_top_level_block)
{
    capture_begin();
    ktap_begin(0, 3);
    ktap_result(0, true, 1, "cmdline", NULL);
    ktap_result(0, true, 2, "selftests", "SKIP %s", "none requested");
    ktap_result(0, false, 3, "mm_check", "free frames: %u listed, %u counted", 12u, 13u);
    const char *s = capture_end();
    CHECK_STR_EQ(s, "KTAP version 1\n1..3\nok 1 cmdline\nok 2 selftests # SKIP none requested\n"
                    "not ok 3 mm_check # free frames: 12 listed, 13 counted\n");
}

CHECK_TEST(ktap_nested_block_is_indented)
{
    capture_begin();
    ktap_begin(1, 1);
    ktap_result(1, true, 1, "refcount", NULL);
    ktap_begin(2, 0);
    const char *s = capture_end();
    CHECK_STR_EQ(s, "  KTAP version 1\n  1..1\n  ok 1 refcount\n    KTAP version 1\n    1..0\n");
}

CHECK_TEST(ktap_diagnostic_stays_one_line)
{
    capture_begin();
    ktap_result(0, false, 1, "mm_check", "two\nlines\r");
    const char *s = capture_end();
    CHECK_STR_EQ(s, "not ok 1 mm_check # two lines \n");
}

CHECK_TEST(ktap_long_diagnostic_is_cut)
{
    char diag[2 * KTAP_LINE_MAX];
    memset(diag, 'x', sizeof diag - 1);
    diag[sizeof diag - 1] = '\0';
    capture_begin();
    ktap_result(0, false, 7, "bench", "%s", diag);
    const char *s = capture_end();
    size_t len = strlen(s);
    CHECK(len == KTAP_LINE_MAX - 1);
    CHECK(strncmp(s, "not ok 7 bench # xxx", 20) == 0);
    CHECK(s[len - 1] == '\n');
    CHECK(strchr(s, '\n') == s + len - 1);
}

CHECK_MAIN()
