/*
 * cmdline.c - the kernel command line (see cmdline.h for the contract).
 *
 * The text is copied once into struct cmdline and split in place: each word
 * becomes a NUL-terminated key and value inside cl->text, so getters hand out
 * pointers that live as long as the struct and nothing is allocated.
 *
 * Error policy: every problem appends one line to cl->error and counts in
 * cl->errors, and parsing carries on, so one boot reports all the mistakes
 * in a command line at once instead of one per attempt.  A getter that
 * rejects a value still returns its default so that callers can keep going
 * until cmdline_finish(); the boot code then refuses to run anything.  When
 * the error text is full, a final "further errors omitted" line says so
 * (the count stays exact): a message is never silently lost.
 *
 * Freestanding: no library calls; formatting goes through fmt.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cmdline.h"
#include "lib/fmt.h"
#include "lib/str.h"

/* Values longer than this are shortened (with "...") inside error lines so
 * that one absurd word cannot crowd every other message out of cl->error. */
#define VALUE_SHOWN 64
#define OMITTED "cmdline: further errors omitted\n"

/* The value a bare word `key` stands for. */
static const char bare_value[] = "1";

/* Whitespace of any kind separates words: boot loaders and scripts differ
 * in what they insert between them. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool ends_with_omitted(const char *text, size_t len)
{
    size_t n = sizeof(OMITTED) - 1;
    if (len < n)
        return false;
    return str_eq(text + len - n, OMITTED);
}

__attribute__((format(printf, 2, 3))) static void cl_error(struct cmdline *cl, const char *fmt, ...)
{
    cl->errors++;
    size_t used = str_len(cl->error);
    if (ends_with_omitted(cl->error, used))
        return;
    /* The tail of the buffer is kept free for the OMITTED line. */
    size_t room = CMDLINE_ERR_LEN - (sizeof(OMITTED) - 1) - used;
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(cl->error + used, room, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n + 2 <= room) {
        cl->error[used + (size_t)n] = '\n';
        cl->error[used + (size_t)n + 1] = '\0';
        return;
    }
    const char *omitted = OMITTED;
    for (size_t i = 0; i < sizeof(OMITTED); i++)
        cl->error[used + i] = omitted[i];
}

/* Arguments for "%s=%.*s%s": the key=value pair as shown in error lines. */
#define SHOWN(p) (p)->key, (int)shown_len((p)->value), (p)->value, shown_tail((p)->value)

static size_t shown_len(const char *value)
{
    size_t n = str_len(value);
    return n > VALUE_SHOWN ? VALUE_SHOWN : n;
}

static const char *shown_tail(const char *value)
{
    return str_len(value) > VALUE_SHOWN ? "..." : "";
}

/* ---- splitting ------------------------------------------------------------ */

static struct cmdline_param *find(struct cmdline *cl, const char *key)
{
    for (unsigned i = 0; i < cl->count; i++)
        if (str_eq(cl->param[i].key, key))
            return &cl->param[i];
    return NULL;
}

/* Records one word (already NUL-terminated in cl->text); false once the
 * parameter table is full, which stops the scan. */
static bool add_word(struct cmdline *cl, char *word)
{
    char *eq = word;
    while (*eq != '\0' && *eq != '=')
        eq++;
    const char *value = bare_value;
    if (*eq == '=') {
        *eq = '\0'; /* splits key and value in place */
        value = eq + 1;
    }

    if (*word == '\0') {
        cl_error(cl, "cmdline: '=%.*s%s': empty key before '='", (int)shown_len(value), value,
                 shown_tail(value));
        return true;
    }
    const struct cmdline_param *first = find(cl, word);
    if (first != NULL) {
        cl_error(cl, "cmdline: parameter '%s' given twice (%s=%.*s%s, then %s=%.*s%s)", word,
                 SHOWN(first), word, (int)shown_len(value), value, shown_tail(value));
        return true;
    }
    if (cl->count == CMDLINE_MAX_PARAMS) {
        cl_error(cl, "cmdline: more than %d parameters; '%s' and the words after it were not read",
                 CMDLINE_MAX_PARAMS, word);
        return false;
    }
    cl->param[cl->count++] = (struct cmdline_param){.key = word, .value = value, .known = false};
    return true;
}

