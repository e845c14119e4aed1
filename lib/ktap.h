/*
 * ktap.h - self-check results in KTAP version 1, the format of the Linux
 * kernel's KUnit and kselftest that KernelCI and LAVA parse.
 *
 * A block is a version line, a plan ("1..N"), then one result line per
 * test in order:
 *     KTAP version 1
 *     1..2
 *     ok 1 mm_init
 *     not ok 2 mm_check # free frames: 12 listed, 13 counted
 * A test with subtests prints their block first, indented two spaces per
 * level, then its own result.  Lines that are neither (the boot log) may
 * stand between them: KTAP calls them unknown lines and parsers skip them.
 * Directives after "# ": SKIP <reason>.
 *
 * Every line is formatted whole and written with one plat_write() call, so
 * lines from different CPUs cannot interleave inside a line.
 */
#ifndef LIB_KTAP_H
#define LIB_KTAP_H

#include <stdbool.h>

#define KTAP_LINE_MAX 256 /* longer diagnostics are cut */

/* "KTAP version 1" and "1..<tests>" at nesting depth `depth` (0: top). */
void ktap_begin(unsigned depth, unsigned tests);

/* "ok <number> <name>" or "not ok <number> <name>", then " # <diag>" when
 * diag_fmt is not NULL (printf-style; a SKIP directive starts with "SKIP"). */
void ktap_result(unsigned depth, bool ok, unsigned number, const char *name,
                 const char *diag_fmt, ...) __attribute__((format(printf, 5, 6)));

#endif /* LIB_KTAP_H */
