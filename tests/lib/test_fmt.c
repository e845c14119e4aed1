/*
 * test_fmt.c - lib/fmt.c against the host C library (glibc).
 *
 * fmt promises glibc's output for its subset, so the oracle is glibc's own
 * snprintf: a hand-written table (every conversion, flag, length modifier,
 * edge value), then randomised sweeps of integer and %f specifications with
 * deterministic seeds (printed on failure so a mismatch can be replayed).
 * Formats are built at run time for the sweeps, so they go through an
 * unchecked (non-format-attributed) comparator; the table goes through a
 * checked one so that the compiler verifies the test's own argument types.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/check.h"
#include "lib/fmt.h"

CHECK_SUITE("lib");

#define OUT_MAX 4096

/* Mismatch reports per test are capped so a broken sweep stays readable. */
static int reported;

static int compare_v(int line, const char *fmt, va_list a, va_list b)
{
    char want[OUT_MAX], got[OUT_MAX];
    int wn = vsnprintf(want, sizeof(want), fmt, a);
    int gn = fmt_vsnprintf(got, sizeof(got), fmt, b);
    int ok = wn == gn && memcmp(want, got, (size_t)(wn < 0 ? 0 : wn < OUT_MAX ? wn : OUT_MAX - 1)) == 0;
    if (!ok && reported++ < 10)
        CHECKF(ok, "line %d: format \"%s\": libc \"%s\" (%d), fmt \"%s\" (%d)", line, fmt, want,
               wn, got, gn);
    else if (!ok)
        check_state.failures_in_test++;
    return ok;
}

/* Formats fmt with our printf and glibc's and compares the results.
 * same_unchecked() takes formats built at run time and glibc-defined
 * extensions (such as '0' with %s) that -Wformat rightly flags in ordinary
 * code; same() is the same call with the format checked at compile time. */
static int same_unchecked(int line, const char *fmt, ...)
{
    va_list a, b;
    va_start(a, fmt);
    va_start(b, fmt);
    int ok = compare_v(line, fmt, a, b);
    va_end(b);
    va_end(a);
    return ok;
}

__attribute__((format(printf, 1, 2))) static inline void format_checked(const char *fmt, ...)
{
    (void)fmt;
}

#define same(line, ...) (format_checked(__VA_ARGS__), same_unchecked(line, __VA_ARGS__))

#define T(...) same(__LINE__, __VA_ARGS__)
#define U(...) same_unchecked(__LINE__, __VA_ARGS__)

static double from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* xorshift64*: deterministic, seedable, good enough for test inputs. */
static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static unsigned rng_below(unsigned n)
{
    return (unsigned)(rng() % n);
}

/* ---- tables ----------------------------------------------------------------- */

CHECK_TEST(fmt_table_integers)
{
    reported = 0;
    T("plain text, no conversions");
    T("%d %i %u", 0, -1, 0u);
    T("%d|%d|%d", 2147483647, -2147483647 - 1, 12345);
    T("%u|%x|%X|%o", 4294967295u, 0xdeadbeefu, 0xdeadbeefu, 0755u);
    T("%5d|%-5d|%05d|%+d|% d|%+5d|%-+5d|% 05d", 42, 42, 42, 42, 42, 42, 42, 42);
    T("%5d|%-5d|%05d|%+d|% d|%+05d", -42, -42, -42, -42, -42, -42);
    T("%.0d|%.0u|%.0x|%.0o|%5.0d|%-5.0d|", 0, 0u, 0u, 0u, 0, 0);
    U("%.3d|%.3d|%8.3d|%-8.3d|%08.3d|%+.3d", 7, -7, 7, -7, 7, 7);
    T("%#x|%#X|%#o|%#x|%#o|%#.0o|%#.3o|%#5o", 255u, 255u, 8u, 0u, 0u, 0u, 8u, 8u);
    T("%#08x|%#-8x|%#.5x|%#10.5X", 255u, 255u, 255u, 255u);
    U("%hhd|%hhd|%hhu|%hhx|%hhd", 127, 128, 300, 511, -129);
    U("%hd|%hd|%hu|%hx", 32767, 32768, 70000, 0x12345);
    T("%ld|%lu|%lx|%lo", -9223372036854775807L - 1, 18446744073709551615UL, 0xfffffffffUL, 8UL);
    T("%lld|%llu|%llX|%20lld|%-20llu|", -1LL, 1234567890123456789ULL, 0xabcdefULL, 5LL, 5ULL);
    T("%zu|%zd|%zx|%zd", (size_t)-1, (ptrdiff_t)-5, (size_t)4096, (ptrdiff_t)9);
    T("%jd|%ju|%jx", (intmax_t)-77, (uintmax_t)77, (uintmax_t)0x77);
    T("%td|%tu|%tx", (ptrdiff_t)-3, (ptrdiff_t)3, (ptrdiff_t)0x33);
    T("%*d|%-*d|%*d|%.*d|%.*d|%*.*d", 6, 1, 6, 2, -6, 3, 4, 5, -4, 6, 7, 3, 8);
    U("%0*d|%-0*d", 6, -1, 6, -1);
    U("%%|%5%|%-5%|100%%");
    T("%d%%%d", 1, 2);
    T("%1d|%2d|%40d|%-40d|", 123, 123, 123, 123);
    T("%.40d|%.40x", -1, 0xffffffffu);
    U("%+.0d|% .0d|%+u|% x", 0, 0, 5u, 5u);
}

