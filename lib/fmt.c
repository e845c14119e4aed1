/*
 * fmt.c - printf formatting without a C library.
 *
 * One engine, fmt_vformat(), turns a format and its arguments into a stream
 * of chunks handed to a sink; the console sinks to the serial port and
 * fmt_vsnprintf() sinks into a bounded buffer.  Streaming keeps the engine
 * free of any output-size limit and of heap use, and lets a caller count
 * the full length of a truncated result (C99 snprintf semantics).
 *
 * The behaviour is glibc's for every format the subset accepts, including
 * cases the C standard leaves undefined but glibc defines ("(nil)" for a NULL
 * %p, "(null)" for a NULL %s, '0' ignored by %s/%c, '+'/' ' honoured by %p,
 * "-nan" for a NaN with its sign bit set), because the host tests compare
 * the two byte for byte and because kernel engineers read both outputs side
 * by side.  An unsupported conversion is echoed verbatim, as glibc does.
 *
 * %f is exact: a double is m * 2^e with an integer m < 2^53, so its integer
 * part and its fraction are finite binary numbers that small fixed-size
 * bignums (32-bit limbs) hold exactly for every finite double.  Fraction
 * digits come from repeated multiplication by 10; rounding at the requested
 * precision compares the exact remainder with one half and breaks ties to
 * even, which is what glibc does in the default rounding mode.  No floating
 * point arithmetic is involved, so the result cannot depend on FPU state and
 * the benchmark figures printed by the kernel equal what a host would print.
 *
 * Freestanding: no library calls, not even memcpy.  Stack use is under
 * 1 KiB (the %f bignums), independent of width and precision.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/fmt.h"

/* %zd reads the signed type of size_t's width; C has no name for it, but
 * ptrdiff_t is that type on every ABI this code targets. */
_Static_assert(sizeof(ptrdiff_t) == sizeof(size_t), "ptrdiff_t and size_t differ in width");
_Static_assert(sizeof(double) == sizeof(uint64_t), "double is not IEEE binary64");

/* ---- output ------------------------------------------------------------ */

struct out {
    fmt_sink sink;
    void *ctx;
    size_t count; /* characters produced so far */
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (n == 0)
        return;
    o->sink(o->ctx, s, n);
    o->count += n;
}

static const char fill_spaces[] = "                                ";
static const char fill_zeros[] = "00000000000000000000000000000000";

/* Emits n copies of ' ' or '0' in chunks, so a huge width costs no stack. */
static void out_fill(struct out *o, char c, size_t n)
{
    const char *src = c == '0' ? fill_zeros : fill_spaces;
    const size_t chunk = sizeof(fill_spaces) - 1;
    while (n > 0) {
        size_t k = n < chunk ? n : chunk;
        out_put(o, src, k);
        n -= k;
    }
}

/* ---- conversion specification -------------------------------------------- */

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

struct spec {
    bool left;  /* '-' */
    bool plus;  /* '+' */
    bool space; /* ' ' */
    bool alt;   /* '#' */
    bool zero;  /* '0' */
    size_t width;
    int prec;   /* -1: not given */
    enum length len;
    char conv;  /* '\0' when the format ended inside the specification */
};

/* Width and precision saturate instead of wrapping, so an absurd number in a
 * format string yields a long (bounded-by-the-sink) output, never a short one. */
static int parse_number(const char **pp)
{
    const char *p = *pp;
    int v = 0;
    while (*p >= '0' && *p <= '9') {
        int d = *p++ - '0';
        v = v > (__INT_MAX__ - d) / 10 ? __INT_MAX__ : v * 10 + d;
    }
    *pp = p;
    return v;
}

/* h/hh and l/ll: the letter at *p once or twice; *p is moved past them. */
static enum length length_letter(const char **p, enum length once, enum length twice)
{
    char c = *(*p)++;
    if (**p != c)
        return once;
    (*p)++;
    return twice;
}

