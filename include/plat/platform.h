/*
 * platform.h - the one door from portable code (mm/, bench/) to the machine.
 *
 * mm/ and bench/ are C11 and include only freestanding headers plus this
 * file.  Two implementations exist, selected by the include path:
 *   arch/x86_64/platform_impl.h  the kernel (GS-based CPU index, rdtsc, cli/sti)
 *   tests/host/platform_impl.h   the host library (threads stand in for CPUs)
 * Each must provide the static inline functions listed below; the out-of-line
 * ones are declared here and defined once per implementation.
 *
 * Hot-path functions (cpu index, TSC, pause, interrupt guard, phys<->virt) are
 * static inline so that the per-CPU cache hit path costs no calls.
 */
#ifndef PLATFORM_H
#define PLATFORM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE ((uint64_t)1 << PAGE_SHIFT)
#define CACHE_LINE_SIZE 64
/* Upper bound on CPUs any build supports; per-CPU arrays are sized by it. */
#define PLAT_MAX_CPUS 1024

#define __cacheline_aligned __attribute__((aligned(CACHE_LINE_SIZE)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Interrupt state returned by plat_irq_save(), given back to plat_irq_restore(). */
typedef uint64_t plat_irqstate_t;

/*
 * Provided as static inline by platform_impl.h:
 *   unsigned plat_cpu_index(void);        dense index of the running CPU, 0..count-1
 *   unsigned plat_cpu_count(void);        CPUs online (host: threads registered)
 *   uint64_t plat_tsc_start(void);        fenced TSC read opening a timed region
 *   uint64_t plat_tsc_stop(void);         fenced TSC read closing a timed region
 *   uint64_t plat_tsc(void);              plain TSC read (sampling, timeouts)
 *   void     plat_pause(void);            spin-wait hint
 *   plat_irqstate_t plat_irq_save(void);  disable interrupts / preemption
 *   void     plat_irq_restore(plat_irqstate_t);
 *   void    *plat_phys_to_virt(uint64_t pa);
 *   uint64_t plat_virt_to_phys(const void *va);
 *   uintptr_t plat_metadata_base(void);   start of the frame-metadata window
 *   uintptr_t plat_cpu_local_get(void);   the running CPU's allocator word (below)
 * and the constant PLAT_METADATA_BYTES, the size of that window.
 */
/* The implementation is chosen by the build, which names its header:
 * -DPLAT_IMPL_H='"arch/x86_64/platform_impl.h"' (kernel) or
 * '"tests/host/platform_impl.h"' (host library). */
#ifndef PLAT_IMPL_H
#error "PLAT_IMPL_H must name the platform implementation header"
#endif
#include PLAT_IMPL_H

/* ---- the frame-metadata window -------------------------------------------
 *
 * mm/ keeps its per-frame metadata in one virtually contiguous array that
 * starts at plat_metadata_base() and is indexed by PFN (mm/init.c describes
 * the layout).  The window is reserved address space, unbacked: mm_init backs
 * only the pieces that describe RAM, each with frames it takes from RAM
 * itself, through the first call below, and maps the holes between them to
 * zeros through the second:
 *
 * Maps [va, va + bytes) of the window (page aligned, inside it) to the
 * physical frames [pa, pa + bytes), readable and writable, replacing any
 * earlier mapping there.  The page tables it needs (kernel) come from
 * table_page(ctx), which returns the physical address of one fresh frame, or
 * 0 when it has none left.  false with a message in err on a bad range or
 * when table_page runs dry.  Single-threaded: mm_init only, before any other
 * CPU touches the window. */
typedef uint64_t (*plat_table_page_fn)(void *ctx);
bool plat_metadata_map(uintptr_t va, uint64_t pa, uint64_t bytes, plat_table_page_fn table_page,
                       void *ctx, char *err, size_t errlen);

