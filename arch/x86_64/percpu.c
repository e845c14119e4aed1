/*
 * percpu.c - the BSP's per-CPU area and GS base installation.
 */
#include <stddef.h>

#include "arch/x86_64/percpu.h"
#include "plat/platform.h"
#include "arch/x86_64/x86.h"

_Static_assert(offsetof(struct percpu, self) == 0, "this_cpu() reads the self pointer at %gs:0");
_Static_assert(sizeof(struct percpu) % CACHE_LINE_SIZE == 0, "struct percpu must be whole cache lines");
_Static_assert(_Alignof(struct percpu) == CACHE_LINE_SIZE, "struct percpu must be cache-line aligned");

struct percpu percpu_bsp = {.self = &percpu_bsp, .cpu_index = 0};

atomic_uint smp_cpus_online = 1;

void percpu_install(struct percpu *pc)
{
    pc->self = pc;
    wrmsr(MSR_GS_BASE, (uint64_t)pc);
}

/* The allocator's words by dense index, for CPUs online or not (an AP gets
 * its index, and so its area, only once bring-up numbers it), and the area
 * of each numbered CPU, through which a set reaches the copy its CPU reads
 * with one GS-relative load.  Written on the BSP at quiescent points. */
static uintptr_t cpu_local_word[PLAT_MAX_CPUS];
static struct percpu *percpu_of_index[PLAT_MAX_CPUS] = {&percpu_bsp};

void percpu_set_index(struct percpu *pc, unsigned index)
{
    ASSERT(index < PLAT_MAX_CPUS);
    pc->cpu_index = index;
    pc->cpu_local = cpu_local_word[index];
    percpu_of_index[index] = pc;
}

void plat_cpu_local_set(unsigned cpu, uintptr_t v)
{
    if (cpu >= PLAT_MAX_CPUS)
        PANIC("%s: cpu %u >= PLAT_MAX_CPUS", __func__, cpu);
    cpu_local_word[cpu] = v;
    if (percpu_of_index[cpu])
        percpu_of_index[cpu]->cpu_local = v;
}
