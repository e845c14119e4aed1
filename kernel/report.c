/*
 * report.c - the boot sequence's KTAP block (see report.h).
 */
#include <stdatomic.h>
#include <stddef.h>

#include "kernel/panic.h"
#include "kernel/report.h"
#include "lib/ktap.h"

static const char *const step_name[REPORT_STEPS] = {
    [REPORT_CMDLINE] = "cmdline",     [REPORT_MM_INIT] = "mm_init",
    [REPORT_SMP] = "smp_bringup",     [REPORT_SELFTESTS] = "selftests",
    [REPORT_BENCH] = "bench",         [REPORT_MM_CHECK] = "mm_check",
};

/* The next step to report; REPORT_STEPS once all are.  Only the boot CPU
 * reports steps; report_abort may run on the CPU that panicked. */
static atomic_uint next_step;
static atomic_bool aborted;
static bool begun;

void report_begin(void)
{
    ktap_begin(0, REPORT_STEPS);
    begun = true;
}

/* Claims `step` as the next one; a step reported out of order is a bug in
 * the boot sequence, not in what it checks. */
static unsigned claim(enum report_step step)
{
    unsigned expected = (unsigned)step;
    if (!atomic_compare_exchange_strong_explicit(&next_step, &expected, expected + 1,
                                                 memory_order_relaxed, memory_order_relaxed))
        panic("%s: step %s reported while step %u is next", __func__, step_name[step],
              expected + 1);
    return (unsigned)step + 1; /* KTAP numbers from 1 */
}

void report_pass(enum report_step step)
{
    unsigned n = claim(step);
    ktap_result(0, true, n, step_name[step], NULL);
}

void report_skip(enum report_step step, const char *why)
{
    unsigned n = claim(step);
    ktap_result(0, true, n, step_name[step], "SKIP %s", why);
}

void report_fail(enum report_step step, const char *why)
{
    unsigned n = claim(step);
    ktap_result(0, false, n, step_name[step], "%s", why);
}

void report_abort(enum exit_code code)
{
    if (!begun || atomic_exchange_explicit(&aborted, true, memory_order_relaxed))
        return;
    unsigned step = atomic_exchange_explicit(&next_step, REPORT_STEPS, memory_order_relaxed);
    if (step >= REPORT_STEPS)
        return; /* every step reported: the run ended where it should */
    ktap_result(0, false, step + 1, step_name[step], "the run ended here (exit %s)",
                exit_verdict_name(code));
    for (unsigned s = step + 1; s < REPORT_STEPS; s++)
        ktap_result(0, true, s + 1, step_name[s], "SKIP not run");
}
