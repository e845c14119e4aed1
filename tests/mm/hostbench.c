/*
 * hostbench.c - host benchmark of the frame allocator (`make hostbench`; not
 * a test: it reports, it does not judge beyond printing the targets).
 *
 * Threads stand in for CPUs (plat_run_on_cpus).  A run lasts RUN_NS of wall
 * time: each thread repeats its operation in chunks until the time is up and
 * divides its own CPU time by the operations done (bounded time, so a loaded host cannot
 * stretch a lock-heavy run without bound).  Each figure is the median (and
 * minimum) of RUNS runs; with 2 threads, of the mean over the threads.  The
 * host's load average is printed with the figures: the machine is shared.
 *
 *   pair_hit      frame_alloc(FRAME_UNIQUE) + frame_free, cache hit path
 *                 (the kernel's pcp pairs_unique)
 *   pair_counted  frame_alloc(0) + frame_free: the same with a counted frame,
 *                 released by the atomic 1 -> 0 freeze (the kernel's pcp pairs)
 *   pair_shared   frame_alloc(0) + frame_drop (last drop: one fetch_sub)
 *   pair_global   the same pair with the caches off (buddy + lock each time)
 *   bulk_4096     4096 x frame_alloc, then 4096 x frame_free; ns per frame
 *                 (alloc + free), refills and drains included
 *   order9        frame_alloc_order(9) + frame_free (2 MiB unit, buddy)
 *   contig_5      frame_alloc_contig(5 frames) + frame_free_contig
 *   clone_drop    frame_clone + frame_drop on a frame of this thread's
 *   clone_drop_shared  the same on one frame shared by all threads
 *
 * The floors: the same loops over the bare data structure, with no check,
 * no statistic and no frame set-up, in functions that are not inlined
 * either, so that a figure can be read against what this host takes for
 * the structure alone.  A pair of alloc+free on a LIFO list carries two
 * dependencies from one pair to the next through memory (the head, then
 * the popped frame's next; the count), each a store forwarded to a load;
 * clone+drop carries two locked read-modify-writes of one word:
 *
 *   floor_lifo    pop + push on a per-thread singly linked LIFO with a
 *                 count: the order-0 and order-9 caches' shape (pair_hit,
 *                 pair_counted, order9)
 *   floor_xadd2   a relaxed fetch_add + a release fetch_sub of one word
 *                 (clone_drop; clone_drop_shared at 2 threads)
 *
 * `hostbench --sweep` measures bulk_4096 and pair_hit over cache capacities
 * and batch sizes: the data behind the defaults in mm/pcp.c.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mm/mm.h"
#include "mm/mm_int.h"

#define RUNS 7
#define RUN_NS 100000000ull /* 100 ms */
#define MAX_THREADS 2
#define GiB ((uint64_t)1 << 30)

uint64_t host_monotonic_ns(void);

/* The calling thread's CPU time: a shared, loaded host deschedules the
 * benchmark threads, and that time is not the allocator's.  Time spent
 * spinning on a lock whose holder (or next ticket) was descheduled is still
 * counted, as it should be. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct job {
    const char *name;
    void (*fn)(struct job *j, unsigned cpu);
    uint64_t iters; /* per chunk */
    double goal_ns;  /* the goal for the figure (docs/results.md), 0: none */
    const char *note; /* printed when there is no goal */
    bool one_word;   /* the operation on one word shared by the threads */
    double ns[MAX_THREADS]; /* per thread, this run */
    struct frame *shared;
};

static struct frame *bulk[MAX_THREADS][4096];

static void b_pair_hit(struct job *j, unsigned cpu)
{
    (void)cpu;
    for (uint64_t i = 0; i < j->iters; i++)
        frame_free(frame_alloc(FRAME_UNIQUE));
}

static void b_pair_counted(struct job *j, unsigned cpu)
{
    (void)cpu;
    for (uint64_t i = 0; i < j->iters; i++)
        frame_free(frame_alloc(0));
}

static void b_pair_shared(struct job *j, unsigned cpu)
{
    (void)cpu;
    for (uint64_t i = 0; i < j->iters; i++)
        frame_drop(frame_alloc(0));
}

static void b_bulk(struct job *j, unsigned cpu)
{
    for (uint64_t i = 0; i < j->iters; i++) {
        for (unsigned k = 0; k < 4096; k++)
            bulk[cpu][k] = frame_alloc(FRAME_UNIQUE);
        for (unsigned k = 0; k < 4096; k++)
            frame_free(bulk[cpu][k]);
    }
}

static void b_order9(struct job *j, unsigned cpu)
{
    (void)cpu;
    for (uint64_t i = 0; i < j->iters; i++)
        frame_free(frame_alloc_order(9, FRAME_UNIQUE));
}