CHECK_TEST(fmt_table_strings_chars_pointers)
{
    reported = 0;
    char unterminated[3] = {'a', 'b', 'c'};
    const char *null = NULL;
    T("%s|%10s|%-10s|%.2s|%10.2s|%-10.2s|%.0s|%s", "hello", "hello", "hello", "hello", "hello",
      "hello", "hello", "");
    T("%.3s|", unterminated); /* must not read past the precision */
    T("%*s|%-*s|%.*s|%*.*s", 8, "ab", 8, "ab", 1, "ab", -8, 1, "ab");
    T("%c|%3c|%-3c|%c%c", 'x', 'y', 'z', '%', 'A');
    U("%p|%20p|%-20p|%.20p|%p", (void *)0x1234, (void *)0x1234, (void *)0x1234, (void *)0x1234,
      (void *)UINTPTR_MAX);
    U("%p|%10p|%-10p|%.2p|", NULL, NULL, NULL, NULL);
    /* glibc's documented behaviour outside the C standard. */
    U("%s|%.6s|%.5s|%10s|%-10.3s|", null, null, null, null, null);
    U("%05s|%-05s|%05c|%#s", "ab", "ab", 'q', "ab");
    U("%+p|% p|%020p|%#p|%020p|%+p", (void *)0x1234, (void *)0x1234, (void *)0x1234,
      (void *)0x1234, NULL, NULL);
    U("%#d|%#u|%+x|% o", 5, 5u, 5u, 5u);
    U("%y|%5y|100%!");
}

CHECK_TEST(fmt_table_doubles)
{
    reported = 0;
    T("%f|%f|%f|%f|%f", 0.0, -0.0, 1.0, -1.0, 3.14159265358979);
    T("%.0f|%.0f|%.0f|%.0f|%.0f|%.0f|%.0f|%.0f", 0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 1e17);
    T("%.2f|%.2f|%.2f|%.2f|%.1f|%.1f", 0.125, 0.375, 0.625, -0.125, 0.25, 0.35);
    T("%.3f|%.1f|%.1f|%.2f", 1.0005, 0.05, 0.15, 1.005);
    T("%.1f|%.0f|%.3f", -0.01, -0.4, -0.0004);
    T("%.17f|%.17f|%.17f", 0.1, 1.0 / 3.0, 2.0 / 3.0);
    T("%.0f|%.6f|%.17f", 999999999999999999.0, 123456789012345678.0, 0.99999999999999989);
    T("%.6f|%.3f|%.0f", 9.9999999, 9.9995, 9.5);
    T("%10.3f|%-10.3f|%010.3f|%+.3f|% .3f|%+010.2f|%-+10.1f|", 3.14159, 3.14159, -3.14159,
      3.14159, 3.14159, 2.5, 2.5);
    T("%#.0f|%#.0f|%#5.0f|%#f", 2.0, 0.5, -3.0, 1.0);
    T("%*.*f|%.*f|%-*f", 12, 3, 1.5, -1, 1.5, -12, 1.5);
    T("%f|%f|%f|%f", 1e18, -1e18, 1.8e19, 1e22);
    T("%f|%.30f|%.60f", 4.9e-324, 1e-10, 2.2250738585072014e-308);
    T("%f|%.3f", 1.7976931348623157e308, -1.7976931348623157e308);
    T("%.1074f", 4.9e-324);
    T("%.400f", 0.1);
    T("%lf|%5.1lf", 2.25, 2.25);
}

