/*
 * platform_impl.h (kernel) - the static inline half of platform.h on x86_64.
 *
 * CPU index: one GS-relative load from the per-CPU area.  TSC reads are
 * fenced so the timed region cannot leak out of them: lfence;rdtsc;lfence
 * opens a region (earlier instructions complete first, later ones wait for
 * the read), rdtscp;lfence closes it (rdtscp waits for earlier instructions,
 * the lfence keeps later ones from starting before it); without RDTSCP the
 * boot makes that lfence;rdtsc (see plat_tsc_stop).  Physical memory is
 * reached through the direct map.
 */
#ifndef ARCH_PLATFORM_IMPL_H
#define ARCH_PLATFORM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/x86.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/tsc_read.h"

static inline unsigned plat_cpu_index(void)
{
    unsigned index;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(index) : "i"(offsetof(struct percpu, cpu_index)));
    return index;
}

/* The allocator's word (platform.h): percpu.cpu_local, set by
 * plat_cpu_local_set (percpu.c) on the BSP between jobs. */
static inline uintptr_t plat_cpu_local_get(void)
{
    uintptr_t v;
    __asm__ volatile("movq %%gs:%c1, %0" : "=r"(v) : "i"(offsetof(struct percpu, cpu_local)));
    return v;
}

static inline unsigned plat_cpu_count(void)
{
    return atomic_load_explicit(&smp_cpus_online, memory_order_acquire);
}

static inline uint64_t plat_tsc(void)
{
    return x86_rdtsc();
}

static inline uint64_t plat_tsc_start(void)
{
    return x86_rdtsc_fenced();
}

/* Every copy of this sequence is listed in section .tsc_stop_sites; on a
 * processor without RDTSCP (QEMU's qemu64 model, for one) the boot rewrites
 * each into the same-sized lfence;rdtsc;nop before anything runs it
 * (cpu_check_features), so the hot path carries no feature test.  The six
 * bytes are fixed: TSC_STOP_BYTES in cpu.c must match them. */
static inline uint64_t plat_tsc_stop(void)
{
    uint32_t lo, hi, aux;
    __asm__ volatile("1: rdtscp\n\t"
                     "lfence\n\t"
                     ".pushsection .tsc_stop_sites, \"a\"\n\t"
                     ".quad 1b\n\t"
                     ".popsection"
                     : "=a"(lo), "=d"(hi), "=c"(aux)
                     :
                     : "memory");
    (void)aux;
    return (uint64_t)hi << 32 | lo;
}

static inline void plat_pause(void)
{
    __builtin_ia32_pause();
}

/* Only IF changes, and only when it was set (Linux's irqs_disabled_flags
 * rule): restoring with sti rather than popfq, and skipping both when
 * interrupts were already off -- always, so far, in this kernel -- leaves a
 * flags read.  Under TCG, popfq is costly: with pushfq/cli/popfq the
 * caches-off alloc+free pair took 670 ns and a contiguous order-0 allocation
 * 124 ns (p50), with this 522 ns and 59 ns (SMP=1, one boot each). */
static inline plat_irqstate_t plat_irq_save(void)
{
    plat_irqstate_t flags;
    __asm__ volatile("pushfq; popq %0" : "=r"(flags) : : "memory");
    flags &= RFLAGS_IF; /* all the restore reads: the compiler then knows it is 0 or IF */
    if (flags)
        __asm__ volatile("cli" : : : "memory");
    return flags;
}

static inline void plat_irq_restore(plat_irqstate_t flags)
{
    if (flags & RFLAGS_IF)
        __asm__ volatile("sti" : : : "memory");
}

static inline void *plat_phys_to_virt(uint64_t pa)
{
    return (void *)(DIRECT_MAP_BASE + pa);
}

/* Accepts direct-map and kernel-image addresses (statics live at KERNEL_VMA). */
static inline uint64_t plat_virt_to_phys(const void *va)
{
    uint64_t v = (uint64_t)va;
    return v >= KERNEL_VMA ? v - KERNEL_VMA : v - DIRECT_MAP_BASE;
}

/* A constant: the metadata window has a fixed place in the layout. */
static inline uintptr_t plat_metadata_base(void)
{
    return METADATA_WINDOW_BASE;
}
#define PLAT_METADATA_BYTES ((uint64_t)METADATA_WINDOW_BYTES)

#endif /* ARCH_PLATFORM_IMPL_H */
