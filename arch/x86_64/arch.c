/*
 * arch.c - x86_64's side of kernel/arch.h: each hook names the x86 steps it
 * stands for, in the order they must run.
 */
#include <stdint.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/apic.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/exit.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/numa.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/selftest.h"
#include "arch/x86_64/smp/smp.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/tsc.h"
#include "arch/x86_64/uart.h"
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"

void arch_early_init(void)
{
    percpu_install(&percpu_bsp); /* plat_cpu_index(): the console lock needs it */
    uart_init();
}

void arch_cpu_init(void)
{
    gdt_init_cpu(0); /* selectors, TSS with the double-fault stack */
    idt_init();      /* exceptions now print a report and exit */
    cpu_identify();  /* vendor, brand, hypervisor, 1 GiB pages */
    pic_init();      /* 8259s remapped and masked: nothing pending on CPU 0 */
}

uint64_t arch_boot_map_end(void)
{
    return (uint64_t)EARLY_MAP_GIB << 30;
}

void arch_configure(const struct mb2_info *mi, struct cmdline *cl)
{
    selftest_configure(cl); /* test_paging, test_fault */
    paging_init(mi, cl);    /* direct map of all RAM, paging_map_mmio(), test_paging_limit_gib */
    numa_init(mi);          /* SRAT/SLIT topology, "numa:" lines (exit 35 when invalid) */
    acpi_init(mi);          /* acpi_table(), acpi_fadt() */
    uart_select(cl);        /* console=, SPCR: the console for the rest of the run */
    exit_configure(cl);     /* exit=: how the run ends */
    tsc_init(cl);           /* plat_tsc_khz(), tsc_source(): CPUID, PIT, HPET, PM timer */
    smp_configure(cl);      /* smp_* keys, test_smp_dispatch, test_ap_fail, ... */
}

unsigned arch_reserve_ranges(const struct mb2_info *mi, const struct phys_range *avoid,
                             unsigned n_avoid, struct phys_range *out, unsigned max)
{
    struct phys_range all[MB2_MAX_MODULES + 4];
    unsigned n = 0, n_all = 0;
    for (unsigned i = 0; i < n_avoid && n_all < MB2_MAX_MODULES + 3; i++)
        all[n_all++] = avoid[i];
    struct phys_range tables = paging_reserved_range();
    if (n < max && tables.end > tables.base) {
        out[n++] = tables; /* page tables the direct map took from RAM */
        all[n_all++] = tables;
    }
    if (n < max && smp_reserve_trampoline(mi, all, n_all, &out[n]))
        n++;
    return n;
}

unsigned arch_split_usable(struct phys_range *r, unsigned *node, unsigned n, unsigned max)
{
    return numa_split_ranges(r, node, n, max);
}

unsigned arch_numa_distance(unsigned from, unsigned to)
{
    return numa_distance(from, to);
}

int arch_cpu_node(unsigned cpu)
{
    return numa_cpu_node(cpu);
}

void arch_smp_init(const struct mb2_info *mi)
{
    smp_init(mi);
}

unsigned arch_selftest_run(void)
{
    return selftest_run();
}

void arch_facts(struct arch_facts *out)
{
    out->hypervisor = cpu_hypervisor();
    out->cpu_vendor = cpu_vendor();
    out->cpu_brand = cpu_brand();
    out->tsc_source = tsc_source();
    out->tsc_stop = cpu_tsc_stop_sequence();
    out->apic_mode = apic_mode_name();
    out->numa_nodes = numa_nodes();
    out->numa_topology = numa_summary();
}

void arch_serial_putc(char c)
{
    uart_putc(c);
}

void arch_serial_flush(void)
{
    uart_flush();
}

_Noreturn void arch_halt_forever(void)
{
    cpu_halt_forever();
}

void arch_print_backtrace(void)
{
    /* Start at the caller's frame: this function's own is not of interest. */
    const uint64_t *fp = __builtin_frame_address(0);
    trap_print_backtrace(fp[0]);
}
