/*
 * exit.c - kernel_exit(): the self-check report completed, the verdict as
 * the last line, the console drained, then the architecture's exit.
 */
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "kernel/report.h"

const char *exit_verdict_name(enum exit_code code)
{
    switch (code) {
    case EXIT_PASS: return "pass";
    case EXIT_CHECK_FAILED: return "check-failed";
    case EXIT_PANIC: return "panic";
    case EXIT_CONFIG_ERROR: return "config-error";
    }
    return "panic"; /* not an exit code: a bug, reported as one */
}

_Noreturn void kernel_exit(enum exit_code code)
{
    report_abort(code); /* the KTAP block complete, whatever step ended the run */
    const char *verdict = exit_verdict_name(code);
    kprintf("exit: code 0x%x (%s), %s\n", code, verdict, arch_exit_plan(code));
    kprintf("@@VERDICT %s\n", verdict);
    console_flush();
    arch_exit(code);
}
