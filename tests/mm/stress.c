/*
 * stress.c - multi-threaded stress of the allocator: threads stand in for
 * CPUs (plat_run_on_cpus), each mixing single-frame, order-k and contiguous
 * allocation, frees, clone/drop across CPUs (references travel through
 * per-CPU inboxes, so last drops race and frees are remote), frame_from_in_use
 * on published addresses, frame_from_unused claims and cache drains.
 *
 * Every allocation stamps an owner tag into the metadata and into the page
 * (first word of every frame); every release verifies both first.  After
 * every epoch, at a quiescent point: mm_check, frames conserved (the
 * allocator's allocated count equals what the threads hold), and no two held
 * allocations overlap.  The cache configuration changes between epochs
 * (small, default, off), and so does the NUMA map: the two memory ranges are
 * two nodes, and the CPUs' nodes swap every epoch (mm_numa_configure), so
 * refills go local, fall back remote when a node runs dry, and the
 * counters must add up.  At the end everything is released and every
 * managed frame must be UNUSED.
 *
 * Usage: test_mm_stress [cpus epochs ops_per_epoch]; built plain, with
 * ThreadSanitizer and with ASan+UBSan (MM_VARIANT names the PASS line).
 */
#include <pthread.h>
#include <stdlib.h>

#include "tests/mm/mm_test.h"

#ifndef MM_VARIANT
#define MM_VARIANT "plain"
#endif

CHECK_SUITE("mm");

#define MAX_CPUS 8
#define HELD_MAX 384
#define INBOX 32
#define PUBLISHED 64

enum kind { K_UNIQUE, K_SHARED, K_UNIT, K_CONTIG };

struct held {
    enum kind kind;
    struct frame *f; /* head (K_CONTIG: first frame) */
    uint64_t pa, frames, tag;
};

struct cpu_state {
    struct held held[HELD_MAX];
    unsigned n;
    uint64_t rng, seq;
    uint64_t ops, nomem, claims, in_use_hits, received;
    _Atomic(struct frame *) inbox[INBOX]; /* references sent to this CPU */
    _Atomic uint64_t published[PUBLISHED]; /* pas of shared frames this CPU holds */
} __attribute__((aligned(64)));

static struct cpu_state cpus[MAX_CPUS];
static unsigned n_cpus, n_epochs, ops_per_epoch;
static uint64_t arena_lo, arena_hi; /* from_unused targets */

static _Atomic unsigned violations;
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_violation[400];

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    if (atomic_fetch_add(&violations, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        pthread_mutex_lock(&msg_lock);
        vsnprintf(first_violation, sizeof first_violation, fmt, ap);
        pthread_mutex_unlock(&msg_lock);
        va_end(ap);
    }
}

