/*
 * platform_host.c - the host implementation of platform.h: threads as CPUs,
 * a lazily backed "physical memory", catchable panics.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE, memfd_create */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "plat/barrier.h"
#include "plat/platform.h"

_Thread_local unsigned host_cpu_index;
unsigned host_cpu_count = 1;
unsigned char *host_phys_base;

uint64_t host_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uintptr_t host_metadata_base;
static int host_phys_fd = -1;

static _Noreturn void host_fatal(const char *what)
{
    perror(what);
    abort();
}

static void *window_reserve(void *at)
{
    return mmap(at, PLAT_METADATA_BYTES, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at ? MAP_FIXED : 0), -1, 0);
}

__attribute__((constructor)) static void host_phys_init(void)
{
    host_phys_fd = memfd_create("host-physical-memory", MFD_CLOEXEC);
    if (host_phys_fd < 0 || ftruncate(host_phys_fd, (off_t)HOST_PHYS_SPAN) != 0)
        host_fatal("host platform: memfd for the physical address span");
    void *p = mmap(NULL, HOST_PHYS_SPAN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                   host_phys_fd, 0);
    if (p == MAP_FAILED)
        host_fatal("host platform: mmap of the physical address span");
    host_phys_base = p;
    void *w = window_reserve(NULL);
    if (w == MAP_FAILED)
        host_fatal("host platform: reserving the metadata window");
    host_metadata_base = (uintptr_t)w;
}

void host_metadata_reset(void)
{
    if (window_reserve((void *)host_metadata_base) == MAP_FAILED)
        host_fatal("host platform: resetting the metadata window");
}

/* [va, va + bytes) -> [pa, pa + bytes) lies in whole pages of the window and
 * of the physical span; else false with the message of `fn`. */
static bool window_range_ok(const char *fn, uintptr_t va, uint64_t pa, uint64_t bytes, char *err,
                            size_t errlen)
{
    uint64_t off = va - host_metadata_base;
    if (((va | pa | bytes) & (PAGE_SIZE - 1)) || va < host_metadata_base ||
        off > PLAT_METADATA_BYTES || bytes > PLAT_METADATA_BYTES - off || pa + bytes < pa ||
        pa + bytes > HOST_PHYS_SPAN) {
        snprintf(err, errlen, "%s: va %#llx + %#llx -> pa %#llx is not whole pages of the "
                 "metadata window and of the %llu GiB physical span", fn,
                 (unsigned long long)va, (unsigned long long)bytes, (unsigned long long)pa,
                 (unsigned long long)(HOST_PHYS_SPAN >> 30));
        return false;
    }
    return true;
}

static bool window_mmap(const char *fn, uintptr_t va, uint64_t bytes, int prot, int flags,
                        int fd, uint64_t pa, char *err, size_t errlen)
{
    if (bytes && mmap((void *)va, bytes, prot, flags | MAP_FIXED, fd, (off_t)pa) == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap of %#llx bytes at %#llx failed", fn,
                 (unsigned long long)bytes, (unsigned long long)va);
        return false;
    }
    return true;
}

/* No page tables here: the kernel's need for table_page has no host twin. */
bool plat_metadata_map(uintptr_t va, uint64_t pa, uint64_t bytes, plat_table_page_fn table_page,
                       void *ctx, char *err, size_t errlen)
{
    (void)table_page;
    (void)ctx;
    return window_range_ok(__func__, va, pa, bytes, err, errlen) &&
           window_mmap(__func__, va, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, host_phys_fd, pa,
                       err, errlen);
}

/* Private anonymous memory never written reads as zeros, all of it the
 * host kernel's one zero page: one mapping per hole, whatever its size. */
bool plat_metadata_map_zero(uintptr_t va, uint64_t bytes, plat_table_page_fn table_page,
                            void *ctx, char *err, size_t errlen)
{
    (void)table_page;
    (void)ctx;
    return window_range_ok(__func__, va, 0, bytes, err, errlen) &&
           window_mmap(__func__, va, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0, err, errlen);
}

_Atomic uintptr_t host_cpu_local[PLAT_MAX_CPUS];

void plat_cpu_local_set(unsigned cpu, uintptr_t v)
{
    if (cpu >= PLAT_MAX_CPUS)
        PANIC("%s: cpu %u >= PLAT_MAX_CPUS", __func__, cpu);
    atomic_store_explicit(&host_cpu_local[cpu], v, memory_order_relaxed);
}

void host_set_cpu(unsigned index)
{
    if (index >= PLAT_MAX_CPUS) {
        fprintf(stderr, "host_set_cpu: index %u >= PLAT_MAX_CPUS\n", index);
        abort();
    }
    host_cpu_index = index;
}

