/*
 * platform_impl.h (host) - platform.h for the user-space test library.
 *
 * Threads stand in for CPUs: each thread registered by plat_run_on_cpus (or
 * host_set_cpu) carries its CPU index in a thread-local.  "Physical memory" is
 * one large lazily backed mapping: physical address pa lives at
 * host_phys_base + pa, so tests can lay out arenas anywhere below
 * HOST_PHYS_SPAN, holes and RAM above 4 GiB included; untouched pages cost
 * nothing.  It is a memfd, so that the frame-metadata window (reserved
 * PROT_NONE at host_metadata_base) can map the very frames mm_init took for
 * the metadata, as page tables do in the kernel: writing a slot writes
 * "physical memory".  A hole between backed pieces is read-only anonymous
 * memory (reads zeros, a write faults), the window past the last piece stays
 * PROT_NONE (any access faults).  Interrupts do not exist here, so the guard
 * is a no-op: a thread is never migrated to another "CPU".
 */
#ifndef HOST_PLATFORM_IMPL_H
#define HOST_PLATFORM_IMPL_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#define HOST_PHYS_SPAN ((uint64_t)64 << 30) /* 64 GiB of address space, lazily backed */
/* The frame-metadata window: one 64-byte slot per frame of HOST_PHYS_SPAN. */
#define PLAT_METADATA_BYTES ((HOST_PHYS_SPAN >> 12) * 64)

extern _Thread_local unsigned host_cpu_index;
extern unsigned host_cpu_count;
extern unsigned char *host_phys_base;
extern uintptr_t host_metadata_base;

static inline unsigned plat_cpu_index(void) { return host_cpu_index; }
static inline unsigned plat_cpu_count(void) { return host_cpu_count; }

/* The allocator's words by CPU index (platform.h): a thread reaches its own
 * through its index, two loads.  Atomic (relaxed: a plain load) only so that
 * ThreadSanitizer sees what the quiescent-point rule orders. */
extern _Atomic uintptr_t host_cpu_local[];
static inline uintptr_t plat_cpu_local_get(void)
{
    return atomic_load_explicit(&host_cpu_local[host_cpu_index], memory_order_relaxed);
}

#if defined(__x86_64__)
#include "arch/x86_64/tsc_read.h"

static inline uint64_t plat_tsc(void) { return x86_rdtsc(); }
static inline uint64_t plat_tsc_start(void) { return x86_rdtsc_fenced(); }
static inline uint64_t plat_tsc_stop(void)
{
    unsigned aux;
    uint64_t t = __builtin_ia32_rdtscp(&aux);
    __builtin_ia32_lfence();
    return t;
}
/* Threads are not CPUs: a spinner may be waiting for a thread the host has
 * descheduled (more threads than cores, a loaded CI machine), so every 128th
 * spin gives the core away. */
static inline void plat_pause(void)
{
    static _Thread_local unsigned spins;
    __builtin_ia32_pause();
    if ((++spins & 127) == 0)
        sched_yield();
}
#else
uint64_t host_monotonic_ns(void);
static inline uint64_t plat_tsc(void) { return host_monotonic_ns(); }
static inline uint64_t plat_tsc_start(void) { return host_monotonic_ns(); }
static inline uint64_t plat_tsc_stop(void) { return host_monotonic_ns(); }
static inline void plat_pause(void) { sched_yield(); }
#endif

static inline plat_irqstate_t plat_irq_save(void) { return 0; }
static inline void plat_irq_restore(plat_irqstate_t s) { (void)s; }

static inline void *plat_phys_to_virt(uint64_t pa) { return host_phys_base + pa; }
static inline uint64_t plat_virt_to_phys(const void *va)
{
    return (uint64_t)((const unsigned char *)va - host_phys_base);
}

static inline uintptr_t plat_metadata_base(void) { return host_metadata_base; }

/* ---- host-only helpers for tests ---------------------------------------- */

/* Returns the whole metadata window to PROT_NONE (quiescent point, before an
 * mm_init): what an earlier layout backed no longer answers for the next. */
void host_metadata_reset(void);

/* Sets the calling thread's CPU index (the main thread is CPU 0 by default). */
void host_set_cpu(unsigned index);
/* Number of "CPUs" plat_run_on_cpus may use; starts the worker threads. */
void host_set_cpu_count(unsigned n);

/*
 * Panics are catchable in tests: while a host_panic_trap is armed, plat_panic
 * copies its message into it and longjmps back instead of aborting.
 *   struct host_panic_trap trap;
 *   host_panic_arm(&trap);
 *   if (setjmp(trap.env) == 0) { code that should panic; host_panic_disarm(); ...did not panic... }
 *   else { ...panicked (trap disarmed), trap.msg holds the text... }
 */
#include <setjmp.h>
struct host_panic_trap {
    jmp_buf env;
    char msg[512]; /* "file:line: message" */
};
void host_panic_arm(struct host_panic_trap *trap);
void host_panic_disarm(void);

#endif /* HOST_PLATFORM_IMPL_H */