static uint64_t rnd(struct cpu_state *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static uint64_t *page_word(uint64_t pa)
{
    return plat_phys_to_virt(pa);
}

static void stamp(struct held *h)
{
    frame_set_owner(h->f, h->tag);
    for (uint64_t i = 0; i < (h->kind == K_CONTIG ? h->frames : 1); i++)
        *page_word(h->pa + i * PAGE_SIZE) = h->tag;
}

static void verify(const struct held *h, const char *when)
{
    if (frame_owner(h->f) != h->tag)
        violation("%s: frame %#llx owner tag %#llx, expected %#llx (handed out twice?)", when,
                  (unsigned long long)h->pa, (unsigned long long)frame_owner(h->f),
                  (unsigned long long)h->tag);
    for (uint64_t i = 0; i < (h->kind == K_CONTIG ? h->frames : 1); i++)
        if (*page_word(h->pa + i * PAGE_SIZE) != h->tag)
            violation("%s: page %#llx holds tag %#llx, expected %#llx (handed out twice?)", when,
                      (unsigned long long)(h->pa + i * PAGE_SIZE),
                      (unsigned long long)*page_word(h->pa + i * PAGE_SIZE),
                      (unsigned long long)h->tag);
}

static void keep(struct cpu_state *c, unsigned cpu, enum kind k, struct frame *f, uint64_t pa,
                 uint64_t frames)
{
    struct held *h = &c->held[c->n++];
    *h = (struct held){k, f, pa, frames, ((uint64_t)(cpu + 1) << 48) | ++c->seq};
    stamp(h);
    if (k == K_SHARED)
        atomic_store_explicit(&c->published[rnd(c) % PUBLISHED], pa, memory_order_relaxed);
}

static void release(struct cpu_state *c, unsigned i)
{
    struct held h = c->held[i];
    c->held[i] = c->held[--c->n];
    verify(&h, "release");
    if (h.kind == K_SHARED) {
        for (unsigned p = 0; p < PUBLISHED; p++) {
            uint64_t want = h.pa;
            atomic_compare_exchange_strong(&c->published[p], &want, 0);
        }
        frame_drop(h.f); /* never frame_free: the pa may be in other hands */
    } else if (h.kind == K_CONTIG) {
        frame_free_contig(h.pa, h.frames);
    } else if (frame_refcount(h.f) == REF_UNIQUE && (rnd(c) & 1)) {
        frame_free(h.f);
    } else {
        /* A count of 1 is not exclusive here: another CPU may have taken a
         * reference through frame_from_in_use on a stale published pa. */
        frame_drop(h.f);
    }
}

static void receive_all(struct cpu_state *c)
{
    for (unsigned s = 0; s < INBOX; s++) {
        struct frame *f = atomic_exchange_explicit(&c->inbox[s], NULL, memory_order_acquire);
        if (!f)
            continue;
        uint64_t tag = frame_owner(f);
        if (tag == 0 || *page_word(frame_pa(f)) != tag || frame_refcount(f) == REF_UNUSED)
            violation("inbox: frame %#llx tag %#llx page %#llx refcount %#llx",
                      (unsigned long long)frame_pa(f), (unsigned long long)tag,
                      (unsigned long long)*page_word(frame_pa(f)),
                      (unsigned long long)frame_refcount(f));
        frame_drop(f); /* possibly the last reference: a remote last drop */
        c->received++;
    }
}

static void send_one(struct cpu_state *c, unsigned cpu)
{
    for (unsigned tries = 0; tries < 4 && c->n; tries++) {
        struct held *h = &c->held[rnd(c) % c->n];
        if (h->kind != K_SHARED)
            continue;
        unsigned to = (unsigned)(rnd(c) % n_cpus);
        if (to == cpu)
            to = (to + 1) % n_cpus;
        frame_clone(h->f);
        struct frame *none = NULL;
        if (!atomic_compare_exchange_strong_explicit(&cpus[to].inbox[rnd(c) % INBOX], &none, h->f,
                                                     memory_order_release, memory_order_relaxed))
            frame_drop(h->f);
        return;
    }
}

static void one_op(struct cpu_state *c, unsigned cpu)
{
    unsigned r = (unsigned)(rnd(c) % 100);
    struct frame *f;
    if (c->n >= HELD_MAX - 1 || (r < 25 && c->n)) {
        release(c, (unsigned)(rnd(c) % c->n));
    } else if (r < 55) {
        unsigned flags = (rnd(c) & 1 ? FRAME_UNIQUE : 0) | (rnd(c) % 8 == 0 ? FRAME_ZERO : 0);
        f = frame_alloc(flags);
        if (!f) {
            c->nomem++;
        } else {
            if ((flags & FRAME_ZERO) && (*page_word(frame_pa(f)) || page_word(frame_pa(f))[511]))
                violation("zeroed frame %#llx is not zero", (unsigned long long)frame_pa(f));
            keep(c, cpu, flags & FRAME_UNIQUE ? K_UNIQUE : K_SHARED, f, frame_pa(f), 1);
        }
    } else if (r < 63) {
        unsigned order = 1 + (unsigned)(rnd(c) % 1000 < 900 ? rnd(c) % 4 : rnd(c) % MM_MAX_ORDER);
        f = frame_alloc_order(order, rnd(c) & 1 ? FRAME_UNIQUE : 0);
        if (!f)
            c->nomem++;
        else
            keep(c, cpu, K_UNIT, f, frame_pa(f), (uint64_t)1 << order);
    } else if (r < 70) {
        uint64_t n = 1 + rnd(c) % 100, align = (uint64_t)1 << (rnd(c) % 7), pa;
        enum frame_error e = frame_alloc_contig(n, align, rnd(c) % 4 ? 0 : FRAME_ZERO, &pa);
        if (e == FRAME_ERR_NOMEM)
            c->nomem++;
        else if (e != FRAME_OK || pa % (align * PAGE_SIZE))
            violation("contig n=%llu align=%llu: %s at %#llx", (unsigned long long)n,
                      (unsigned long long)align, frame_error_name(e), (unsigned long long)pa);
        else
            keep(c, cpu, K_CONTIG, arena_frame(&mm_arenas[mm_arena_of_pfn(pa >> PAGE_SHIFT)],
                                               pa >> PAGE_SHIFT), pa, n);
    } else if (r < 80) {
        send_one(c, cpu);
    } else if (r < 85) {
        receive_all(c);
    } else if (r < 91) {
        /* Another CPU's published shared frame: a reference to whatever
         * incarnation is there, or a clean error. */
        unsigned who = (unsigned)(rnd(c) % n_cpus);
        uint64_t pa = atomic_load_explicit(&cpus[who].published[rnd(c) % PUBLISHED],
                                           memory_order_relaxed);
        uint64_t retries;
        if (pa && frame_from_in_use(pa, &f, &retries) == FRAME_OK) {
            if (frame_refcount(f) < 2 || frame_refcount(f) > REF_MAX)
                violation("from_in_use %#llx: refcount %#llx", (unsigned long long)pa,
                          (unsigned long long)frame_refcount(f));
            c->in_use_hits++;
            frame_drop(f);
        }
    } else if (r < 96) {
        uint64_t pa = arena_lo + (rnd(c) % ((arena_hi - arena_lo) >> PAGE_SHIFT)) * PAGE_SIZE;
        bool unique = rnd(c) & 1;
        if (frame_from_unused(pa, unique, &f) == FRAME_OK) {
            c->claims++;
            keep(c, cpu, unique ? K_UNIQUE : K_SHARED, f, pa, 1);
        }
    } else if (r < 98) {
        for (unsigned i = 0; i < c->n; i++)
            if (c->held[i].kind == K_UNIQUE) {
                frame_unique_to_shared(c->held[i].f);
                c->held[i].kind = K_SHARED;
                atomic_store_explicit(&c->published[rnd(c) % PUBLISHED], c->held[i].pa,
                                      memory_order_relaxed);
                break;
            }
    } else {
        mm_pcp_drain_local();
    }
    c->ops++;
}

static void epoch_job(void *arg)
{
    (void)arg;
    unsigned cpu = plat_cpu_index();
    for (unsigned i = 0; i < ops_per_epoch; i++)
        one_op(&cpus[cpu], cpu);
}

static void inbox_job(void *arg)
{
    bool release_all = arg != NULL;
    unsigned cpu = plat_cpu_index();
    struct cpu_state *c = &cpus[cpu];
    receive_all(c);
    while (release_all && c->n)
        release(c, c->n - 1);
}

static int by_pa(const void *a, const void *b)
{
    const struct held *x = a, *y = b;
    return x->pa < y->pa ? -1 : x->pa > y->pa;
}

/* Quiescent: conservation and no overlap between any two holders. */
static void check_epoch(unsigned epoch)
{
    static struct held all[MAX_CPUS * HELD_MAX];
    unsigned n = 0;
    uint64_t frames = 0;
    for (unsigned cpu = 0; cpu < n_cpus; cpu++)
        for (unsigned i = 0; i < cpus[cpu].n; i++) {
            all[n++] = cpus[cpu].held[i];
            frames += cpus[cpu].held[i].frames;
        }
    char err[300];
    CHECKF(mm_check(err, sizeof err), "epoch %u: mm_check: %s", epoch, err);
    struct mm_stats st = mt_stats();
    CHECKF(st.allocated_frames == frames, "epoch %u: allocator says %llu allocated, threads hold %llu",
           epoch, (unsigned long long)st.allocated_frames, (unsigned long long)frames);
    CHECK_EQ_U(st.free_frames + st.cached_frames + st.allocated_frames, st.total_frames);
    qsort(all, n, sizeof all[0], by_pa);
    for (unsigned i = 1; i < n; i++)
        CHECKF(all[i - 1].pa + all[i - 1].frames * PAGE_SIZE <= all[i].pa,
               "epoch %u: [%#llx, +%llu) and [%#llx, +%llu) handed out twice", epoch,
               (unsigned long long)all[i - 1].pa, (unsigned long long)all[i - 1].frames,
               (unsigned long long)all[i].pa, (unsigned long long)all[i].frames);
    CHECKF(atomic_load(&violations) == 0, "epoch %u: %u violations, first: %s", epoch,
           atomic_load(&violations), first_violation);
}

static void stress(void)
{
    struct phys_range u[] = {{16 * MiB, 48 * MiB}, {4 * GiB, 4 * GiB + 16 * MiB}};
    struct phys_range r[] = {{20 * MiB, 20 * MiB + 3 * PAGE_SIZE}};
    static const unsigned u_node[] = {0, 1};
    static struct mm_numa topo;
    mm_numa_default(&topo, 2);
    for (unsigned cpu = 0; cpu < n_cpus; cpu++)
        topo.cpu_node[cpu] = (uint16_t)(cpu * 2 / n_cpus);
    if (!mt_init_numa(u, u_node, 2, r, 1, &topo, NULL, n_cpus))
        return;
    arena_lo = 16 * MiB;
    arena_hi = 48 * MiB;
    host_set_cpu_count(n_cpus);
    for (unsigned cpu = 0; cpu < n_cpus; cpu++)
        cpus[cpu].rng = 0x9e3779b97f4a7c15ull * (cpu + 1);
    const struct pcp_config modes[] = {
        {true, 32, 8}, {true, 512, 64}, {false, 512, 64}, {true, 4, 1}, {true, 1024, 256},
    };
    unsigned epochs = 0;
    for (; epochs < n_epochs; epochs++) {
        /* Past the strand limit on this small machine: forced (mm_test.h). */
        mt_force_pcp(&modes[epochs % 5]);
        char err[200];
        for (unsigned cpu = 0; cpu < n_cpus; cpu++)
            topo.cpu_node[cpu] = (uint16_t)((cpu * 2 / n_cpus + epochs) % 2);
        CHECKF(mm_numa_configure(&topo, err, sizeof err), "mm_numa_configure: %s", err);
        plat_run_on_cpus(n_cpus, epoch_job, NULL);
        plat_run_on_cpus(n_cpus, inbox_job, NULL);
        check_epoch(epochs);
        if (check_state.failures_in_test)
            break;
    }
    plat_run_on_cpus(n_cpus, inbox_job, (void *)1);
    mm_pcp_drain_all();
    check_epoch(epochs);
    struct mm_stats st = mt_stats();
    CHECK_EQ_U(st.free_frames, st.total_frames);
    uint64_t not_unused = 0;
    for (unsigned a = 0; a < mm.n_arenas; a++)
        for (uint64_t pfn = mm_arenas[a].base_pfn; pfn < mm_arenas[a].end_pfn; pfn++) {
            struct frame *f = arena_frame(&mm_arenas[a], pfn);
            if (!(frame_flags_get(f) & FRAME_F_RESERVED) && frame_refcount(f) != REF_UNUSED)
                not_unused++;
        }
    CHECK_EQ_U(not_unused, 0);
    uint64_t ops = 0, nomem = 0, claims = 0, hits = 0, received = 0, remote = 0, high = 0;
    uint64_t local_refills = 0;
    for (unsigned cpu = 0; cpu < n_cpus; cpu++) {
        struct pcp_stats ps;
        mm_pcp_stats(cpu, &ps);
        ops += cpus[cpu].ops;
        nomem += cpus[cpu].nomem;
        claims += cpus[cpu].claims;
        hits += cpus[cpu].in_use_hits;
        received += cpus[cpu].received;
        remote += ps.remote_frees;
        high += ps.high_hits;
        local_refills += ps.local_refills;
        CHECKF(ps.local_refills + ps.remote_refills == ps.refills,
               "cpu %u: %llu local + %llu remote refills, %llu refills", cpu,
               (unsigned long long)ps.local_refills, (unsigned long long)ps.remote_refills,
               (unsigned long long)ps.refills);
    }
    /* The mix must really have exercised the cross-CPU paths and the
     * high-order caches. */
    CHECK(received > 0 && hits > 0 && claims > 0 && remote > 0 && high > 0 && local_refills > 0);
    fprintf(stderr, "stress %s: %u cpus, %u epochs, %llu ops, %llu out-of-memory, %llu claims, "
            "%llu from_in_use, %llu references received, %llu remote frees, %llu high-order "
            "cache hits\n",
            MM_VARIANT, n_cpus, epochs, (unsigned long long)ops, (unsigned long long)nomem,
            (unsigned long long)claims, (unsigned long long)hits, (unsigned long long)received,
            (unsigned long long)remote, (unsigned long long)high);
}

int main(int argc, char **argv)
{
    n_cpus = argc > 1 ? (unsigned)atoi(argv[1]) : 4;
    n_epochs = argc > 2 ? (unsigned)atoi(argv[2]) : 20;
    ops_per_epoch = argc > 3 ? (unsigned)atoi(argv[3]) : 3000;
    if (n_cpus < 2 || n_cpus > MAX_CPUS || n_epochs == 0 || ops_per_epoch == 0) {
        fprintf(stderr, "usage: %s [cpus 2..%u] [epochs >= 1] [ops per epoch >= 1]\n", argv[0],
                MAX_CPUS);
        return 2;
    }
    check_run("stress_" MM_VARIANT, stress);
    return check_exit();
}