/* Measured on first use, from whichever thread gets there first; threads
 * that race to it each measure and one value wins (an atomic, so the race
 * is benign and TSan-clean: the allocator's reclaim asks from every CPU). */
uint64_t plat_tsc_khz(void)
{
    static _Atomic uint64_t khz;
    uint64_t k = atomic_load_explicit(&khz, memory_order_relaxed);
    if (k)
        return k;
    uint64_t t0 = host_monotonic_ns(), c0 = plat_tsc();
    while (host_monotonic_ns() - t0 < 20000000u)
        ;
    uint64_t t1 = host_monotonic_ns(), c1 = plat_tsc();
    k = (c1 - c0) * 1000000u / (t1 - t0);
    if (k == 0)
        k = 1;
    atomic_store_explicit(&khz, k, memory_order_relaxed);
    return k;
}

void plat_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

void plat_write(const char *buf, size_t len)
{
    fwrite(buf, 1, len, stdout);
}

int plat_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return vsnprintf(buf, size, fmt, ap);
}

/* ---- catchable panics --------------------------------------------------- */

static _Thread_local struct host_panic_trap *panic_trap;

void host_panic_arm(struct host_panic_trap *trap)
{
    trap->msg[0] = '\0';
    panic_trap = trap;
}

void host_panic_disarm(void)
{
    panic_trap = NULL;
}

_Noreturn void plat_panic(const char *file, int line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct host_panic_trap *trap = panic_trap;
    if (trap) {
        panic_trap = NULL;
        snprintf(trap->msg, sizeof trap->msg, "%s:%d: %s", file, line, msg);
        longjmp(trap->env, 1);
    }
    fprintf(stderr, "PANIC on cpu %u at %s:%d: %s\n", host_cpu_index, file, line, msg);
    abort();
}

unsigned plat_irq_pending(void)
{
    return 0; /* threads take no interrupts */
}

const struct plat_smp_info *plat_smp_info(void)
{
    return NULL;
}

/* ---- work dispatch: a persistent pool, CPU 0 is the caller -------------- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    unsigned started;        /* worker threads running: CPUs 1..started */
    uint64_t generation;     /* bumped per job, guarded by lock */
    plat_job_fn fn;
    void *arg;
    unsigned n;
    struct barrier start;
    atomic_uint done;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void *pool_worker(void *p)
{
    unsigned cpu = (unsigned)(uintptr_t)p;
    uint64_t seen = 0;
    host_set_cpu(cpu);
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (pool.generation == seen)
            pthread_cond_wait(&pool.wake, &pool.lock);
        seen = pool.generation;
        plat_job_fn fn = pool.fn;
        void *arg = pool.arg;
        unsigned n = pool.n;
        pthread_mutex_unlock(&pool.lock);
        if (cpu < n) {
            bool sense = false; /* the barrier is initialised afresh for every job */
            barrier_wait(&pool.start, &sense);
            fn(arg);
            atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        }
    }
    return NULL;
}

void host_set_cpu_count(unsigned n)
{
    if (n == 0 || n > PLAT_MAX_CPUS) {
        fprintf(stderr, "host_set_cpu_count: %u outside 1..%u\n", n, PLAT_MAX_CPUS);
        abort();
    }
    pthread_mutex_lock(&pool.lock);
    while (pool.started + 1 < n) {
        pthread_t t;
        unsigned cpu = ++pool.started;
        if (pthread_create(&t, NULL, pool_worker, (void *)(uintptr_t)cpu) != 0) {
            perror("host_set_cpu_count: pthread_create");
            abort();
        }
        pthread_detach(t);
    }
    if (n > host_cpu_count)
        host_cpu_count = n;
    pthread_mutex_unlock(&pool.lock);
}

void plat_run_on_cpus(unsigned n, plat_job_fn fn, void *arg)
{
    bool sense = false;
    if (n == 0 || n > host_cpu_count)
        PANIC("plat_run_on_cpus: %u CPUs requested, %u available", n, host_cpu_count);
    /* Safe to re-initialise: every participant of the previous job has left
     * the barrier (it counted itself done after its job returned). */
    barrier_init(&pool.start, n);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.arg = arg;
    pool.n = n;
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    unsigned saved = host_cpu_index;
    host_set_cpu(0);
    barrier_wait(&pool.start, &sense);
    fn(arg);
    host_set_cpu(saved);
    while (atomic_load_explicit(&pool.done, memory_order_acquire) != n - 1)
        plat_pause();
}