bool cmdline_parse(struct cmdline *cl, const char *text)
{
    cl->count = 0;
    cl->errors = 0;
    cl->error[0] = '\0';
    cl->text[0] = '\0';
    if (text == NULL)
        text = "";

    size_t len = 0;
    while (len < CMDLINE_MAX_LEN && text[len] != '\0')
        len++;
    if (len == CMDLINE_MAX_LEN) {
        /* Reading a truncated line could turn "runs=1000" into "runs=10". */
        cl_error(cl, "cmdline: the command line is longer than the %d-byte limit; nothing was read",
                 CMDLINE_MAX_LEN - 1);
        return false;
    }
    for (size_t i = 0; i <= len; i++)
        cl->text[i] = text[i];

    char *p = cl->text;
    for (;;) {
        while (is_space(*p))
            p++;
        if (*p == '\0')
            break;
        char *word = p;
        while (*p != '\0' && !is_space(*p))
            p++;
        bool last = *p == '\0';
        *p = '\0';
        if (!add_word(cl, word) || last)
            break;
        p++;
    }
    return cl->errors == 0;
}

/* ---- values ----------------------------------------------------------------- */

/* Decimal or 0x/0X hex, at least one digit; false on overflow.  *end gets
 * the first character after the digits. */
static bool parse_u64(const char *s, uint64_t *out, const char **end)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    uint64_t v = 0;
    const char *start = s;
    for (;; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    *end = s;
    return s != start;
}

static struct cmdline_param *lookup(struct cmdline *cl, const char *key)
{
    struct cmdline_param *p = find(cl, key);
    if (p != NULL)
        p->known = true;
    return p;
}

/* A size as the user would write it: "64M" rather than "67108864". */
static void size_str(char *buf, size_t size, uint64_t v)
{
    static const char suffix[] = "KMG";
    int unit = -1;
    for (int i = 2; i >= 0 && unit < 0; i--)
        if (v != 0 && v % ((uint64_t)1 << (10 * (i + 1))) == 0)
            unit = i;
    if (unit < 0)
        fmt_snprintf(buf, size, "%llu", (unsigned long long)v);
    else
        fmt_snprintf(buf, size, "%llu%c", (unsigned long long)(v >> (10 * (unit + 1))),
                     suffix[unit]);
}

/* cmdline_u64 and cmdline_size: a size also takes one K/M/G suffix and is
 * shown with one in its error line. */
static bool get_number(struct cmdline *cl, const char *key, uint64_t def, uint64_t min,
                       uint64_t max, bool is_size, uint64_t *out)
{
    *out = def;
    struct cmdline_param *p = lookup(cl, key);
    if (p == NULL)
        return true;
    uint64_t v;
    const char *end;
    bool ok = parse_u64(p->value, &v, &end);
    if (ok && *end != '\0') {
        unsigned shift = !is_size ? 0 : *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
        ok = shift != 0 && end[1] == '\0' && v <= UINT64_MAX >> shift;
        v <<= shift;
    }
    if (ok && v >= min && v <= max) {
        *out = v;
        return true;
    }
    if (is_size) {
        char lo[24], hi[24];
        size_str(lo, sizeof(lo), min);
        size_str(hi, sizeof(hi), max);
        cl_error(cl,
                 "cmdline: %s=%.*s%s: expected a size in %s..%s (bytes, decimal or 0x hex, "
                 "optional K/M/G suffix)",
                 SHOWN(p), lo, hi);
    } else {
        cl_error(cl, "cmdline: %s=%.*s%s: expected an integer in %llu..%llu", SHOWN(p),
                 (unsigned long long)min, (unsigned long long)max);
    }
    return false;
}

bool cmdline_u64(struct cmdline *cl, const char *key, uint64_t def, uint64_t min, uint64_t max,
                 uint64_t *out)
{
    return get_number(cl, key, def, min, max, false, out);
}

bool cmdline_size(struct cmdline *cl, const char *key, uint64_t def, uint64_t min, uint64_t max,
                  uint64_t *out)
{
    return get_number(cl, key, def, min, max, true, out);
}