CHECK_TEST(fmt_special_values)
{
    reported = 0;
    double inf = from_bits(0x7ff0000000000000ull), nan = from_bits(0x7ff8000000000000ull);
    double ninf = from_bits(0xfff0000000000000ull), nnan = from_bits(0xfff8000000000000ull);
    double snan = from_bits(0x7ff0000000000001ull), nzero = from_bits(0x8000000000000000ull);
    T("%f|%f|%f|%f|%f", inf, ninf, nan, nnan, snan);
    T("%8f|%-8f|%08f|%+f|% f|%+f|% f|%.0f|%#f", inf, ninf, nan, inf, inf, nan, nnan, inf, nan);
    T("%f|%.0f|%+.1f|%08.2f|%.0f", nzero, nzero, nzero, nzero, -0.4);
    char buf[16];
    fmt_snprintf(buf, sizeof(buf), "%f", nnan);
    CHECK_STR_EQ(buf, "-nan"); /* glibc's spelling, asserted independently too */
    fmt_snprintf(buf, sizeof(buf), "%.1f", -0.01);
    CHECK_STR_EQ(buf, "-0.0");
}

/* Every tie k/2^n (n <= 12) at the precision that puts it exactly on a half. */
CHECK_TEST(fmt_float_ties)
{
    reported = 0;
    for (int n = 1; n <= 12; n++) {
        double scale = (double)(1u << n);
        for (unsigned k = 1; k < 2u * (1u << n) + 40; k += 2) {
            double x = k / scale;
            for (int prec = n - 1; prec <= n; prec++) {
                U("%.*f", prec, x);
                U("%.*f", prec, -x);
                U("%.*f", prec, x + 1e6);
            }
        }
    }
    /* Halves of large integers: x.5 for x near the top of the exact range. */
    for (uint64_t base = 1; base < (1ull << 52); base = base * 3 + 1)
        U("%.0f|%.1f", (double)base + 0.5, (double)base + 0.5);
}

/* ---- randomised sweeps ---------------------------------------------------------- */

static void append_flags(char **p)
{
    static const char flags[] = "-+ #0";
    for (int i = 0; i < 5; i++)
        if (rng_below(4) == 0)
            *(*p)++ = flags[i];
}

/* Builds "%<flags>[width|*][.prec|.*]<len><conv>" and records the '*' uses. */
static void random_spec(char *out, const char *len, char conv, int *star_w, int *star_p)
{
    char *p = out;
    *p++ = '%';
    append_flags(&p);
    *star_w = *star_p = 0;
    switch (rng_below(4)) {
    case 0: break;
    case 1: *star_w = 1; *p++ = '*'; break;
    default: p += sprintf(p, "%u", rng_below(30)); break;
    }
    switch (rng_below(4)) {
    case 0: break;
    case 1: *star_p = 1; p += sprintf(p, ".*"); break;
    default: p += sprintf(p, ".%u", rng_below(25)); break;
    }
    p += sprintf(p, "%s%c", len, conv);
}

static uint64_t random_value(void)
{
    static const uint64_t edges[] = {0, 1, 2, 7, 8, 9, 10, 15, 16, 99, 100, 127, 128, 255, 256,
                                     32767, 32768, 65535, 65536, 0x7fffffff, 0x80000000,
                                     0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
                                     0x8000000000000000ull, 0xffffffffffffffffull};
    uint64_t v = rng_below(3) == 0 ? edges[rng_below(sizeof(edges) / sizeof(edges[0]))]
                                   : rng() >> rng_below(64);
    return rng_below(4) == 0 ? (uint64_t)0 - v : v;
}

/* Calls U() with the '*' arguments the spec asked for, then the value. */
#define CALL_STARS(fmt, sw, sp, wv, pv, val)                                         \
    ((sw) && (sp) ? U(fmt, wv, pv, val)                                              \
     : (sw)       ? U(fmt, wv, val)                                                  \
     : (sp)       ? U(fmt, pv, val)                                                  \
                  : U(fmt, val))

