/*
 * selftest.c - the paging self-test, and deliberate exceptions, a panic and
 * a hang on request, so the boot tests can check the reports and exit codes.
 * Each fault is raised in inline assembly: the C equivalents are undefined
 * behaviour the compiler may turn into something else.
 */
#include <stdbool.h>
#include <stdint.h>

#include "kernel/boot.h"
#include "kernel/console.h"
#include "arch/x86_64/paging.h"
#include "kernel/panic.h"
#include "arch/x86_64/selftest.h"

enum fault_kind {
    FAULT_NONE,
    FAULT_PF,
    FAULT_UD,
    FAULT_DE,
    FAULT_GP,
    FAULT_STACK,
    FAULT_PANIC,
    FAULT_HANG,
};

static const char *const fault_names[] = {"none", "pf",    "ud",   "de", "gp",
                                          "stack", "panic", "hang"};
static unsigned requested = FAULT_NONE;
static bool paging_test;

#define NON_CANONICAL_ADDR 0x8000000000000000ul

/* Read in the recursion so the compiler can neither drop it nor make it a loop. */
static volatile bool keep_recursing = true;

__attribute__((noinline)) static uint64_t recurse(uint64_t depth)
{
    volatile uint8_t frame[256];
    frame[depth % sizeof frame] = (uint8_t)depth;
    if (!keep_recursing)
        return depth;
    return recurse(depth + 1) + frame[depth % sizeof frame];
}

void selftest_configure(struct cmdline *cl)
{
    cmdline_bool(cl, "test_paging", false, &paging_test);
    cmdline_enum(cl, "test_fault", fault_names, sizeof fault_names / sizeof fault_names[0],
                 FAULT_NONE, &requested);
}

unsigned selftest_run(void)
{
    if (paging_test)
        paging_selftest(boot_mb2());
    if (requested == FAULT_NONE)
        return paging_test ? 1 : 0;
    kprintf("test_fault: raising '%s'\n", fault_names[requested]);
    uint64_t out;
    switch (requested) {
    case FAULT_PF:
        __asm__ volatile("movq (%1), %0" : "=r"(out) : "r"(SELFTEST_PF_ADDR) : "memory");
        break;
    case FAULT_UD:
        __asm__ volatile("ud2");
        break;
    case FAULT_DE:
        __asm__ volatile("xorl %%edx, %%edx\n\t"
                         "divq %1"
                         : "=a"(out)
                         : "r"(0ul), "a"(1ul)
                         : "rdx");
        break;
    case FAULT_GP:
        __asm__ volatile("movq (%1), %0" : "=r"(out) : "r"(NON_CANONICAL_ADDR) : "memory");
        break;
    case FAULT_STACK:
        out = recurse(0);
        break;
    case FAULT_PANIC:
        panic("test_fault=panic: deliberate panic");
    case FAULT_HANG:
        for (;;)
            __asm__ volatile("cli; pause");
    }
    panic("test_fault=%s: the fault did not happen", fault_names[requested]);
}
