/*
 * exit.c - how a run ends: QEMU's isa-debug-exit, an ACPI reset, or a halt.
 *
 * exit=auto (default): isa-debug-exit when the device answers at port 0xf4,
 *           else a halt (on hardware a reset would boot the ISO again and
 *           repeat the run for ever; the operator or the BMC power-cycles);
 * exit=debug-exit: the device, and a halt should it not be there;
 * exit=reset: the FADT's reset register (a lab that boots the next job);
 *           without a usable one, the keyboard controller's reset line,
 *           then a triple fault;
 * exit=halt: this CPU stops with interrupts off.
 * The kernel prints the verdict as the run's last line before any of them
 * (kernel/exit.c), so a serial log captured anywhere says how the run
 * ended.  The device is probed by reading its port: QEMU's isa-debug-exit
 * reads as 0, an unclaimed ISA port as all ones.
 */
#include <stdbool.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/exit.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "lib/cmdline.h"
#include "lib/fmt.h"

#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_READ_VALUE 0x00 /* what QEMU's device returns on a read */
#define KBC_COMMAND 0x64
#define KBC_PULSE_RESET 0xfe       /* pulse the CPU reset line */
#define RESET_SETTLE_SPINS 100000000u /* pauses before trying the next reset method */

enum exit_mode { EXIT_AUTO, EXIT_DEBUG_EXIT, EXIT_RESET, EXIT_HALT };
static const char *const mode_names[] = {
    [EXIT_AUTO] = "auto", [EXIT_DEBUG_EXIT] = "debug-exit", [EXIT_RESET] = "reset",
    [EXIT_HALT] = "halt",
};

/* What arch_exit will do, decided by arch_exit_plan. */
enum exit_action { ACT_DEBUG_EXIT, ACT_ACPI_RESET, ACT_LEGACY_RESET, ACT_HALT };

static unsigned mode = EXIT_AUTO;
static enum exit_action action;
static char plan[128];

void exit_configure(struct cmdline *cl)
{
    cmdline_enum(cl, "exit", mode_names, sizeof mode_names / sizeof mode_names[0], EXIT_AUTO,
                 &mode);
}

static bool debug_exit_present(void)
{
    return inb(DEBUG_EXIT_PORT) == DEBUG_EXIT_READ_VALUE;
}

const char *arch_exit_plan(enum exit_code code)
{
    const struct acpi_fadt *f = acpi_fadt();
    if (mode == EXIT_RESET) {
        if (f && f->has_reset) {
            action = ACT_ACPI_RESET;
            fmt_snprintf(plan, sizeof plan, "reset through the FADT reset register (%s 0x%llx "
                         "<- 0x%02x)", f->reset_reg.space == ACPI_SPACE_IO ? "I/O" : "memory",
                         (unsigned long long)f->reset_reg.address, f->reset_value);
        } else {
            action = ACT_LEGACY_RESET;
            fmt_snprintf(plan, sizeof plan, "reset through the keyboard controller (no usable "
                         "FADT reset register)");
        }
    } else if (mode != EXIT_HALT && debug_exit_present()) {
        action = ACT_DEBUG_EXIT;
        fmt_snprintf(plan, sizeof plan, "isa-debug-exit (QEMU exits with %u)",
                     (unsigned)code << 1 | 1);
    } else {
        action = ACT_HALT;
        fmt_snprintf(plan, sizeof plan, "halt (%s)",
                     mode == EXIT_HALT ? "exit=halt" : "no isa-debug-exit device");
    }
    return plan;
}

static void settle(void)
{
    for (unsigned i = 0; i < RESET_SETTLE_SPINS; i++)
        __builtin_ia32_pause();
}

static void acpi_reset(void)
{
    const struct acpi_fadt *f = acpi_fadt();
    if (f->reset_reg.space == ACPI_SPACE_IO) {
        outb((uint16_t)f->reset_reg.address, f->reset_value);
    } else {
        volatile uint8_t *reg = paging_map_mmio(f->reset_reg.address, 1);
        *reg = f->reset_value;
    }
}

static _Noreturn void triple_fault(void)
{
    static const struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) no_idt = {0, 0};
    __asm__ volatile("lidt %0; int3" : : "m"(no_idt));
    cpu_halt_forever();
}

_Noreturn void arch_exit(enum exit_code code)
{
    switch (action) {
    case ACT_DEBUG_EXIT:
        outl(DEBUG_EXIT_PORT, code);
        break; /* still here: the device vanished; halt */
    case ACT_ACPI_RESET:
        acpi_reset();
        settle();
        __attribute__((fallthrough)); /* the register did not reset the machine */
    case ACT_LEGACY_RESET:
        outb(KBC_COMMAND, KBC_PULSE_RESET);
        settle();
        triple_fault();
    case ACT_HALT:
        break;
    }
    cpu_halt_forever();
}