bool cmdline_bool(struct cmdline *cl, const char *key, bool def, bool *out)
{
    static const char *const yes[] = {"1", "yes", "on", "true"};
    static const char *const no[] = {"0", "no", "off", "false"};
    *out = def;
    struct cmdline_param *p = lookup(cl, key);
    if (p == NULL)
        return true;
    for (unsigned i = 0; i < 4; i++) {
        if (str_eq(p->value, yes[i])) {
            *out = true;
            return true;
        }
        if (str_eq(p->value, no[i])) {
            *out = false;
            return true;
        }
    }
    cl_error(cl, "cmdline: %s=%.*s%s: expected 0/1, yes/no, on/off or true/false", SHOWN(p));
    return false;
}

/* "a, b, c" into buf (shortened with "..." if it does not fit). */
static void join_names(char *buf, size_t size, const char *const *names, unsigned n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        int k = fmt_snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
        if (k < 0 || (size_t)k >= size - used) {
            if (size >= 4)
                fmt_snprintf(buf + size - 4, 4, "...");
            return;
        }
        used += (size_t)k;
    }
}

bool cmdline_enum(struct cmdline *cl, const char *key, const char *const *names, unsigned n,
                  unsigned def, unsigned *out)
{
    *out = def;
    struct cmdline_param *p = lookup(cl, key);
    if (p == NULL)
        return true;
    for (unsigned i = 0; i < n; i++) {
        if (str_eq(p->value, names[i])) {
            *out = i;
            return true;
        }
    }
    char list[256];
    join_names(list, sizeof(list), names, n);
    cl_error(cl, "cmdline: %s=%.*s%s: expected one of %s", SHOWN(p), list);
    return false;
}

/* Index of the n-byte name at s in names[], or -1. */
static int name_index(const char *s, size_t len, const char *const *names, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const char *name = names[i];
        size_t k = 0;
        while (k < len && name[k] != '\0' && name[k] == s[k])
            k++;
        if (k == len && name[k] == '\0')
            return (int)i;
    }
    return -1;
}

bool cmdline_list(struct cmdline *cl, const char *key, const char *const *names, unsigned n,
                  uint64_t def_mask, uint64_t *mask)
{
    *mask = def_mask;
    struct cmdline_param *p = lookup(cl, key);
    if (p == NULL)
        return true;
    if (n > 64) {
        cl_error(cl, "cmdline: %s: internal error: %u names offered, a list holds at most 64", key,
                 n);
        return false;
    }
    uint64_t all = n == 64 ? UINT64_MAX : ((uint64_t)1 << n) - 1;
    uint64_t m = 0;
    const char *s = p->value;
    for (;;) {
        size_t len = 0;
        while (s[len] != '\0' && s[len] != ',')
            len++;
        int i = name_index(s, len, names, n);
        if (i >= 0) {
            m |= (uint64_t)1 << i;
        } else if (len == 3 && s[0] == 'a' && s[1] == 'l' && s[2] == 'l') {
            m |= all;
        } else {
            char list[256];
            join_names(list, sizeof(list), names, n);
            if (len == 0)
                cl_error(cl, "cmdline: %s=%.*s%s: empty name; expected a comma-separated list of %s "
                         "or all", SHOWN(p), list);
            else
                cl_error(cl, "cmdline: %s=%.*s%s: unknown name '%.*s'; expected a comma-separated "
                         "list of %s or all", SHOWN(p), (int)(len > VALUE_SHOWN ? VALUE_SHOWN : len),
                         s, list);
            return false;
        }
        if (s[len] == '\0')
            break;
        s += len + 1;
    }
    *mask = m;
    return true;
}

const char *cmdline_str(struct cmdline *cl, const char *key)
{
    struct cmdline_param *p = lookup(cl, key);
    return p ? p->value : NULL;
}

void cmdline_reject(struct cmdline *cl, const char *key, const char *expected)
{
    struct cmdline_param *p = lookup(cl, key);
    if (p != NULL)
        cl_error(cl, "cmdline: %s=%.*s%s: expected %s", SHOWN(p), expected);
}

bool cmdline_finish(struct cmdline *cl)
{
    for (unsigned i = 0; i < cl->count; i++)
        if (!cl->param[i].known)
            cl_error(cl, "cmdline: unknown parameter '%s'", cl->param[i].key);
    return cl->errors == 0;
}