/* Maps [va, va + bytes) of the window (page aligned, inside it) read-only to
 * memory that reads as zeros and never changes: the window's holes, so that
 * a hit path may read any slot of the window's extent without asking whether
 * its page is backed (a hole's slot reads as refcount 0, which every
 * operation refuses before it writes; a write faults).  It takes no frame
 * per page: every page maps one shared zero page, and (kernel) a page table
 * or directory whose whole reach is a hole is one shared table, so a hole of
 * any size costs no frame; table_page serves the ordinary tables around its
 * ends, and a later plat_metadata_map there gets private tables.  Same
 * arguments, errors and rules as plat_metadata_map. */
bool plat_metadata_map_zero(uintptr_t va, uint64_t bytes, plat_table_page_fn table_page,
                            void *ctx, char *err, size_t errlen);

/* ---- the allocator's per-CPU word -----------------------------------------
 *
 * One machine word per CPU index that mm/ sets and its hit paths read with
 * plat_cpu_local_get(): kernel, one GS-relative load from the per-CPU area;
 * host, the running thread's index (a thread-local) then the word in an
 * array by index, since one thread cannot reach another's thread-locals.
 * Every word reads 0 until it is set, for every index, whether or not that
 * CPU is online yet (a CPU that comes online later reads what was set for
 * its index).  plat_cpu_local_set(cpu, v), cpu < PLAT_MAX_CPUS: at
 * quiescent points only (no CPU inside an allocator call); the next job
 * plat_run_on_cpus starts, and any thread created after it, sees v. */
void plat_cpu_local_set(unsigned cpu, uintptr_t v);

/* TSC frequency in kHz (calibrated once at boot; host: measured at start). */
uint64_t plat_tsc_khz(void);

/* Human-readable log line (printf subset: d i u x X p s c f %, l/ll/z, width, 0, -, precision). */
void plat_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Raw bytes to the console (serial on the kernel, stdout on the host). */
void plat_write(const char *buf, size_t len);

/* snprintf with the same format subset as plat_log; returns the untruncated
 * length.  The implementation provides the va_list form. */
int plat_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

__attribute__((format(printf, 3, 4))) static inline int plat_snprintf(char *buf, size_t size,
                                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = plat_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Fatal error: prints file:line and the message, then stops (kernel: panic exit code). */
_Noreturn void plat_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Interrupts pending on the calling CPU that it has not taken (kernel: local
 * APIC IRR bits, and on CPU 0 the unmasked 8259 requests; host: 0).  Nothing
 * should be pending: under an emulator a pending request slows the CPU that
 * carries it, so timed runs check this first. */
unsigned plat_irq_pending(void);

/* ---- work dispatch (kernel: arch/x86_64/smp; host: a pthread pool) ------- */

typedef void (*plat_job_fn)(void *arg);
/* Runs fn(arg) on CPUs 0..n-1 (the caller is CPU 0 and takes part), released
 * together by a sense-reversing barrier; returns when every one has returned.
 * 1 <= n <= plat_cpu_count().  Called from CPU 0 only; not reentrant. */
void plat_run_on_cpus(unsigned n, plat_job_fn fn, void *arg);

/* Bring-up figures for the results (kernel only; the host returns NULL). */
struct plat_smp_info {
    unsigned cpus_in_madt;        /* enabled or online-capable entries */
    unsigned cpus_online;
    uint64_t bringup_total_ns;    /* first INIT to last AP online */
    uint64_t ap_start_ns[PLAT_MAX_CPUS]; /* by CPU index; 0 for the BSP */
    uint32_t apic_id[PLAT_MAX_CPUS];     /* by CPU index */
    uint64_t barrier_skew_cycles; /* worst start skew of a dispatched job */
    uint64_t tsc_skew_cycles;     /* worst TSC offset seen between CPUs */
};
const struct plat_smp_info *plat_smp_info(void);

#define PANIC(...) plat_panic(__FILE__, __LINE__, __VA_ARGS__)

/* Always-on cheap check; names the expression. */
#define ASSERT(cond)                                                      \
    do {                                                                  \
        if (unlikely(!(cond)))                                            \
            plat_panic(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)

#endif /* PLATFORM_H */