/* Parses the specification after '%'; consumes '*' arguments from ap. */
static const char *parse_spec(const char *p, struct spec *sp, va_list *ap)
{
    *sp = (struct spec){.prec = -1};
    for (;; p++) {
        if (*p == '-')
            sp->left = true;
        else if (*p == '+')
            sp->plus = true;
        else if (*p == ' ')
            sp->space = true;
        else if (*p == '#')
            sp->alt = true;
        else if (*p == '0')
            sp->zero = true;
        else
            break;
    }
    if (*p == '*') {
        int w = va_arg(*ap, int);
        p++;
        /* C: a negative '*' width is the '-' flag plus a positive width. */
        if (w < 0) {
            sp->left = true;
            sp->width = (size_t)0 - (size_t)(long long)w;
        } else {
            sp->width = (size_t)w;
        }
    } else {
        sp->width = (size_t)parse_number(&p);
    }
    if (*p == '.') {
        p++;
        if (*p == '*') {
            int pr = va_arg(*ap, int);
            p++;
            sp->prec = pr < 0 ? -1 : pr; /* negative: as if omitted */
        } else {
            sp->prec = parse_number(&p);
        }
    }
    switch (*p) {
    case 'h': sp->len = length_letter(&p, LEN_H, LEN_HH); break;
    case 'l': sp->len = length_letter(&p, LEN_L, LEN_LL); break;
    case 'z': p++; sp->len = LEN_Z; break;
    case 'j': p++; sp->len = LEN_J; break;
    case 't': p++; sp->len = LEN_T; break;
    default: break;
    }
    sp->conv = *p;
    return *p ? p + 1 : p;
}

/* Pads a field of `len` characters: spaces before it unless left-justified. */
static void pad_before(struct out *o, const struct spec *sp, size_t len)
{
    if (!sp->left && sp->width > len)
        out_fill(o, ' ', sp->width - len);
}

static void pad_after(struct out *o, const struct spec *sp, size_t len)
{
    if (sp->left && sp->width > len)
        out_fill(o, ' ', sp->width - len);
}

/* ---- integers ------------------------------------------------------------ */

static intmax_t arg_signed(va_list *ap, enum length len)
{
    switch (len) {
    case LEN_HH: return (signed char)va_arg(*ap, int);
    case LEN_H: return (short)va_arg(*ap, int);
    case LEN_L: return va_arg(*ap, long);
    case LEN_LL: return va_arg(*ap, long long);
    case LEN_Z: return va_arg(*ap, ptrdiff_t);
    case LEN_J: return va_arg(*ap, intmax_t);
    case LEN_T: return va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, int);
    }
}

static uintmax_t arg_unsigned(va_list *ap, enum length len)
{
    switch (len) {
    case LEN_HH: return (unsigned char)va_arg(*ap, unsigned);
    case LEN_H: return (unsigned short)va_arg(*ap, unsigned);
    case LEN_L: return va_arg(*ap, unsigned long);
    case LEN_LL: return va_arg(*ap, unsigned long long);
    case LEN_Z: return va_arg(*ap, size_t);
    case LEN_J: return va_arg(*ap, uintmax_t);
    case LEN_T: return (size_t)va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, unsigned);
    }
}

/*
 * Lays out [spaces][sign/0x prefix][zeros][digits][spaces].  `sign` is the
 * sign character or 0; signs apply to d, i and (as in glibc) p.
 */
static void fmt_integer(struct out *o, const struct spec *sp, uintmax_t mag, char sign)
{
    char digits[3 * sizeof(uintmax_t)]; /* octal needs 22 for 64 bits */
    const char *set = sp->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    unsigned base = 10;
    if (sp->conv == 'x' || sp->conv == 'X' || sp->conv == 'p')
        base = 16;
    else if (sp->conv == 'o')
        base = 8;

    size_t n = 0;
    for (uintmax_t v = mag; v != 0; v /= base)
        digits[sizeof(digits) - ++n] = set[v % base];
    /* Zero has one digit, except that an explicit precision 0 prints none. */
    if (mag == 0 && sp->prec != 0)
        digits[sizeof(digits) - ++n] = '0';

    size_t zeros = sp->prec > 0 && (size_t)sp->prec > n ? (size_t)sp->prec - n : 0;
    /* '#' with o: the first digit printed must be a 0. */
    if (sp->alt && base == 8 && zeros == 0 && (n == 0 || digits[sizeof(digits) - n] != '0'))
        zeros = 1;

    char prefix[3];
    size_t plen = 0;
    if (sign)
        prefix[plen++] = sign;
    if (base == 16 && sp->alt && mag != 0) {
        prefix[plen++] = '0';
        prefix[plen++] = sp->conv == 'X' ? 'X' : 'x';
    }

    size_t len = plen + zeros + n;
    /* '0' pads with zeros only when no precision and no '-' are given. */
    if (sp->zero && !sp->left && sp->prec < 0 && sp->width > len) {
        zeros += sp->width - len;
        len = sp->width;
    }
    pad_before(o, sp, len);
    out_put(o, prefix, plen);
    out_fill(o, '0', zeros);
    out_put(o, digits + sizeof(digits) - n, n);
    pad_after(o, sp, len);
}

