/*
 * test_cmdline.c - lib/cmdline.c: splitting, every getter's valid,
 * invalid and absent cases and range edges, and the error text the boot code
 * prints (checked line by line, since users read exactly these lines).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/harness/check.h"
#include "lib/cmdline.h"

CHECK_SUITE("lib");

static struct cmdline cl;

/* True when cl.error holds exactly this line (terminated by '\n'). */
static bool has_line(const char *line)
{
    size_t n = strlen(line);
    for (const char *p = cl.error; (p = strstr(p, line)) != NULL; p++)
        if ((p == cl.error || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

#define CHECK_LINE(line) CHECKF(has_line(line), "missing line \"%s\" in:\n%s", (line), cl.error)

static unsigned line_count(void)
{
    unsigned n = 0;
    for (const char *p = cl.error; *p; p++)
        n += *p == '\n';
    return n;
}

CHECK_TEST(cmdline_split)
{
    CHECK(cmdline_parse(&cl, ""));
    CHECK_EQ_U(cl.count, 0);
    CHECK(cmdline_finish(&cl));
    CHECK_STR_EQ(cl.error, "");
    CHECK(cmdline_parse(&cl, NULL));
    CHECK(cmdline_parse(&cl, "   \t "));
    CHECK_EQ_U(cl.count, 0);

    CHECK(cmdline_parse(&cl, "  a=1\tb=two \r\n c   d=x=y e= "));
    CHECK_EQ_U(cl.count, 5);
    CHECK_STR_EQ(cl.param[0].key, "a");
    CHECK_STR_EQ(cl.param[0].value, "1");
    CHECK_STR_EQ(cl.param[1].key, "b");
    CHECK_STR_EQ(cl.param[1].value, "two");
    CHECK_STR_EQ(cl.param[2].key, "c");
    CHECK_STR_EQ(cl.param[2].value, "1"); /* a bare word means key=1 */
    CHECK_STR_EQ(cl.param[3].key, "d");
    CHECK_STR_EQ(cl.param[3].value, "x=y"); /* only the first '=' splits */
    CHECK_STR_EQ(cl.param[4].key, "e");
    CHECK_STR_EQ(cl.param[4].value, "");
    CHECK(!cl.param[0].known);
    CHECK_EQ_U(cl.errors, 0);

    /* The parser copies the text: the caller's buffer may go away. */
    char text[] = "k=v";
    CHECK(cmdline_parse(&cl, text));
    text[2] = 'X';
    CHECK_STR_EQ(cmdline_str(&cl, "k"), "v");
}

CHECK_TEST(cmdline_u64_getter)
{
    uint64_t v;
    CHECK(cmdline_parse(&cl, "a=42 b=0x10 c=0XfF d=1 e=1000 f=0 g=1001 h=abc i= j=12abc k=-1 "
                             "l=+5 m=18446744073709551615 n=18446744073709551616 o=0x "
                             "p=0xFFFFFFFFFFFFFFFF q=0x10000000000000000 r=007 s=4K"));
    CHECK(cmdline_u64(&cl, "a", 7, 0, 100, &v) && v == 42);
    CHECK(cmdline_u64(&cl, "b", 7, 0, 100, &v) && v == 16);
    CHECK(cmdline_u64(&cl, "c", 7, 0, 1000, &v) && v == 255);
    CHECK(cmdline_u64(&cl, "d", 7, 1, 1000, &v) && v == 1);    /* min edge */
    CHECK(cmdline_u64(&cl, "e", 7, 1, 1000, &v) && v == 1000); /* max edge */
    CHECK(cmdline_u64(&cl, "r", 7, 0, 10, &v) && v == 7);      /* leading zeros are decimal */
    CHECK(cmdline_u64(&cl, "absent", 7, 1, 1000, &v) && v == 7);
    CHECK_EQ_U(cl.errors, 0);

    CHECK(!cmdline_u64(&cl, "f", 7, 1, 1000, &v) && v == 7); /* below min */
    CHECK_LINE("cmdline: f=0: expected an integer in 1..1000");
    CHECK(!cmdline_u64(&cl, "g", 7, 1, 1000, &v) && v == 7); /* above max */
    CHECK_LINE("cmdline: g=1001: expected an integer in 1..1000");
    CHECK(!cmdline_u64(&cl, "h", 7, 1, 1000, &v) && v == 7);
    CHECK_LINE("cmdline: h=abc: expected an integer in 1..1000");
    CHECK(!cmdline_u64(&cl, "i", 7, 0, 9, &v) && v == 7);
    CHECK_LINE("cmdline: i=: expected an integer in 0..9");
    CHECK(!cmdline_u64(&cl, "j", 7, 0, 1000, &v));
    CHECK(!cmdline_u64(&cl, "k", 7, 0, 1000, &v));
    CHECK(!cmdline_u64(&cl, "l", 7, 0, 1000, &v));
    CHECK(cmdline_u64(&cl, "m", 7, 0, UINT64_MAX, &v) && v == UINT64_MAX);
    CHECK(!cmdline_u64(&cl, "n", 7, 0, UINT64_MAX, &v) && v == 7); /* overflow */
    CHECK_LINE("cmdline: n=18446744073709551616: expected an integer in 0..18446744073709551615");
    CHECK(!cmdline_u64(&cl, "o", 7, 0, 1000, &v));
    CHECK(cmdline_u64(&cl, "p", 7, 0, UINT64_MAX, &v) && v == UINT64_MAX);
    CHECK(!cmdline_u64(&cl, "q", 7, 0, UINT64_MAX, &v)); /* hex overflow */
    CHECK(!cmdline_u64(&cl, "s", 7, 0, UINT64_MAX, &v) && v == 7); /* a suffix is for sizes */
    CHECK_LINE("cmdline: s=4K: expected an integer in 0..18446744073709551615");
    CHECK_EQ_U(cl.errors, 11);
    CHECK_EQ_U(line_count(), 11);
    CHECK(!cmdline_finish(&cl)); /* errors from getters make the line bad */
    CHECK_EQ_U(cl.errors, 11);   /* ...and every key was asked for */
}

CHECK_TEST(cmdline_size_getter)
{
    uint64_t v;
    const uint64_t K = 1024, M = K * K, G = M * K;
    CHECK(cmdline_parse(&cl, "a=4K b=0x10M c=1G d=3 e=1T f=K g=1KB h=16777216G i=17179869184G "
                             "j=12Q k=4095 l=1025M m=1k n=0"));
    CHECK(cmdline_size(&cl, "a", 0, 0, UINT64_MAX, &v) && v == 4 * K);
    CHECK(cmdline_size(&cl, "b", 0, 0, UINT64_MAX, &v) && v == 16 * M);
    CHECK(cmdline_size(&cl, "c", 0, 0, G, &v) && v == G); /* max edge */
    CHECK(cmdline_size(&cl, "d", 0, 3, 3, &v) && v == 3);
    CHECK(cmdline_size(&cl, "h", 0, 0, UINT64_MAX, &v) && v == ((uint64_t)1 << 54));
    CHECK(cmdline_size(&cl, "absent", 5 * M, 0, G, &v) && v == 5 * M);
    CHECK(cmdline_size(&cl, "n", 1, 0, G, &v) && v == 0);
    CHECK_EQ_U(cl.errors, 0);
    CHECK(!cmdline_size(&cl, "e", 9, 0, UINT64_MAX, &v) && v == 9); /* T is not a suffix */
    CHECK(!cmdline_size(&cl, "f", 9, 0, UINT64_MAX, &v));           /* suffix without digits */
    CHECK(!cmdline_size(&cl, "g", 9, 0, UINT64_MAX, &v));           /* trailing junk */
    CHECK(!cmdline_size(&cl, "i", 9, 0, UINT64_MAX, &v) && v == 9); /* 2^64: overflow */
    CHECK(!cmdline_size(&cl, "j", 9, 4 * K, G, &v));
    CHECK_LINE("cmdline: j=12Q: expected a size in 4K..1G (bytes, decimal or 0x hex, optional "
               "K/M/G suffix)");
    CHECK(!cmdline_size(&cl, "k", 9, 4 * K, G, &v)); /* min - 1 */
    CHECK_LINE("cmdline: k=4095: expected a size in 4K..1G (bytes, decimal or 0x hex, optional "
               "K/M/G suffix)");
    CHECK(!cmdline_size(&cl, "l", 9, 4 * K, G, &v)); /* above max */
    CHECK(!cmdline_size(&cl, "m", 9, 0, G, &v));     /* suffixes are case sensitive */
    CHECK_LINE("cmdline: m=1k: expected a size in 0..1G (bytes, decimal or 0x hex, optional "
               "K/M/G suffix)");
    CHECK_EQ_U(cl.errors, 8);
    CHECK(cmdline_parse(&cl, "x=3"));
    CHECK(!cmdline_size(&cl, "x", 9, 1000, 5000, &v));
    CHECK_LINE("cmdline: x=3: expected a size in 1000..5000 (bytes, decimal or 0x hex, optional "
               "K/M/G suffix)");
}

CHECK_TEST(cmdline_bool_getter)
{
    bool b;
    CHECK(cmdline_parse(&cl, "a=1 b=yes c=on d=true e=0 f=no g=off h=false bare i=maybe j=TRUE k="));
    const char *truthy[] = {"a", "b", "c", "d", "bare"}, *falsy[] = {"e", "f", "g", "h"};
    for (unsigned i = 0; i < 5; i++)
        CHECKF(cmdline_bool(&cl, truthy[i], false, &b) && b, "%s", truthy[i]);
    for (unsigned i = 0; i < 4; i++)
        CHECKF(cmdline_bool(&cl, falsy[i], true, &b) && !b, "%s", falsy[i]);
    CHECK(cmdline_bool(&cl, "absent", true, &b) && b);
    CHECK(cmdline_bool(&cl, "absent", false, &b) && !b);
    CHECK_EQ_U(cl.errors, 0);
    CHECK(!cmdline_bool(&cl, "i", true, &b) && b);
    CHECK_LINE("cmdline: i=maybe: expected 0/1, yes/no, on/off or true/false");
    CHECK(!cmdline_bool(&cl, "j", false, &b) && !b);
    CHECK(!cmdline_bool(&cl, "k", false, &b));
    CHECK_EQ_U(cl.errors, 3);
    CHECK(!cmdline_finish(&cl));
    CHECK_EQ_U(cl.errors, 3);
}

CHECK_TEST(cmdline_enum_getter)
{
    static const char *const accel[] = {"auto", "tcg", "kvm"};
    unsigned v;
    CHECK(cmdline_parse(&cl, "a=kvm b=auto c=foo d=KVM e= f"));
    CHECK(cmdline_enum(&cl, "a", accel, 3, 0, &v) && v == 2);
    CHECK(cmdline_enum(&cl, "b", accel, 3, 1, &v) && v == 0);
    CHECK(cmdline_enum(&cl, "absent", accel, 3, 1, &v) && v == 1);
    CHECK(!cmdline_enum(&cl, "c", accel, 3, 1, &v) && v == 1);
    CHECK_LINE("cmdline: c=foo: expected one of auto, tcg, kvm");
    CHECK(!cmdline_enum(&cl, "d", accel, 3, 1, &v));
    CHECK(!cmdline_enum(&cl, "e", accel, 3, 1, &v));
    CHECK(!cmdline_enum(&cl, "f", accel, 3, 1, &v)); /* bare word = "1", not a name */
    CHECK_LINE("cmdline: f=1: expected one of auto, tcg, kvm");
    CHECK_EQ_U(cl.errors, 4);
}

CHECK_TEST(cmdline_list_getter)
{
    static const char *const bench[] = {"refcount", "pcp", "contig", "stress"};
    static const char *names64[64];
    static char storage[64][8];
    for (int i = 0; i < 64; i++) {
        snprintf(storage[i], sizeof(storage[i]), "n%d", i);
        names64[i] = storage[i];
    }
    uint64_t m;
    CHECK(cmdline_parse(&cl, "a=refcount,contig b=all c=pcp,all d=pcp,pcp e=stress f= g=pcp,,contig "
                             "h=pcp, i=,pcp j=pcp,zz k=all l=n63,n0 m=refcoun n=alll"));
    CHECK(cmdline_list(&cl, "a", bench, 4, 0, &m) && m == 0x5);
    CHECK(cmdline_list(&cl, "b", bench, 4, 0, &m) && m == 0xf);
    CHECK(cmdline_list(&cl, "c", bench, 4, 0, &m) && m == 0xf);
    CHECK(cmdline_list(&cl, "d", bench, 4, 0, &m) && m == 0x2); /* repeats are harmless */
    CHECK(cmdline_list(&cl, "e", bench, 4, 0, &m) && m == 0x8);
    CHECK(cmdline_list(&cl, "absent", bench, 4, 0x3, &m) && m == 0x3);
    CHECK(cmdline_list(&cl, "k", names64, 64, 0, &m) && m == UINT64_MAX);
    CHECK(cmdline_list(&cl, "l", names64, 64, 0, &m) && m == (1ull << 63 | 1));
    CHECK_EQ_U(cl.errors, 0);
    CHECK(!cmdline_list(&cl, "f", bench, 4, 0x3, &m) && m == 0x3);
    CHECK_LINE("cmdline: f=: empty name; expected a comma-separated list of refcount, pcp, "
               "contig, stress or all");
    CHECK(!cmdline_list(&cl, "g", bench, 4, 0x3, &m) && m == 0x3);
    CHECK(!cmdline_list(&cl, "h", bench, 4, 0x3, &m));
    CHECK(!cmdline_list(&cl, "i", bench, 4, 0x3, &m));
    CHECK(!cmdline_list(&cl, "j", bench, 4, 0x3, &m) && m == 0x3);
    CHECK_LINE("cmdline: j=pcp,zz: unknown name 'zz'; expected a comma-separated list of "
               "refcount, pcp, contig, stress or all");
    CHECK(!cmdline_list(&cl, "m", bench, 4, 0, &m)); /* prefixes do not match */
    CHECK(!cmdline_list(&cl, "n", bench, 4, 0, &m));
    CHECK_EQ_U(cl.errors, 7);
    static const char *names65[65];
    for (int i = 0; i < 65; i++)
        names65[i] = "x";
    CHECK(!cmdline_list(&cl, "b", names65, 65, 0, &m));
    CHECK_LINE("cmdline: b: internal error: 65 names offered, a list holds at most 64");
}

CHECK_TEST(cmdline_str_getter)
{
    CHECK(cmdline_parse(&cl, "seed=0xabc name=x,y empty= flag"));
    CHECK_STR_EQ(cmdline_str(&cl, "seed"), "0xabc");
    CHECK_STR_EQ(cmdline_str(&cl, "name"), "x,y");
    CHECK_STR_EQ(cmdline_str(&cl, "empty"), "");
    CHECK_STR_EQ(cmdline_str(&cl, "flag"), "1");
    CHECK(cmdline_str(&cl, "absent") == NULL);
    CHECK(cmdline_str(&cl, "SEED") == NULL); /* keys are case sensitive */
    CHECK(cmdline_finish(&cl));              /* every key was read */
}

CHECK_TEST(cmdline_duplicates_and_empty_keys)
{
    uint64_t v;
    CHECK(!cmdline_parse(&cl, "runs=1 x=2 runs=2 =5 = b"));
    CHECK_LINE("cmdline: parameter 'runs' given twice (runs=1, then runs=2)");
    CHECK_LINE("cmdline: '=5': empty key before '='");
    CHECK_LINE("cmdline: '=': empty key before '='");
    CHECK_EQ_U(cl.errors, 3);
    CHECK_EQ_U(cl.count, 3); /* runs, x, b: the rest is still usable */
    CHECK(cmdline_u64(&cl, "runs", 9, 0, 10, &v) && v == 1); /* the first one is kept */
    cmdline_str(&cl, "x");
    cmdline_str(&cl, "b");
    CHECK(!cmdline_finish(&cl));
    CHECK_EQ_U(cl.errors, 3);
    CHECK(!cmdline_parse(&cl, "flag flag"));
    CHECK_LINE("cmdline: parameter 'flag' given twice (flag=1, then flag=1)");
}

CHECK_TEST(cmdline_overlong)
{
    static char text[CMDLINE_MAX_LEN + 16];
    /* The longest accepted line: CMDLINE_MAX_LEN - 1 characters. */
    memset(text, 0, sizeof(text));
    memcpy(text, "k=", 2);
    memset(text + 2, 'v', CMDLINE_MAX_LEN - 3);
    CHECK(cmdline_parse(&cl, text));
    CHECK_EQ_U(strlen(cmdline_str(&cl, "k")), CMDLINE_MAX_LEN - 3);
    /* One more character: rejected as a whole, nothing half-read. */
    text[CMDLINE_MAX_LEN - 1] = 'v';
    CHECK(!cmdline_parse(&cl, text));
    CHECK_EQ_U(cl.count, 0);
    CHECK_LINE("cmdline: the command line is longer than the 2047-byte limit; nothing was read");
    CHECK(cmdline_str(&cl, "k") == NULL);
    CHECK(!cmdline_finish(&cl));
    /* A long value is shortened inside the error line, not the error text. */
    char words[256];
    memset(words, 0, sizeof(words));
    memcpy(words, "runs=", 5);
    memset(words + 5, 'x', 100);
    CHECK(cmdline_parse(&cl, words));
    uint64_t v;
    CHECK(!cmdline_u64(&cl, "runs", 1, 1, 10, &v));
    char line[160];
    snprintf(line, sizeof(line), "cmdline: runs=%.64s...: expected an integer in 1..10",
             words + 5);
    CHECK_LINE(line);
}

CHECK_TEST(cmdline_too_many_params)
{
    static char text[CMDLINE_MAX_LEN];
    size_t len = 0;
    for (int i = 0; i < CMDLINE_MAX_PARAMS; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "p%d=%d ", i, i);
    CHECK(cmdline_parse(&cl, text)); /* exactly the limit */
    CHECK_EQ_U(cl.count, CMDLINE_MAX_PARAMS);
    snprintf(text + len, sizeof(text) - len, "p%d=1 p%d=2", CMDLINE_MAX_PARAMS,
             CMDLINE_MAX_PARAMS + 1);
    CHECK(!cmdline_parse(&cl, text));
    CHECK_EQ_U(cl.count, CMDLINE_MAX_PARAMS);
    CHECK_EQ_U(cl.errors, 1); /* one message for the overflow, not one per word */
    CHECK_LINE("cmdline: more than 64 parameters; 'p64' and the words after it were not read");
    uint64_t v;
    CHECK(cmdline_u64(&cl, "p63", 0, 0, 100, &v) && v == 63);
}

CHECK_TEST(cmdline_unknown_keys)
{
    uint64_t v;
    CHECK(cmdline_parse(&cl, "runs=3 foo=1 bar smp=2"));
    CHECK(cmdline_u64(&cl, "runs", 1, 1, 10, &v) && v == 3);
    CHECK(cmdline_u64(&cl, "smp", 1, 1, 10, &v) && v == 2);
    CHECK(!cmdline_finish(&cl));
    CHECK_EQ_U(cl.errors, 2);
    CHECK_STR_EQ(cl.error, "cmdline: unknown parameter 'foo'\ncmdline: unknown parameter 'bar'\n");
    /* All keys read: finish passes. */
    CHECK(cmdline_parse(&cl, "runs=3"));
    CHECK(cmdline_u64(&cl, "runs", 1, 1, 10, &v));
    CHECK(cmdline_finish(&cl));
    CHECK_STR_EQ(cl.error, "");
}

CHECK_TEST(cmdline_errors_accumulate)
{
    uint64_t v;
    bool b;
    CHECK(!cmdline_parse(&cl, "runs=abc runs=2 verbose=maybe mem=1X stray"));
    CHECK(!cmdline_u64(&cl, "runs", 1, 1, 1000, &v));
    CHECK(!cmdline_bool(&cl, "verbose", false, &b));
    CHECK(!cmdline_size(&cl, "mem", 0, 0, UINT64_MAX, &v));
    CHECK(!cmdline_finish(&cl));
    CHECK_EQ_U(cl.errors, 5);
    CHECK_EQ_U(line_count(), 5);
    /* In the order found: parse, then each getter, then the unknown keys. */
    const char *expect =
        "cmdline: parameter 'runs' given twice (runs=abc, then runs=2)\n"
        "cmdline: runs=abc: expected an integer in 1..1000\n"
        "cmdline: verbose=maybe: expected 0/1, yes/no, on/off or true/false\n"
        "cmdline: mem=1X: expected a size in 0..18446744073709551615 (bytes, decimal or 0x hex, "
        "optional K/M/G suffix)\n"
        "cmdline: unknown parameter 'stray'\n";
    CHECK_STR_EQ(cl.error, expect);
}

CHECK_TEST(cmdline_error_text_full)
{
    /* 64 unknown keys with long names overflow the 1 KiB error text. */
    static char text[CMDLINE_MAX_LEN];
    size_t len = 0;
    for (int i = 0; i < CMDLINE_MAX_PARAMS; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "unknown_key_%02d ", i);
    CHECK(cmdline_parse(&cl, text));
    CHECK(!cmdline_finish(&cl));
    CHECK_EQ_U(cl.errors, CMDLINE_MAX_PARAMS); /* the count stays exact */
    size_t n = strlen(cl.error);
    CHECK(n < CMDLINE_ERR_LEN);
    const char *omitted = "cmdline: further errors omitted\n";
    CHECK(n > strlen(omitted) && strcmp(cl.error + n - strlen(omitted), omitted) == 0);
    CHECK_LINE("cmdline: unknown parameter 'unknown_key_00'");
    CHECK(strstr(cl.error, "'unknown_key_63'") == NULL);
}

CHECK_MAIN()