static void b_contig5(struct job *j, unsigned cpu)
{
    (void)cpu;
    uint64_t pa;
    for (uint64_t i = 0; i < j->iters; i++) {
        if (frame_alloc_contig(5, 1, 0, &pa) != FRAME_OK)
            abort();
        frame_free_contig(pa, 5);
    }
}

static void b_clone_drop(struct job *j, unsigned cpu)
{
    (void)cpu;
    struct frame *f = frame_alloc(0);
    for (uint64_t i = 0; i < j->iters; i++) {
        frame_clone(f);
        frame_drop(f);
    }
    frame_drop(f);
}

static void b_clone_drop_shared(struct job *j, unsigned cpu)
{
    (void)cpu;
    for (uint64_t i = 0; i < j->iters; i++) {
        frame_clone(j->shared);
        frame_drop(j->shared);
    }
}

/* The floor's list: a head and a count on one line, nodes the size of a
 * frame's metadata, one list per thread. */
struct floor_node {
    struct floor_node *next;
    char pad[56];
};
struct floor_list {
    struct floor_node *head;
    uint32_t count;
} __attribute__((aligned(64)));
static struct floor_list floor_lists[MAX_THREADS];
static struct floor_node floor_nodes[MAX_THREADS][64];

/* noipa: nothing of the callee's body is known at the call, as for the
 * allocator's functions in their own translation unit */
__attribute__((noipa)) static struct floor_node *floor_pop(struct floor_list *l)
{
    struct floor_node *n = l->head;
    l->head = n->next;
    l->count--;
    return n;
}

__attribute__((noipa)) static void floor_push(struct floor_list *l, struct floor_node *n)
{
    n->next = l->head;
    l->head = n;
    l->count++;
}

static void b_floor_lifo(struct job *j, unsigned cpu)
{
    struct floor_list *l = &floor_lists[cpu];
    if (!l->head)
        for (unsigned k = 0; k < 64; k++)
            floor_push(l, &floor_nodes[cpu][k]);
    for (uint64_t i = 0; i < j->iters; i++)
        floor_push(l, floor_pop(l));
}