static char sign_char(const struct spec *sp, bool negative)
{
    if (negative)
        return '-';
    if (sp->plus)
        return '+';
    return sp->space ? ' ' : 0;
}

/* ---- strings ------------------------------------------------------------- */

/* Reads at most max bytes: a precision may bound an unterminated array. */
static size_t bounded_strlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    return n;
}

static void fmt_string(struct out *o, const struct spec *sp, const char *s)
{
    size_t max = sp->prec < 0 ? (size_t)-1 : (size_t)sp->prec;
    if (s == NULL) {
        /* glibc prints "(null)" only when the precision leaves room for all of it. */
        s = max >= 6 ? "(null)" : "";
    }
    size_t n = bounded_strlen(s, max);
    pad_before(o, sp, n);
    out_put(o, s, n);
    pad_after(o, sp, n);
}

/* ---- %f: exact decimal conversion of a double ------------------------------ */

/*
 * Enough 32-bit limbs for the largest quantity we hold: the integer part of
 * DBL_MAX (< 2^1024, 32 limbs) or a fraction of up to 1074 bits aligned up
 * to whole limbs (34) plus one limb that receives each decimal digit.
 */
#define BIG_LIMBS 35

struct big {
    uint32_t w[BIG_LIMBS]; /* little-endian limbs */
    unsigned n;            /* limbs in use; w[n..] are not meaningful */
};

static void big_set_shifted(struct big *b, uint64_t v, unsigned shift)
{
    unsigned word = shift / 32, bit = shift % 32;
    for (unsigned i = 0; i < BIG_LIMBS; i++)
        b->w[i] = 0;
    /* v < 2^53 and shift <= 1035 keep every written limb below BIG_LIMBS. */
    uint64_t lo = v << bit;
    uint64_t hi = bit ? v >> (64 - bit) : 0;
    b->w[word] = (uint32_t)lo;
    b->w[word + 1] = (uint32_t)(lo >> 32);
    if (word + 2 < BIG_LIMBS)
        b->w[word + 2] = (uint32_t)hi;
    b->n = word + 3 < BIG_LIMBS ? word + 3 : BIG_LIMBS;
    while (b->n > 0 && b->w[b->n - 1] == 0)
        b->n--;
}

static void big_add1(struct big *b)
{
    for (unsigned i = 0; i < b->n; i++)
        if (++b->w[i] != 0)
            return;
    b->w[b->n++] = 1; /* the integer part never fills every limb */
}

/* Divides b by 10^9 in place and returns the remainder. */
static uint32_t big_divmod_1e9(struct big *b)
{
    uint64_t rem = 0;
    for (unsigned i = b->n; i-- > 0;) {
        uint64_t cur = rem << 32 | b->w[i];
        b->w[i] = (uint32_t)(cur / 1000000000u);
        rem = cur % 1000000000u;
    }
    while (b->n > 0 && b->w[b->n - 1] == 0)
        b->n--;
    return (uint32_t)rem;
}

/*
 * The fraction r in [0, 1) is held as F / 2^(32k): limbs w[0..k-1], with the
 * binary point at a limb boundary so that after F *= 10 the next decimal
 * digit is exactly limb w[k].  `lo` skips low limbs that are zero for good
 * (multiplying by 10 never makes a zero low limb nonzero again).
 */
struct frac {
    struct big f;
    unsigned k;  /* fraction limbs; 0 when the double is an integer */
    unsigned lo; /* w[0..lo-1] are zero; lo == k means the fraction is 0 */
};

/* Binary decomposition of a finite |x| = m * 2^e. */
struct dbl {
    uint64_t m;
    int e;
};

static void frac_init(struct frac *fr, struct dbl d)
{
    if (d.e >= 0) {
        fr->k = fr->lo = 0;
        fr->f.n = 0;
        return;
    }
    unsigned s = (unsigned)-d.e; /* fraction bits: 1..1074 */
    uint64_t f = s >= 64 ? d.m : d.m & (((uint64_t)1 << s) - 1);
    fr->k = (s + 31) / 32;
    big_set_shifted(&fr->f, f, 32 * fr->k - s);
    fr->lo = 0;
    while (fr->lo < fr->k && fr->f.w[fr->lo] == 0)
        fr->lo++;
}

