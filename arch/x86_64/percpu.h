/*
 * percpu.h - the per-CPU area, reached through the GS base.
 *
 * Each CPU's GS base points at its own struct percpu, so a GS-relative load
 * reads this CPU's copy of a field with no lookup (plat_cpu_index).  The first
 * field points at the structure itself, which turns "my percpu" into one
 * load.  The BSP's instance is static and installed at the start of kmain();
 * the SMP code provides the APs' and installs each on its own CPU.  Fields are
 * written only by their own CPU, except before that CPU starts.
 *
 * Grow the structure by adding fields before `reserved`; keep it whole
 * cache lines (asserted in percpu.c).
 */
#ifndef ARCH_PERCPU_H
#define ARCH_PERCPU_H

#include <stdatomic.h>
#include <stdint.h>

struct percpu {
    struct percpu *self;   /* must stay first: this_cpu() loads %gs:0 */
    unsigned cpu_index;    /* dense 0..count-1; the BSP is 0 */
    uint32_t apic_id;
    uintptr_t cpu_local;   /* the allocator's word: plat_cpu_local_get/set */
    uint8_t reserved[40];
} __attribute__((aligned(64)));

extern struct percpu percpu_bsp;

/* CPUs online; 1 until the SMP code brings up the APs (release store there,
 * acquire load in plat_cpu_count). */
extern atomic_uint smp_cpus_online;

/* Points this CPU's GS base at pc (which must stay alive forever). */
void percpu_install(struct percpu *pc);

/* Gives pc its final dense index (the BSP has 0 from the start): from now
 * on plat_cpu_local_set(index, v) reaches pc, and pc holds what was set for
 * that index before.  The BSP's side of bring-up, before pc's CPU runs a
 * job. */
void percpu_set_index(struct percpu *pc, unsigned index);

static inline struct percpu *this_cpu(void)
{
    struct percpu *pc;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(pc));
    return pc;
}

#endif /* ARCH_PERCPU_H */