__attribute__((noipa)) static void floor_get(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

__attribute__((noipa)) static void floor_put(_Atomic uint64_t *c)
{
    atomic_fetch_sub_explicit(c, 1, memory_order_release);
}

static _Alignas(64) _Atomic uint64_t floor_counts[MAX_THREADS][8];

static void b_floor_xadd2(struct job *j, unsigned cpu)
{
    /* one word per thread, or one for all as clone_drop_shared's frame */
    _Atomic uint64_t *c = &floor_counts[j->one_word ? 0 : cpu][0];
    for (uint64_t i = 0; i < j->iters; i++) {
        floor_get(c);
        floor_put(c);
    }
}

static void run_job(void *arg)
{
    struct job *j = arg;
    unsigned cpu = plat_cpu_index();
    uint64_t ops = 0, t0 = host_monotonic_ns(), c0 = thread_cpu_ns(), t1;
    do {
        j->fn(j, cpu);
        ops += j->iters * (j->fn == b_bulk ? 4096 : 1);
        t1 = host_monotonic_ns();
    } while (t1 - t0 < RUN_NS);
    j->ns[cpu] = (double)(thread_cpu_ns() - c0) / (double)ops;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median and minimum over RUNS of the per-run mean over threads. */
static void measure(struct job *j, unsigned threads, double *median, double *min)
{
    double per_run[RUNS];
    j->fn(j, 0); /* warm-up: caches filled, code and metadata hot */
    for (unsigned r = 0; r < RUNS; r++) {
        plat_run_on_cpus(threads, run_job, j);
        double sum = 0;
        for (unsigned t = 0; t < threads; t++)
            sum += j->ns[t];
        per_run[r] = sum / threads;
    }
    qsort(per_run, RUNS, sizeof per_run[0], cmp_double);
    *median = per_run[RUNS / 2];
    *min = per_run[0];
    char err[300];
    if (!mm_check(err, sizeof err)) {
        fprintf(stderr, "hostbench: mm_check after %s: %s\n", j->name, err);
        exit(1);
    }
}

static void init_memory(const struct pcp_config *pcp)
{
    struct phys_range u = {1 * GiB, 3 * GiB}; /* 2 GiB, 32 MiB of metadata */
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.max_cpus = MAX_THREADS;
    if (pcp)
        cfg.pcp = *pcp;
    char err[200];
    if (!mm_init(&u, 1, NULL, 0, &cfg, err, sizeof err)) {
        fprintf(stderr, "hostbench: mm_init: %s\n", err);
        exit(1);
    }
}

static void row(const char *name, unsigned threads, double median, double min, const char *note)
{
    printf("%-22s %7u %12.1f %10.1f  %s\n", name, threads, median, min, note);
}

static void standard(void)
{
    struct pcp_config def;
    init_memory(NULL);
    mm_pcp_get_config(&def);
    printf("hostbench: ns per operation, median (and min) of %d runs; caches: capacity %u, "
           "batch %u\n", RUNS, def.capacity, def.batch);
    printf("%-22s %7s %12s %10s\n", "benchmark", "threads", "median ns", "min ns");
    struct job jobs[] = {
        {.name = "pair_hit", .fn = b_pair_hit, .iters = 4096, .goal_ns = 3},
        {.name = "pair_counted", .fn = b_pair_counted, .iters = 4096},
        {.name = "pair_shared", .fn = b_pair_shared, .iters = 4096},
        {.name = "bulk_4096", .fn = b_bulk, .iters = 1},
        {.name = "order9", .fn = b_order9, .iters = 1024, .goal_ns = 5},
        {.name = "contig_5", .fn = b_contig5, .iters = 1024},
        {.name = "clone_drop", .fn = b_clone_drop, .iters = 4096, .goal_ns = 6},
        {.name = "clone_drop_shared", .fn = b_clone_drop_shared, .iters = 4096, .one_word = true},
        {.name = "floor_lifo", .fn = b_floor_lifo, .iters = 4096,
         .note = "floor of pair_hit, pair_counted, order9: the list alone"},
        {.name = "floor_xadd2", .fn = b_floor_xadd2, .iters = 4096,
         .note = "floor of clone_drop: two locked adds alone"},
        {.name = "floor_xadd2_shared", .fn = b_floor_xadd2, .iters = 4096, .one_word = true,
         .note = "floor of clone_drop_shared"},
    };
    for (unsigned t = 1; t <= MAX_THREADS; t++) {
        for (unsigned i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
            struct job *j = &jobs[i];
            double med, min;
            if (j->one_word && t == 1)
                continue; /* the same as the per-thread case */
            j->shared = frame_alloc(0);
            measure(j, t, &med, &min);
            frame_drop(j->shared);
            char note[80];
            snprintf(note, sizeof note, "%s", j->note ? j->note : "");
            if (j->goal_ns > 0)
                snprintf(note, sizeof note, "goal <= %.0f ns: %s", j->goal_ns,
                         med <= j->goal_ns ? "met" : "MISSED");
            row(j->name, t, med, min, note);
        }
        struct pcp_config off = def;
        off.enabled = false;
        mm_pcp_configure(&off);
        struct job g = {.name = "pair_global", .fn = b_pair_hit, .iters = 1024};
        double med, min;
        measure(&g, t, &med, &min);
        row(g.name, t, med, min, "caches off: buddy + lock per operation");
        mm_pcp_configure(&def);
    }
    struct mm_stats st;
    mm_get_stats(&st);
    printf("lock: %llu acquisitions, %llu contended, %.1f cycles held on average (sampled)\n",
           (unsigned long long)st.lock.acquisitions, (unsigned long long)st.lock.contended,
           st.lock.acquisitions ? (double)st.lock.hold_cycles / (double)st.lock.acquisitions : 0.0);
}

static void sweep(void)
{
    static const unsigned batches[] = {8, 16, 32, 64, 128, 256};
    static const unsigned factors[] = {2, 4, 8};
    printf("hostbench --sweep: ns per frame, median of %d runs\n", RUNS);
    printf("%6s %9s %14s %14s %12s\n", "batch", "capacity", "bulk_4096 x1", "bulk_4096 x2",
           "pair_hit x2");
    for (unsigned b = 0; b < sizeof batches / sizeof batches[0]; b++)
        for (unsigned f = 0; f < sizeof factors / sizeof factors[0]; f++) {
            struct pcp_config cfg = {true, batches[b] * factors[f], batches[b]};
            init_memory(&cfg);
            struct job bulk_job = {.name = "bulk", .fn = b_bulk, .iters = 1};
            struct job pair_job = {.name = "pair", .fn = b_pair_hit, .iters = 4096};
            double m1, m2, m3, min;
            measure(&bulk_job, 1, &m1, &min);
            measure(&bulk_job, 2, &m2, &min);
            measure(&pair_job, 2, &m3, &min);
            printf("%6u %9u %14.1f %14.1f %12.1f\n", cfg.batch, cfg.capacity, m1, m2, m3);
        }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    host_set_cpu_count(MAX_THREADS);
    FILE *la = fopen("/proc/loadavg", "r");
    char load[64] = "?";
    if (la) {
        if (!fgets(load, sizeof load, la))
            strcpy(load, "?");
        fclose(la);
    }
    printf("hostbench: host load average at start: %s", load);
    if (MM_DEBUG)
        printf("hostbench: MM_DEBUG build: figures include poisoning and free-list walks\n");
    if (argc > 1 && strcmp(argv[1], "--sweep") == 0)
        sweep();
    else if (argc > 1) {
        fprintf(stderr, "usage: %s [--sweep]\n", argv[0]);
        return 2;
    } else
        standard();
    return 0;
}