static unsigned frac_next_digit(struct frac *fr)
{
    uint64_t carry = 0;
    for (unsigned i = fr->lo; i < fr->k; i++) {
        uint64_t t = (uint64_t)fr->f.w[i] * 10 + carry;
        fr->f.w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    while (fr->lo < fr->k && fr->f.w[fr->lo] == 0)
        fr->lo++;
    return (unsigned)carry;
}

/* Sign of (remaining fraction - 1/2). */
static int frac_cmp_half(const struct frac *fr)
{
    if (fr->lo == fr->k)
        return -1;
    uint32_t top = fr->f.w[fr->k - 1];
    if (top != 0x80000000u)
        return top > 0x80000000u ? 1 : -1;
    for (unsigned i = fr->lo; i < fr->k - 1; i++)
        if (fr->f.w[i] != 0)
            return 1;
    return 0;
}

static void fmt_special(struct out *o, const struct spec *sp, bool negative, const char *body)
{
    /* inf and nan are padded with spaces even under '0', as in glibc. */
    char sign = sign_char(sp, negative);
    size_t len = 3 + (sign != 0);
    pad_before(o, sp, len);
    if (sign)
        out_put(o, &sign, 1);
    out_put(o, body, 3);
    pad_after(o, sp, len);
}

static void fmt_double(struct out *o, const struct spec *sp, double x)
{
    union {
        double d;
        uint64_t u;
    } bits = {.d = x};
    bool negative = bits.u >> 63;
    unsigned biased = (unsigned)(bits.u >> 52) & 0x7ff;
    uint64_t mant = bits.u & (((uint64_t)1 << 52) - 1);
    if (biased == 0x7ff) {
        fmt_special(o, sp, negative, mant ? "nan" : "inf");
        return;
    }
    struct dbl d = biased ? (struct dbl){mant | (uint64_t)1 << 52, (int)biased - 1075}
                          : (struct dbl){mant, -1074};
    size_t prec = sp->prec < 0 ? 6 : (size_t)sp->prec;

    /* Integer part, exact. */
    struct big ip;
    if (d.e >= 0)
        big_set_shifted(&ip, d.m, (unsigned)d.e);
    else
        big_set_shifted(&ip, -d.e >= 64 ? 0 : d.m >> -d.e, 0);

    /*
     * Pass 1: generate the digits up to the precision without printing them,
     * to learn whether the exact remainder rounds up and, if it does, which
     * digit absorbs the carry (the last one that is not a 9; -1: the integer
     * part).  Pass 2 below regenerates them for output, so no buffer of
     * `prec` digits is needed.
     */
    struct frac fr;
    frac_init(&fr, d);
    size_t exact = 0;          /* digits before the fraction runs out */
    long long last_non9 = -1;  /* index of the last fraction digit != 9 */
    unsigned last_digit = ip.n ? ip.w[0] % 10 : 0;
    while (exact < prec && fr.lo < fr.k) {
        unsigned dg = frac_next_digit(&fr);
        if (dg != 9)
            last_non9 = (long long)exact;
        last_digit = dg;
        exact++;
    }
    int half = frac_cmp_half(&fr);
    bool round_up = half > 0 || (half == 0 && (last_digit & 1));
    if (round_up && last_non9 < 0)
        big_add1(&ip);

    /* Integer digits in base-10^9 chunks, least significant first. */
    uint32_t chunk[36];
    unsigned nchunks = 0;
    do
        chunk[nchunks++] = big_divmod_1e9(&ip);
    while (ip.n > 0);
    size_t top_digits = 1;
    for (uint32_t top = chunk[nchunks - 1]; top >= 10; top /= 10)
        top_digits++;
    size_t int_digits = 9 * (nchunks - 1) + top_digits;

    char sign = sign_char(sp, negative);
    bool point = prec > 0 || sp->alt;
    size_t len = (sign != 0) + int_digits + point + prec;
    size_t zeros = 0;
    if (sp->zero && !sp->left && sp->width > len)
        zeros = sp->width - len;
    pad_before(o, sp, len + zeros);
    if (sign)
        out_put(o, &sign, 1);
    out_fill(o, '0', zeros);

    char buf[40];
    size_t n = 0;
    for (unsigned c = nchunks; c-- > 0;) {
        char tmp[9];
        uint32_t v = chunk[c];
        for (int i = 8; i >= 0; i--, v /= 10)
            tmp[i] = (char)('0' + v % 10);
        size_t skip = c == nchunks - 1 ? 9 - top_digits : 0;
        for (size_t i = skip; i < 9; i++)
            buf[n++] = tmp[i];
        if (n > sizeof(buf) - 9) {
            out_put(o, buf, n);
            n = 0;
        }
    }
    if (point)
        buf[n++] = '.';

    /* Pass 2: the fraction digits, with pass 1's rounding applied. */
    frac_init(&fr, d);
    for (size_t i = 0; i < exact; i++) {
        unsigned dg = frac_next_digit(&fr);
        if (round_up && (long long)i == last_non9)
            dg++;
        else if (round_up && (long long)i > last_non9)
            dg = 0;
        buf[n++] = (char)('0' + dg);
        if (n == sizeof(buf)) {
            out_put(o, buf, n);
            n = 0;
        }
    }
    out_put(o, buf, n);
    out_fill(o, '0', prec - exact);
    pad_after(o, sp, len + zeros);
}

/* ---- the engine ----------------------------------------------------------- */

/* Formats one conversion; false when the conversion is not supported. */
static bool convert(struct out *o, const struct spec *sp, va_list *ap)
{
    switch (sp->conv) {
    case 'd':
    case 'i': {
        intmax_t v = arg_signed(ap, sp->len);
        uintmax_t mag = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
        fmt_integer(o, sp, mag, sign_char(sp, v < 0));
        return true;
    }
    case 'u':
    case 'x':
    case 'X':
    case 'o':
        fmt_integer(o, sp, arg_unsigned(ap, sp->len), 0);
        return true;
    case 'p': {
        const void *ptr = va_arg(*ap, const void *);
        if (ptr == NULL) {
            struct spec s = *sp;
            s.prec = -1; /* glibc always prints all of "(nil)" */
            fmt_string(o, &s, "(nil)");
        } else {
            struct spec s = *sp;
            s.alt = true;
            fmt_integer(o, &s, (uintptr_t)ptr, sign_char(sp, false));
        }
        return true;
    }
    case 'c': {
        char c = (char)va_arg(*ap, int);
        pad_before(o, sp, 1);
        out_put(o, &c, 1);
        pad_after(o, sp, 1);
        return true;
    }
    case 's':
        fmt_string(o, sp, va_arg(*ap, const char *));
        return true;
    case 'f':
        fmt_double(o, sp, va_arg(*ap, double));
        return true;
    case '%':
        out_put(o, "%", 1);
        return true;
    default:
        return false;
    }
}

int fmt_vformat(fmt_sink sink, void *ctx, const char *fmt, va_list ap_in)
{
    struct out o = {.sink = sink, .ctx = ctx};
    va_list ap;
    /* A copy whose address helpers can take (va_list may be an array type). */
    va_copy(ap, ap_in);
    const char *p = fmt;
    while (*p) {
        const char *literal = p;
        while (*p && *p != '%')
            p++;
        out_put(&o, literal, (size_t)(p - literal));
        if (*p == '\0')
            break;
        const char *start = p;
        struct spec sp;
        p = parse_spec(p + 1, &sp, &ap);
        if (!convert(&o, &sp, &ap))
            out_put(&o, start, (size_t)(p - start));
    }
    va_end(ap);
    /* C: a result longer than INT_MAX cannot be reported. */
    return o.count > (size_t)__INT_MAX__ ? -1 : (int)o.count;
}

/* ---- snprintf ---------------------------------------------------------------- */

struct bounded {
    char *buf;
    size_t room; /* bytes still writable, excluding the terminating NUL */
};

static void bounded_sink(void *ctx, const char *s, size_t n)
{
    struct bounded *b = ctx;
    size_t k = n < b->room ? n : b->room;
    if (k == 0)
        return; /* buf may be NULL when size is 0: not even NULL + 0 */
    for (size_t i = 0; i < k; i++)
        b->buf[i] = s[i];
    b->buf += k;
    b->room -= k;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct bounded b = {.buf = buf, .room = size ? size - 1 : 0};
    int n = fmt_vformat(bounded_sink, &b, fmt, ap);
    if (size > 0)
        *b.buf = '\0';
    return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
