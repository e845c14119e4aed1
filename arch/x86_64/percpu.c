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
