/*
 * exit.c - kernel_exit(): the console drained, then the architecture's exit.
 */
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/exit.h"

_Noreturn void kernel_exit(enum exit_code code)
{
    console_flush();
    arch_exit(code);
}