CHECK_TEST(fmt_random_integers)
{
    reported = 0;
    static const char *const lens[] = {"", "hh", "h", "l", "ll", "z", "j", "t"};
    static const char convs[] = "diuxXo";
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200000; i++) {
        char fmt[64];
        int sw, sp;
        unsigned li = rng_below(8);
        char conv = convs[rng_below(6)];
        random_spec(fmt, lens[li], conv, &sw, &sp);
        int wv = (int)rng_below(61) - 30, pv = (int)rng_below(51) - 20;
        uint64_t v = random_value();
        bool is_signed = conv == 'd' || conv == 'i';
        int ok;
        switch (li) {
        case 3: ok = is_signed ? CALL_STARS(fmt, sw, sp, wv, pv, (long)v)
                               : CALL_STARS(fmt, sw, sp, wv, pv, (unsigned long)v); break;
        case 4: ok = is_signed ? CALL_STARS(fmt, sw, sp, wv, pv, (long long)v)
                               : CALL_STARS(fmt, sw, sp, wv, pv, (unsigned long long)v); break;
        case 5: ok = is_signed ? CALL_STARS(fmt, sw, sp, wv, pv, (ptrdiff_t)v)
                               : CALL_STARS(fmt, sw, sp, wv, pv, (size_t)v); break;
        case 6: ok = is_signed ? CALL_STARS(fmt, sw, sp, wv, pv, (intmax_t)v)
                               : CALL_STARS(fmt, sw, sp, wv, pv, (uintmax_t)v); break;
        case 7: ok = CALL_STARS(fmt, sw, sp, wv, pv, (ptrdiff_t)v); break;
        default: ok = is_signed ? CALL_STARS(fmt, sw, sp, wv, pv, (int)v)
                                : CALL_STARS(fmt, sw, sp, wv, pv, (unsigned)v); break;
        }
        if (!ok && reported == 1)
            printf("  (integer sweep iteration %d)\n", i);
    }
}

CHECK_TEST(fmt_random_strings_pointers)
{
    reported = 0;
    static const char *const strs[] = {"", "a", "hello", "with space", "0123456789abcdefghij"};
    rng_state = 0x1234567ull;
    for (int i = 0; i < 20000; i++) {
        char fmt[64];
        int sw, sp;
        int wv = (int)rng_below(61) - 30, pv = (int)rng_below(31) - 10;
        random_spec(fmt, "", "spc"[i % 3], &sw, &sp);
        if (i % 3 == 0)
            CALL_STARS(fmt, sw, sp, wv, pv, strs[rng_below(5)]);
        else if (i % 3 == 1)
            CALL_STARS(fmt, sw, sp, wv, pv, (void *)(uintptr_t)random_value());
        else
            CALL_STARS(fmt, sw, sp, wv, pv, (int)(' ' + rng_below(95)));
    }
}

/* A random finite double with |x| < 1e18 whose magnitude is spread evenly
 * over the binary exponents (uniform bits would be almost all tiny or huge). */
static double random_benchmark_double(void)
{
    switch (rng_below(4)) {
    case 0: /* a short decimal fraction: the values that sit near rounding edges */
        return (double)(int64_t)(rng() % 2000000001 - 1000000000) / (double)(1u << rng_below(20));
    case 1: /* a decimal with few digits, e.g. 12.345 */
        return (double)(rng() % 100000000) / 1000.0 * (rng_below(2) ? 1 : -1);
    default: {
        uint64_t exp = 1023 - 64 + rng_below(64 + 60); /* 2^-64 .. 2^59 < 1e18 */
        return from_bits((rng() & 0x800fffffffffffffull) | exp << 52);
    }
    }
}

CHECK_TEST(fmt_random_doubles)
{
    reported = 0;
    rng_state = 0xdeadbeefcafef00dull;
    for (int i = 0; i < 300000; i++) {
        double x = random_benchmark_double();
        int prec = (int)rng_below(18);
        if (!U("%.*f", prec, x) && reported == 1) {
            uint64_t bits;
            memcpy(&bits, &x, sizeof(bits));
            printf("  (double sweep iteration %d, bits %016llx)\n", i, (unsigned long long)bits);
        }
    }
    /* The whole finite range, including subnormals, with flags and width. */
    for (int i = 0; i < 30000; i++) {
        uint64_t bits = rng();
        if (((bits >> 52) & 0x7ff) == 0x7ff)
            bits &= ~(1ull << 62); /* keep it finite */
        char fmt[64];
        int sw, sp;
        random_spec(fmt, "", 'f', &sw, &sp);
        int wv = (int)rng_below(81) - 40, pv = (int)rng_below(40);
        CALL_STARS(fmt, sw, sp, wv, pv, from_bits(bits));
    }
}

/* ---- snprintf contract ------------------------------------------------------------ */

