/*
 * exit.c - arch_exit() through QEMU's isa-debug-exit device.
 */
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/console.h"

#define DEBUG_EXIT_PORT 0xf4

_Noreturn void arch_exit(enum exit_code code)
{
    outl(DEBUG_EXIT_PORT, code);
    /* Still running: no isa-debug-exit device (not QEMU, or started without it). */
    kprintf("exit: code 0x%x but no isa-debug-exit device at port 0x%x; halting\n", code,
            DEBUG_EXIT_PORT);
    console_flush();
    cpu_halt_forever();
}
