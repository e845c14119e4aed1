/*
 * panic.c - the single fatal-error path (panic(), plat_panic, exceptions).
 */
#include <stdatomic.h>

#include "kernel/console.h"
#include "kernel/exit.h"
#include "lib/fmt.h"
#include "kernel/panic.h"
#include "arch/x86_64/percpu.h"
#include "plat/platform.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/x86.h"

#define NO_CPU (-1)
#define PANIC_MSG_LEN 1024

/* CPU index of the CPU reporting a panic, NO_CPU before any. */
static atomic_int panic_cpu = NO_CPU;

void panic_begin(void)
{
    plat_irq_save(); /* never restored: this CPU is done */
    struct percpu *pc = this_cpu();
    if (pc->panic_depth++ > 0) {
        static const char msg[] = "\nPANIC: fault or panic inside the panic report; exiting\n";
        console_write(msg, sizeof msg - 1);
        kernel_exit(EXIT_PANIC);
    }
    int expected = NO_CPU;
    if (!atomic_compare_exchange_strong_explicit(&panic_cpu, &expected, (int)pc->cpu_index,
                                                 memory_order_acq_rel, memory_order_relaxed)) {
        /* cpu `expected` is reporting and will end the run; do not leave it
         * waiting for a console lock this CPU took before faulting. */
        console_release_if_owner();
        cpu_halt_forever();
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
    trap_print_backtrace((uint64_t)__builtin_frame_address(0));
    panic_end();
}

_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_vat(file, line, fmt, ap);
}
