/*
 * arch.h - what the boot sequence (kernel/) needs of an architecture.
 *
 * kernel/ only sequences: it reads the boot information, the command line,
 * starts the allocator, the CPUs and the benchmarks, and ends the run.
 * Everything that touches a register, a port or a descriptor table is behind
 * these calls; arch/<name>/ implements them (arch/x86_64/arch.c and the
 * files it calls).  kernel/ includes no arch/ header, and a second
 * architecture would implement this file and plat/platform.h.
 *
 * Call order (kmain): arch_early_init, arch_cpu_init, arch_configure,
 * arch_reserve_ranges, arch_split_usable, [mm_init], arch_smp_init,
 * [arch_cpu_node, mm_numa_configure], arch_selftest_run.
 */
#ifndef KERNEL_ARCH_H
#define KERNEL_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/exit.h"
#include "lib/cmdline.h"
#include "lib/mb2.h"
#include "lib/phys_range.h"

/* The boot CPU's per-CPU area (plat_cpu_index()) and the serial port:
 * kprintf works after it. */
void arch_early_init(void);

/* Descriptor tables and exception reports on the boot CPU, then CPU
 * identification (vendor, brand, hypervisor, page sizes). */
void arch_cpu_init(void);

/* The end of the physical range the boot page tables map, so that the boot
 * information can be checked to lie inside it before it is read. */
uint64_t arch_boot_map_end(void);

/* With the boot information and the command line: the direct map of all
 * RAM, TSC calibration, and every architecture key read (errors recorded in
 * cl, reported by cmdline_finish). */
void arch_configure(const struct mb2_info *mi, struct cmdline *cl);

/* Pages the architecture needs kept out of the allocator (page tables it
 * took from RAM, the AP start-up page below 1 MiB), chosen to avoid
 * `avoid`.  Writes at most `max` (ARCH_MAX_RESERVED suffices), returns how
 * many. */
#define ARCH_MAX_RESERVED 2
unsigned arch_reserve_ranges(const struct mb2_info *mi, const struct phys_range *avoid,
                             unsigned n_avoid, struct phys_range *out, unsigned max);

/* Cuts the usable ranges r[0..n) where one NUMA node's memory ends and
 * another's begins, so that no allocator arena spans two nodes, and writes
 * each range's node to node[] (all 0 without a NUMA topology).  Writes at
 * most max; returns the new count. */
#define ARCH_MAX_SPLITS 64
unsigned arch_split_usable(struct phys_range *r, unsigned *node, unsigned n, unsigned max);

/* NUMA distance between two nodes (10 to itself; 20 to others when the
 * firmware gives no distances), and, after arch_smp_init, the node of a CPU
 * by index (-1: the firmware does not place it). */
unsigned arch_numa_distance(unsigned from, unsigned to);
int arch_cpu_node(unsigned cpu);

/* Every CPU the firmware lists brought online; plat_run_on_cpus() works
 * after it.  Stops the run (EXIT_CHECK_FAILED) when the CPU tables are
 * unusable. */
void arch_smp_init(const struct mb2_info *mi);

/* The self-tests and deliberate faults the command line asked for; returns
 * how many self-tests ran (and passed: a failing one panics). */
unsigned arch_selftest_run(void);

/* What the results say about the machine (meta.csv). */
struct arch_facts {
    const char *hypervisor; /* "tcg", "kvm", "none", ... */
    const char *cpu_vendor;
    const char *cpu_brand;
    const char *tsc_source; /* how plat_tsc_khz() was found */
    const char *tsc_stop;   /* the instructions closing a timed region */
    const char *apic_mode;  /* "x2APIC", "xAPIC" */
    unsigned numa_nodes;    /* 0: the firmware describes no NUMA topology */
    const char *numa_topology; /* "node0:cpus=0-3:mem_mib=512:dist=10/20;node1:..." */
};
void arch_facts(struct arch_facts *out);

/* The serial console's byte sink: programmed by arch_early_init; putc
 * blocks (bounded) until the transmitter has room; flush waits until
 * everything has left. */
void arch_serial_putc(char c);
void arch_serial_flush(void);

/* Decides how the run will end with `code` and describes it in one phrase
 * for the boot log ("isa-debug-exit (QEMU exits with 33)", "halt (...)");
 * kernel_exit prints it before the verdict, the run's last line. */
const char *arch_exit_plan(enum exit_code code);

/* Ends the run as arch_exit_plan said (the console already flushed); never
 * returns. */
_Noreturn void arch_exit(enum exit_code code);

/* Stops this CPU for good, interrupts off. */
_Noreturn void arch_halt_forever(void);

/* Prints the call chain from the caller's frame (panic reports). */
void arch_print_backtrace(void);

#endif /* KERNEL_ARCH_H */
