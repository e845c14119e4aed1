/*
 * exit.c - kernel_exit(): the self-check report completed, the console
 * drained, then the architecture's exit.
 */
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "kernel/report.h"

_Noreturn void kernel_exit(enum exit_code code)
{
    report_abort(code); /* the KTAP block complete, whatever step ended the run */
    console_flush();
    arch_exit(code);
}