CHECK_TEST(fmt_truncation)
{
    char buf[32];
    CHECK(fmt_snprintf(NULL, 0, "%d-%s", 12345, "abc") == 9);
    memset(buf, 'Z', sizeof(buf));
    CHECK(fmt_snprintf(buf, 0, "hello") == 5);
    CHECK(buf[0] == 'Z'); /* size 0 writes nothing at all */
    CHECK(fmt_snprintf(buf, 1, "hello") == 5);
    CHECK(buf[0] == '\0' && buf[1] == 'Z');
    memset(buf, 'Z', sizeof(buf));
    CHECK(fmt_snprintf(buf, 4, "%s", "hello") == 5);
    CHECK_STR_EQ(buf, "hel");
    CHECK(buf[4] == 'Z');
    CHECK(fmt_snprintf(buf, 6, "hello") == 5); /* exact fit */
    CHECK_STR_EQ(buf, "hello");
    CHECK(fmt_snprintf(buf, 5, "hello") == 5); /* one short */
    CHECK_STR_EQ(buf, "hell");
    memset(buf, 'Z', sizeof(buf));
    CHECK(fmt_snprintf(buf, 8, "%20d|", 7) == 21); /* truncation inside padding */
    CHECK_STR_EQ(buf, "       ");
    CHECK(fmt_snprintf(buf, 8, "%.10f", 3.25) == 12); /* inside %f digits */
    CHECK_STR_EQ(buf, "3.25000");
    CHECK(buf[8] == 'Z');
    /* Each size from 0 to past the end agrees with libc, bytes and return. */
    const char *fmt = "%-6s|%+08.3f|%#x|%p";
    char want[64];
    int wn = snprintf(want, sizeof(want), fmt, "ab", -2.5, 255u, (void *)0x10);
    for (size_t size = 0; size <= (size_t)wn + 2; size++) {
        char got[64], ref[64];
        memset(got, 'Z', sizeof(got));
        memset(ref, 'Z', sizeof(ref));
        int gn = fmt_snprintf(got, size, fmt, "ab", -2.5, 255u, (void *)0x10);
        snprintf(ref, size, fmt, "ab", -2.5, 255u, (void *)0x10);
        CHECKF(gn == wn && memcmp(got, ref, sizeof(got)) == 0, "size %zu: \"%.*s\"", size,
               (int)size, got);
    }
}

struct chunks {
    char text[256];
    size_t len;
    int calls;
};

static void chunk_sink(void *ctx, const char *s, size_t n)
{
    struct chunks *c = ctx;
    CHECK(n > 0); /* empty chunks would only cost console lock round trips */
    if (c->len + n < sizeof(c->text))
        memcpy(c->text + c->len, s, n);
    c->len += n;
    c->calls++;
}

static int vformat(struct chunks *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vformat(chunk_sink, c, fmt, ap);
    va_end(ap);
    c->text[c->len < sizeof(c->text) ? c->len : sizeof(c->text) - 1] = '\0';
    return n;
}

CHECK_TEST(fmt_vformat_sink)
{
    struct chunks c = {0};
    int n = vformat(&c, "a=%d b=%-4s| c=%5.2f%%", 1, "xy", 2.345);
    CHECK_STR_EQ(c.text, "a=1 b=xy  | c= 2.35%");
    CHECK_EQ_U(n, c.len);
    CHECK(c.calls > 1);
    /* A width larger than any internal buffer streams in several chunks. */
    struct chunks w = {0};
    n = vformat(&w, "%200d", 5);
    CHECK_EQ_U(n, 200);
    CHECK_EQ_U(w.len, 200);
    CHECK(w.text[198] == ' ' && w.text[199] == '5');
    /* A format that ends inside a specification is echoed, not dropped. */
    char buf[32];
    CHECK(fmt_snprintf(buf, sizeof(buf), "%s", "") == 0);
    /* (Formats held in variables: the compiler would reject them as literals.) */
    const char *tail = "abc%", *tail2 = "x%-5", *unknown = "%q%d";
    CHECK(fmt_snprintf(buf, sizeof(buf), tail, 0) == 4);
    CHECK_STR_EQ(buf, "abc%");
    CHECK(fmt_snprintf(buf, sizeof(buf), tail2, 0) == 4);
    CHECK_STR_EQ(buf, "x%-5");
    CHECK(fmt_snprintf(buf, sizeof(buf), unknown, 3) == 3); /* echoed, no argument consumed */
    CHECK_STR_EQ(buf, "%q3");
}

/* fmt_vsnprintf's count, bypassing the compiler's format checks. */
static int length_unchecked(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    return n;
}

CHECK_TEST(fmt_huge_width)
{
    /* Counting continues past the buffer; the value is the full length. */
    char buf[8];
    CHECK(fmt_snprintf(buf, sizeof(buf), "%1000000d", 1) == 1000000);
    CHECK_STR_EQ(buf, "       ");
    CHECK(fmt_snprintf(buf, sizeof(buf), "%.100000f", 0.5) == 100002);
    CHECK_STR_EQ(buf, "0.50000");
    /* A width beyond INT_MAX saturates and the length is unreportable: -1. */
    CHECK(length_unchecked("%99999999999999999999d", 1) == __INT_MAX__);
    CHECK(length_unchecked("x%99999999999999999999d", 1) == -1);
}

CHECK_MAIN()
