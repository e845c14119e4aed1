/*
 * check.h - the tiny host test harness shared by every C test program.
 *
 * Output protocol (read by tests/harness/testrun.py, see tests/README.md):
 *   PASS <suite>/<test>
 *   FAIL <suite>/<test>: <why>
 *   SKIP <suite>/<test>: <why>
 * A test is a function; CHECK() records a failure with file:line and the
 * expression and lets the test continue; the program exits non-zero when any
 * test failed.
 */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

struct check_state {
    const char *suite;
    const char *test;
    int failures_in_test;
    int passed, failed, skipped;
};

extern struct check_state check_state;

#define CHECK_SUITE(name) struct check_state check_state = {.suite = (name)}

/* The first failure of a test names it (the FAIL line); later ones add
 * "also" lines.  `end` finishes the line, or starts CHECKF's explanation. */
static inline void check_failed(const char *file, int line, const char *cond, const char *end)
{
    if (check_state.failures_in_test++ == 0)
        printf("FAIL %s/%s: %s:%d: %s%s", check_state.suite, check_state.test, file, line, cond,
               end);
    else
        printf("  also %s:%d: %s%s", file, line, cond, end);
}

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond))                                                         \
            check_failed(__FILE__, __LINE__, #cond, "\n");                   \
    } while (0)

/* CHECK with a printf-style explanation of the values involved. */
#define CHECKF(cond, ...)                                                    \
    do {                                                                     \
        if (!(cond)) {                                                       \
            check_failed(__FILE__, __LINE__, #cond, ": ");                   \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
        }                                                                    \
    } while (0)

#define CHECK_EQ_U(a, b)                                                     \
    CHECKF((unsigned long long)(a) == (unsigned long long)(b),               \
           "%llu != %llu", (unsigned long long)(a), (unsigned long long)(b))

#define CHECK_STR_EQ(a, b)                                                   \
    CHECKF(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))

static inline void check_run(const char *name, void (*fn)(void))
{
    check_state.test = name;
    check_state.failures_in_test = 0;
    fflush(stdout);
    fn();
    if (check_state.failures_in_test == 0) {
        printf("PASS %s/%s\n", check_state.suite, name);
        check_state.passed++;
    } else {
        check_state.failed++;
    }
    fflush(stdout);
}

static inline void check_skip(const char *name, const char *why)
{
    printf("SKIP %s/%s: %s\n", check_state.suite, name, why);
    check_state.skipped++;
}

#define RUN(fn) check_run(#fn, fn)

static inline int check_exit(void)
{
    return check_state.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A test program declares each test with CHECK_TEST(name) { ... } and ends
 * with CHECK_MAIN(), which runs them in the order they stand in the file.
 * Each test registers itself before main (a constructor appends it to the
 * program's list), so no table repeats the names.  The program's first
 * argument, when given, renames the suite (the sanitizer build reports as
 * "<suite>/san"). */
struct check_test {
    const char *name;
    void (*fn)(void);
    struct check_test *next;
};

static struct check_test *check_tests, **check_tests_tail = &check_tests;

static inline void check_register(struct check_test *t)
{
    *check_tests_tail = t;
    check_tests_tail = &t->next;
}

#define CHECK_TEST(fn)                                                       \
    static void fn(void);                                                    \
    static struct check_test check_test_##fn = {#fn, fn, NULL};              \
    __attribute__((constructor)) static void check_register_##fn(void)       \
    {                                                                        \
        check_register(&check_test_##fn);                                    \
    }                                                                        \
    static void fn(void)

static inline int check_main(int argc, char **argv)
{
    if (argc > 1)
        check_state.suite = argv[1];
    for (struct check_test *t = check_tests; t; t = t->next)
        check_run(t->name, t->fn);
    return check_exit();
}

#define CHECK_MAIN()                                                         \
    int main(int argc, char **argv)                                          \
    {                                                                        \
        return check_main(argc, argv);                                       \
    }

#endif /* TESTS_CHECK_H */
