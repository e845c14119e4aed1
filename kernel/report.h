/*
 * report.h - the run's self-checks as one KTAP version 1 block on the
 * serial log (lib/ktap.h), one test per step of the boot sequence:
 *
 *     KTAP version 1
 *     1..6
 *     ok 1 cmdline                 every key known, every value valid
 *     ok 2 mm_init                 the allocator built from the memory map
 *     ok 3 smp_bringup             the firmware's CPUs online
 *     ok 4 selftests               the requested self-tests (SKIP: none)
 *       KTAP version 1             one subtest per benchmark (bench/)
 *       ...
 *     ok 5 bench                   every benchmark's invariant checks
 *     ok 6 mm_check                the allocator's invariants at the end
 *
 * A step that ends the run (kernel_exit from anywhere: a bad key, an
 * unusable MADT, a panic) is reported "not ok" with the exit it took, and
 * the steps after it "ok ... # SKIP not run", so the block is complete
 * whenever the kernel got to say anything; a block cut short means the
 * machine died (triple fault, power) and the host says so.  The host reads
 * the verdict from this block (scripts/ktap.py) and checks it against the
 * exit status.
 */
#ifndef KERNEL_REPORT_H
#define KERNEL_REPORT_H

#include <stdbool.h>

#include "kernel/exit.h"

enum report_step {
    REPORT_CMDLINE,
    REPORT_MM_INIT,
    REPORT_SMP,
    REPORT_SELFTESTS,
    REPORT_BENCH,
    REPORT_MM_CHECK,
    REPORT_STEPS,
};

/* The version and plan lines; before any step. */
void report_begin(void);

/* The step's result: steps are reported in order, each once. */
void report_pass(enum report_step step);
void report_skip(enum report_step step, const char *why);
void report_fail(enum report_step step, const char *why);

/* The run ends with `code` (kernel_exit): reports the step in progress as
 * not ok with the exit it took and the rest as not run.  Once; later calls
 * (a panic while reporting) return at once. */
void report_abort(enum exit_code code);

#endif /* KERNEL_REPORT_H */
