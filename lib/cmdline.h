/*
 * cmdline.h - the kernel command line: `key=value` words separated by spaces.
 *
 * Parsing splits the text once; modules then read their own parameters with
 * the typed getters, each of which marks its key as known.  Once every module
 * has read its parameters, cmdline_finish() reports every key nobody asked
 * for as unknown.  Each problem (syntax, bad value, out of range, unknown key)
 * appends one line naming the key, the value and what was expected to the
 * error text; the boot code prints it and exits with the configuration-error
 * code before any benchmark runs.
 *
 * A bare word `key` means `key=1` (for bools).  Keys and values are case
 * sensitive.  A key given twice is an error.  Portable: used by the kernel
 * and by the host tests.
 *
 * Error text: every line ends with '\n' (the text is "" when there is no
 * problem), so it can be printed as is.  Forms:
 *   cmdline: runs=abc: expected an integer in 1..1000
 *   cmdline: unknown parameter 'foo'
 *   cmdline: parameter 'runs' given twice (runs=1, then runs=2)
 * Values longer than 64 characters are shown shortened with "...".  When
 * the text is full, a last line "cmdline: further errors omitted" says so;
 * `errors` always counts every problem.
 */
#ifndef LIB_CMDLINE_H
#define LIB_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_MAX_LEN 2048
#define CMDLINE_MAX_PARAMS 64
#define CMDLINE_ERR_LEN 1024

struct cmdline_param {
    const char *key;
    const char *value;
    bool known;
};

struct cmdline {
    char text[CMDLINE_MAX_LEN];
    struct cmdline_param param[CMDLINE_MAX_PARAMS];
    unsigned count;
    unsigned errors;
    char error[CMDLINE_ERR_LEN]; /* one line per problem, '\n'-separated */
};

/* Splits text (copied; NULL is ""); false (with the error recorded) on
 * overlong text, too many words, an empty key or a duplicate key.  After
 * such an error the getters still work on what was read (the first copy of
 * a duplicate, the first CMDLINE_MAX_PARAMS words; nothing from an overlong
 * line) and cmdline_finish() returns false. */
bool cmdline_parse(struct cmdline *cl, const char *text);

/* Each getter: key absent -> *out = def and true; present and valid -> the
 * value and true; invalid -> error recorded, *out = def, false. */
bool cmdline_u64(struct cmdline *cl, const char *key, uint64_t def, uint64_t min, uint64_t max,
                 uint64_t *out);
/* Sizes: decimal or 0x hex, optional K/M/G suffix (powers of 1024). */
bool cmdline_size(struct cmdline *cl, const char *key, uint64_t def, uint64_t min, uint64_t max,
                  uint64_t *out);
/* 0/1, yes/no, on/off, true/false. */
bool cmdline_bool(struct cmdline *cl, const char *key, bool def, bool *out);
/* One of names[0..n-1]; *out is the index. */
bool cmdline_enum(struct cmdline *cl, const char *key, const char *const *names, unsigned n,
                  unsigned def, unsigned *out);
/* Comma-separated subset of names[0..n-1] (n <= 64), or "all"; *mask has bit i
 * for names[i].  An empty list or an unknown name is an error.  ("all" may
 * also appear as one element; repeating a name is harmless.) */
bool cmdline_list(struct cmdline *cl, const char *key, const char *const *names, unsigned n,
                  uint64_t def_mask, uint64_t *mask);
/* Raw string value (NULL when absent); marks the key known. */
const char *cmdline_str(struct cmdline *cl, const char *key);
/* For a value read with cmdline_str that its reader found invalid: records
 * "cmdline: key=value: expected <expected>". */
void cmdline_reject(struct cmdline *cl, const char *key, const char *expected);

/* Records an error for every key no getter asked for; true when the command
 * line had no problem at all. */
bool cmdline_finish(struct cmdline *cl);

#endif /* LIB_CMDLINE_H */
