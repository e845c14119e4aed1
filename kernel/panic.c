/*
 * panic.c - the single fatal-error path (panic(), plat_panic, exceptions).
 */
#include <stdatomic.h>

#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "kernel/panic.h"
#include "lib/fmt.h"
#include "plat/platform.h"

#define NO_CPU (-1)
#define PANIC_MSG_LEN 1024

/* CPU index of the CPU reporting a panic, NO_CPU before any. */
static atomic_int panic_cpu = NO_CPU;

/* Nested panics per CPU: each CPU touches only its own entry, with
 * interrupts off. */
static unsigned panic_depth[PLAT_MAX_CPUS];

void panic_begin(void)
{
    plat_irq_save(); /* never restored: this CPU is done */
    unsigned me = plat_cpu_index();
    if (panic_depth[me]++ > 0) {
        static const char msg[] = "\nPANIC: fault or panic inside the panic report; exiting\n";
        console_write(msg, sizeof msg - 1);
        kernel_exit(EXIT_PANIC);
    }
    int expected = NO_CPU;
    if (!atomic_compare_exchange_strong_explicit(&panic_cpu, &expected, (int)me,
                                                 memory_order_acq_rel, memory_order_relaxed)) {
        /* cpu `expected` is reporting and will end the run; do not leave it
         * waiting for a console lock this CPU took before faulting. */
        console_release_if_owner();
        arch_halt_forever();
    }
}

_Noreturn void panic_end(void)
{
    kernel_exit(EXIT_PANIC);
}

_Noreturn void panic_vat(const char *file, int line, const char *fmt, va_list ap)
{
    char msg[PANIC_MSG_LEN];
    panic_begin();
    /* One kprintf so the line cannot interleave with other CPUs' output. */
    fmt_vsnprintf(msg, sizeof msg, fmt, ap);
    kprintf("PANIC on cpu %u at %s:%d: %s\n", plat_cpu_index(), file, line, msg);
    arch_print_backtrace();
    panic_end();
}

_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_vat(file, line, fmt, ap);
}
