/*
 * ktap.c - KTAP version 1 lines (see ktap.h).
 */
#include <stdarg.h>
#include <stddef.h>

#include "lib/fmt.h"
#include "lib/ktap.h"
#include "plat/platform.h"

#define KTAP_INDENT 2 /* spaces per nesting level */

/* Writes the indentation for `depth` into buf; returns the bytes used. */
static size_t indent(char *buf, size_t size, unsigned depth)
{
    size_t n = (size_t)depth * KTAP_INDENT;
    if (n > size - 1)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = ' ';
    return n;
}

/* Appends to buf[used..size) and returns the new length, clamped so the
 * line keeps room for its newline. */
static size_t append(char *buf, size_t size, size_t used, const char *fmt, va_list ap)
{
    int n = fmt_vsnprintf(buf + used, size - used, fmt, ap);
    if (n < 0)
        return used;
    used += (size_t)n;
    return used < size - 1 ? used : size - 2;
}

static size_t appendf(char *buf, size_t size, size_t used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t appendf(char *buf, size_t size, size_t used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    used = append(buf, size, used, fmt, ap);
    va_end(ap);
    return used;
}

static void emit(char *buf, size_t used)
{
    buf[used++] = '\n';
    plat_write(buf, used);
}

void ktap_begin(unsigned depth, unsigned tests)
{
    char line[KTAP_LINE_MAX];
    size_t used = indent(line, sizeof line, depth);
    emit(line, appendf(line, sizeof line, used, "KTAP version 1"));
    used = indent(line, sizeof line, depth);
    emit(line, appendf(line, sizeof line, used, "1..%u", tests));
}

void ktap_result(unsigned depth, bool ok, unsigned number, const char *name,
                 const char *diag_fmt, ...)
{
    char line[KTAP_LINE_MAX];
    size_t used = indent(line, sizeof line, depth);
    used = appendf(line, sizeof line, used, "%s %u %s", ok ? "ok" : "not ok", number, name);
    if (diag_fmt) {
        used = appendf(line, sizeof line, used, " # ");
        va_list ap;
        va_start(ap, diag_fmt);
        used = append(line, sizeof line, used, diag_fmt, ap);
        va_end(ap);
    }
    /* A diagnostic is one line: a newline inside it would start a line of
     * another kind. */
    for (size_t i = 0; i < used; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    emit(line, used);
}
