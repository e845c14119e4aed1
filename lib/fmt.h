/*
 * fmt.h - freestanding printf formatting shared by the console, plat_snprintf
 * and the host tests (which compare it with the C library's snprintf).
 *
 * Conversions: %d %i %u %x %X %o %p %s %c %f %%.
 * Length modifiers: hh h l ll z j t.  Flags: - 0 + space #.  Width and
 * precision, including '*'.  %f prints a double with the given precision
 * (default 6), correctly rounded for the magnitudes a benchmark prints
 * (|x| < 1e18), and "inf"/"nan" like the C library.
 *
 * Output equals glibc's for all of these (the host tests check it byte for
 * byte): %f is exact for every finite double and any precision (ties round
 * to even on the binary value); a NaN with its sign bit set prints "-nan";
 * NULL prints "(nil)" for %p and "(null)" for %s.  An unsupported
 * conversion (e.g. %e, %Lf) is echoed verbatim and consumes no argument.
 */
#ifndef LIB_FMT_H
#define LIB_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Sink for streaming output: called with consecutive chunks of the result. */
typedef void (*fmt_sink)(void *ctx, const char *s, size_t n);

/* Formats into sink, which gets consecutive non-empty chunks; returns the
 * number of characters produced (-1 if that exceeds INT_MAX). */
int fmt_vformat(fmt_sink sink, void *ctx, const char *fmt, va_list ap);

/* C99 snprintf semantics: always NUL-terminates when size > 0, returns the
 * length the full result would have had. */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* LIB_FMT_H */
