/*
 * pcp.c - per-CPU frame caches: the slow paths behind frame.c's hit paths,
 * configuration and statistics.
 *
 * Each CPU owns a bounded LIFO of order-0 frames (struct pcp, cache-line
 * aligned, touched only by its CPU with interrupts off, so it needs no lock
 * and no atomic RMW).  An empty cache refills `batch` frames from the buddy
 * allocator in one lock acquisition (whole blocks, smallest first, expanded
 * into frames after the lock is dropped); a full cache drains its `batch`
 * coldest frames back in one acquisition before taking the new one (drain,
 * below).  LIFO keeps the frame just freed - hot in this CPU's caches,
 * metadata line included - as the next one allocated.  Capacity and batch
 * follow memory size and CPU count (geometry, below); mm_set_cpus sets the
 * CPU count once every CPU is online.
 *
 * High orders (as Linux since 5.13): each CPU also keeps a LIFO of whole
 * blocks for each order pcp_high_order() names (1..3, up to Linux's
 * PAGE_ALLOC_COSTLY_ORDER, and 9, the 2 MiB huge page), used by
 * frame_alloc_order and the release of order-k units (not by
 * frame_alloc_contig, whose contract is the buddy allocator).  The hit paths
 * (frame.c) are the order-0 ones on another line of struct pcp.  A miss takes
 * ONE block from the buddy allocator: a batch would have to split larger
 * blocks in advance, fragmenting memory for blocks nobody asked for yet.  A
 * release onto a list at its bound goes straight to the buddy allocator as
 * one block (there is nothing to amortise: a high-order release is one
 * buddy operation either way).  The head of a cached block carries
 * FRAME_F_CACHED and its order (flags and frame.order); the frames behind it
 * stay as they were while allocated (UNUSED, flags 0, poisoned in DEBUG).
 *
 * The cache-off mode (enabled = false) sends every operation to the buddy
 * allocator (high orders included) and counts every order-0 allocation as a
 * miss, so one boot can measure both.  The counters are plain per-CPU fields: written only by
 * their CPU, read by others only at quiescent points.  The order-0 frees
 * are derived (pcp_frees, mm_int.h) rather than counted: every other change
 * of the list's count is, so the free hit path touches only the count.
 *
 * The hit paths reach this CPU's cache through the platform's per-CPU word
 * (mm_int.h: this CPU's cache in one load); pcp_apply and pcp_publish_all
 * keep every CPU index's word at its cache while it has one that is on,
 * and at pcp_none otherwise.
 *
 * Configuration changes (mm_pcp_configure) drain every cache first and must
 * run at a quiescent point: the hit paths read capacity/batch/enabled from
 * their own line without synchronisation.
 */
#include "mm/mm_int.h"

struct pcp mm_pcp[PLAT_MAX_CPUS];

/* mm_int.h: what the hit paths find on a CPU without a cache that is on.
 * All zero: no frame, no room, no reclaim request. */
const struct pcp pcp_none;

/* The word of CPU index cpu (mm_int.h: this CPU's cache in one load). */
static void pcp_publish(unsigned cpu)
{
    const struct pcp *p = &mm_pcp[cpu];
    bool on = cpu < mm.max_cpus && p->enabled;
    plat_cpu_local_set(cpu, on ? (uintptr_t)p - (uintptr_t)&pcp_none : 0);
}

void pcp_publish_all(void)
{
    for (unsigned cpu = 0; cpu < PLAT_MAX_CPUS; cpu++)
        pcp_publish(cpu);
}

/*
 * Defaults, from `make hostbench-sweep` (tests/mm/hostbench.c) on the
 * development machine (2 vCPUs of a 2.6 GHz Xeon under KVM, gcc 12 -O2).
 * bulk_4096 = 4096 allocations then 4096 frees on one CPU, ns per frame
 * (alloc + free, refills and drains included); the cache hit pair costs
 * 5.8 ns in every configuration:
 *
 *   batch \ capacity   2x batch   4x batch   8x batch
 *       8                19.8       20.8       20.7
 *      16                18.0       17.9       17.8
 *      32                16.7       16.7       16.5
 *      64                16.2       15.9       15.7   <- default: 64 / 512
 *     128                15.5       15.1       13.8
 *     256                14.7       13.9       11.3
 *
 * The per-frame cost flattens past a batch of 64: the lock round trip is
 * amortised, and what remains is touching each frame's metadata line.
 * Larger batches buy little throughput but lengthen every miss (a refill
 * writes `batch` metadata lines with interrupts off, which the tail latency
 * of the pcp benchmark shows) and strand more memory:
 * a capacity of 512 frames is 2 MiB per CPU, 16 MiB for 8 CPUs, under 2% of
 * a 1 GiB guest.  The 8x-capacity column gains mostly because this workload
 * frees exactly what it allocated; Linux's pcp (batch 63, high ~6 batches)
 * lands in the same place.  (The sweep's two-thread columns are not used:
 * on the shared development host they measured the host scheduler.)
 */
#define MM_PCP_DEFAULT_CAPACITY 512u
#define MM_PCP_DEFAULT_BATCH 64u

/*
 * Bound of each high-order list, in blocks: each of the cached orders may
 * hold a quarter of the order-0 capacity in frames, capacity / (4 << order),
 * and at least one block while one block fits in the order-0 capacity.  With
 * the default capacity of 512 frames: order 1: 64 blocks, 2: 32, 3: 16
 * (128 frames = 512 KiB each), order 9: one 2 MiB block, so a CPU caches at
 * most 896 frames (3.5 MiB) of high-order blocks besides its 512 order-0
 * frames (2 MiB).  Below a capacity of 512 frames no order-9 block is
 * cached: one would be worth more than the whole order-0 cache.
 * One order-9 block is all an alloc/free pair needs to hit: `make hostbench`
 * order9 (alloc + free of a 2 MiB unit) went from 26-29 ns with 1 thread and
 * 94-104 ns with 2 (both threads serialised on the arena lock) to 6.3-6.8 ns
 * with either, the order-0 hit pair's cost plus the order lookup; a larger
 * order-9 bound would strand 2 MiB more per block per CPU.  Orders 1..3 are small
 * (kernel stacks, page tables, DMA buffers): a few dozen blocks absorb
 * bursts at a cost of 512 KiB each.  The lists are bounded separately
 * (Linux shares one count across orders) so that a burst of one order cannot
 * evict the others.  An allocation that finds no block in the buddy
 * allocator drains this CPU's caches and retries, as order-0 refills do.
 */
static unsigned pcp_high_limit(unsigned capacity, unsigned order)
{
    unsigned n = capacity / (4u << order);
    return n ? n : (1u << order) <= capacity;
}

uint64_t mm_pcp_bound_frames(unsigned capacity)
{
    uint64_t n = capacity;
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++)
        n += (uint64_t)pcp_high_limit(capacity, pcp_high_order(i)) << pcp_high_order(i);
    return n;
}

/*
 * Geometry tied to the machine.  Whatever the caches hold is free memory no
 * other CPU can allocate until it is reclaimed (below), so their bound,
 * mm_pcp_bound_frames(capacity) x CPUs, is a share of memory:
 *
 *   defaults   the caches together may hold at most 1/MM_PCP_DEFAULT_SHARE
 *              (1/32, 3 %) of the managed frames, split evenly across the
 *              CPUs (Linux splits its high mark across a node's CPUs the
 *              same way): the capacity is the largest power of two up to
 *              512 whose bound fits a CPU's share (at least 1), the batch an
 *              eighth of it (the measured 64 / 512), at most 0.1 % of memory
 *              (Linux caps its batch at zone pages / 1024), at least 1.
 *              Examples: 1 GiB, 2 CPUs: 512 / 64, bound 1408 frames a CPU,
 *              2.1 % in all; 1 GiB, 8 CPUs: 256 / 32, 448 each, 1.4 %;
 *              64 MiB, 8 CPUs: 32 / 4, 56 each, 2.8 %.  (The old fixed
 *              512 / 64 at 8 CPUs on 64 MiB could cache 44 MiB of 64.)
 *   chosen     an explicit geometry (mm_init's cfg, mm_set_cpus,
 *              mm_pcp_configure: the pcp_capacity= / pcp_batch= keys) is
 *              refused when its bound exceeds 1/MM_PCP_STRAND_LIMIT (1/4) of
 *              the managed frames: past that the caches can starve the
 *              workload they are meant to speed up, while the largest
 *              geometry the benchmarks sweep by default (4 x the default
 *              capacity) stays under 1/8 on every machine the defaults fit.
 *              Defaults are never refused: on a machine too small even for
 *              a capacity of 1 they are what is left.
 */
#define MM_PCP_DEFAULT_SHARE 32u

static void pcp_default_geometry(uint64_t frames, unsigned cpus, struct pcp_config *out)
{
    uint64_t share = frames / MM_PCP_DEFAULT_SHARE / cpus;
    unsigned cap = MM_PCP_DEFAULT_CAPACITY;
    while (cap > 1 && mm_pcp_bound_frames(cap) > share)
        cap /= 2;
    uint64_t batch = cap * (uint64_t)MM_PCP_DEFAULT_BATCH / MM_PCP_DEFAULT_CAPACITY;
    if (batch > frames / 1024)
        batch = frames / 1024;
    out->enabled = true;
    out->capacity = cap;
    out->batch = batch ? (unsigned)batch : 1;
}

void pcp_apply(struct pcp *p, const struct pcp_config *cfg)
{
    p->enabled = cfg->enabled;
    p->capacity = cfg->capacity;
    p->batch = cfg->batch;
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++)
        p->high_limit[i] = (uint16_t)pcp_high_limit(cfg->capacity, pcp_high_order(i));
    pcp_publish((unsigned)(p - mm_pcp));
}
_Static_assert(MM_PCP_MAX_CAPACITY / 8 <= UINT16_MAX, "high_limit is a uint16_t");

void mm_default_config(struct mm_config *cfg)
{
    /* capacity 0: derived from memory and CPUs at mm_init / mm_set_cpus */
    cfg->pcp.enabled = true;
    cfg->pcp.capacity = 0;
    cfg->pcp.batch = 0;
    /* The CPUs running now; mm_set_cpus when more come online. */
    cfg->max_cpus = plat_cpu_count();
    cfg->usable_node = NULL;
    cfg->numa = NULL;
}

bool pcp_config_valid(const struct pcp_config *cfg, char *err, size_t errlen)
{
    if (cfg->capacity == 0 && cfg->batch == 0)
        return true; /* the derived defaults */
    if (cfg->capacity == 0 || cfg->capacity > MM_PCP_MAX_CAPACITY) {
        plat_snprintf(err, errlen, "pcp capacity %u outside 1..%u", cfg->capacity,
                      MM_PCP_MAX_CAPACITY);
        return false;
    }
    if (cfg->batch == 0 || cfg->batch > cfg->capacity) {
        plat_snprintf(err, errlen, "pcp batch %u outside 1..capacity (%u)", cfg->batch,
                      cfg->capacity);
        return false;
    }
    return true;
}

bool pcp_geometry(const struct pcp_config *cfg, uint64_t frames, unsigned cpus,
                  struct pcp_config *out, char *err, size_t errlen)
{
    if (!pcp_config_valid(cfg, err, errlen))
        return false;
    if (cfg->capacity == 0) {
        pcp_default_geometry(frames, cpus, out);
        out->enabled = cfg->enabled;
        return true;
    }
    uint64_t per_cpu = mm_pcp_bound_frames(cfg->capacity), bound = per_cpu * cpus;
    uint64_t limit = frames / MM_PCP_STRAND_LIMIT;
    if (cfg->enabled && bound > limit) { /* caches off hold nothing */
        plat_snprintf(err, errlen, "cache geometry capacity %u batch %u can hold %llu frames "
                      "a CPU (%u order-0 + %llu in high-order blocks), x %u CPUs = %llu frames "
                      "(%llu KiB): more than the limit of 1/%u of the %llu managed frames "
                      "(%llu frames, %llu KiB)", cfg->capacity, cfg->batch,
                      (unsigned long long)per_cpu, cfg->capacity,
                      (unsigned long long)(per_cpu - cfg->capacity), cpus,
                      (unsigned long long)bound, (unsigned long long)(bound * (PAGE_SIZE >> 10)),
                      MM_PCP_STRAND_LIMIT, (unsigned long long)frames,
                      (unsigned long long)limit, (unsigned long long)(limit * (PAGE_SIZE >> 10)));
        return false;
    }
    *out = *cfg;
    return true;
}

uint64_t pcp_cache_bound(void)
{
    return mm.pcp_cfg.enabled ? mm_pcp_bound_frames(mm.pcp_cfg.capacity) * mm.max_cpus : 0;
}

/*
 * Reclaim: frames in other CPUs' caches, reachable before out-of-memory.
 *
 * A cache is touched only by its CPU, with no lock and no atomic RMW on the
 * hit paths, so no other CPU may take frames out of it: mutual exclusion
 * with the owner would need an atomic RMW or a store-load fence on every hit
 * (the "laws of order"), which is what the hit paths exist to avoid.  Linux
 * pays that (pcp->lock on every allocation); here the owner returns its
 * frames itself, on request:
 *
 *   1. An allocation that found nothing in its cache nor the buddy lists
 *      (frame_alloc_reclaim, frame_alloc_contig) raises pcp_pressure and sets
 *      every other CPU's `reclaim` flag (relaxed stores).
 *   2. The owner sees the flag in its next allocation -- the order-0 and
 *      high-order hit paths test it with one load on their own line, which
 *      sends them to the slow path -- or when its cache overflows, returns
 *      every cached frame and block to the buddy allocator and clears the
 *      flag with a release store.
 *   3. The requester waits, up to PCP_RECLAIM_WAIT_US, for the CPUs that
 *      answered every earlier request, acquires their answers and retries
 *      the buddy allocator once.  A CPU whose flag is still set from an
 *      earlier request has made no allocator call since; it is not waited
 *      for again, so an idle CPU costs one wait per idle period, not one per
 *      failing allocation.  From pcp_reclaim_begin to pcp_reclaim_end,
 *      around the retry, pcp_pressure makes refills take one frame instead of
 *      a batch, and the call that answered takes one frame too, so the
 *      returned frames stay in the buddy lists for the requester.
 *
 * The price on the hit path is that load and a predictable branch in each
 * allocation hit (frees are untouched: a CPU that only frees answers when
 * its cache overflows); an allocation that fails pays the requests (one
 * exchange per CPU) and, the first time a CPU is idle, the wait.  The
 * limit: a CPU that makes no allocator call for the whole wait (idle, or
 * busy elsewhere) keeps its
 * frames until its next call, which answers first; the allocation then
 * reports out-of-memory, and mm_pcp_drain_all at a quiescent point returns
 * everything.  Cross-CPU reach for idle CPUs would need an IPI, which the
 * platform interface does not offer.
 */
#define PCP_RECLAIM_WAIT_US 1000

/* Allocations now reclaiming other CPUs' caches (refills shrink to one
 * frame while it is non-zero). */
static _Atomic unsigned pcp_pressure;

/* Interrupts off, on p's CPU: answers a pending reclaim by returning every
 * cached frame and block; true when there was one. */
static bool pcp_reclaim_answer(struct pcp *p)
{
    if (likely(!atomic_load_explicit(&p->reclaim, memory_order_relaxed)))
        return false;
    pcp_drain(p, p->count);
    pcp_drain_high(p);
    p->reclaims++;
    /* Release: the returned frames are in the buddy lists before the
     * requester, acquiring the cleared flag, retries. */
    atomic_store_explicit(&p->reclaim, 0, memory_order_release);
    return true;
}

bool pcp_reclaim_begin(void)
{
    unsigned self = plat_cpu_index(), n = plat_cpu_count();
    if (n > mm.max_cpus)
        n = mm.max_cpus;
    /* The CPUs to wait for: those that answered every earlier request (a
     * flag still set from one is a CPU that has made no allocator call
     * since: idle, not worth a second wait). */
    uint64_t wait_for[(PLAT_MAX_CPUS + 63) / 64] = {0};
    bool any = false, pending = false;
    atomic_fetch_add_explicit(&pcp_pressure, 1, memory_order_relaxed);
    for (unsigned cpu = 0; cpu < n; cpu++) {
        struct pcp *p = &mm_pcp[cpu];
        if (cpu == self || !p->enabled)
            continue;
        bool outstanding =
            atomic_exchange_explicit(&p->reclaim, 1, memory_order_relaxed) != 0;
        if (!outstanding) {
            wait_for[cpu / 64] |= (uint64_t)1 << (cpu % 64);
            pending = true;
        }
    }
    uint64_t start = plat_tsc(), wait = plat_tsc_khz() * PCP_RECLAIM_WAIT_US / 1000;
    while (pending) {
        pending = false;
        for (unsigned cpu = 0; cpu < n; cpu++) {
            if (!(wait_for[cpu / 64] >> (cpu % 64) & 1))
                continue;
            if (atomic_load_explicit(&mm_pcp[cpu].reclaim, memory_order_acquire) == 0) {
                wait_for[cpu / 64] &= ~((uint64_t)1 << (cpu % 64));
                any = true;
            } else {
                pending = true;
            }
        }
        if (!pending || plat_tsc() - start > wait)
            break;
        /* Another CPU may be waiting for this one in the same way. */
        if (self < mm.max_cpus) {
            plat_irqstate_t s = plat_irq_save();
            pcp_reclaim_answer(&mm_pcp[self]);
            plat_irq_restore(s);
        }
        plat_pause();
    }
    return any;
}

void pcp_reclaim_end(void)
{
    atomic_fetch_sub_explicit(&pcp_pressure, 1, memory_order_relaxed);
}

/* Frames of a chain of blocks (through next, head.order) that lie on
 * another node than `node`. */
static uint64_t chain_remote_frames(const struct frame *chain, unsigned node)
{
    uint64_t n = 0;
    for (const struct frame *h = chain; h; h = h->next)
        n += frame_arena(h)->node != node ? (uint64_t)1 << h->order : 0;
    return n;
}

/* Interrupts off, on p's CPU.  While another CPU reclaims cached frames to
 * satisfy an allocation, a refill takes one frame, not a batch: otherwise the
 * frames it asked for would be back in a cache before it could take them.
 * Arenas in the fallback order of p's preferred node (mm/numa.c); the
 * anti-fragmentation policy's region first when it is on, whose frames are
 * counted local or remote by their own arena's node. */
static uint32_t pcp_refill(struct pcp *p)
{
    uint64_t want = atomic_load_explicit(&pcp_pressure, memory_order_relaxed) ? 1 : p->batch;
    uint64_t got = 0, remote = 0;
    struct frame *chain = NULL;
    if (mm_antifrag_on) {
        got = antifrag_refill(p, want, &chain);
        if (mm.nodes > 1)
            remote = chain_remote_frames(chain, p->node);
    }
    const uint8_t *order = numa_arena_order(p);
    for (unsigned k = 0; k < mm.n_arenas && got < want; k++) {
        struct arena *a = &mm_arenas[order[k]];
        plat_irqstate_t s = mm_lock_acquire(&a->lock);
        uint64_t n = buddy_take_locked(a, want - got, &chain);
        mm_lock_release(&a->lock, s);
        got += n;
        remote += a->node != p->node ? n : 0;
    }
    /* The blocks left the free lists under the lock: they are ours, so
     * spreading them into the cache needs no lock. */
    while (chain) {
        struct frame *h = chain;
        chain = h->next;
        /* Highest address first, so allocations walk the block upwards. */
        for (size_t i = (size_t)1 << h->order; i-- > 0;) {
            struct frame *f = h + i;
            frame_flags_set(f, FRAME_F_CACHED | frame_debug_bits(f));
            f->next = p->head;
            p->head = f;
        }
    }
    pcp_count_add(p, (int64_t)got);
    p->refills += got != 0;
    p->local_refills += got != 0 && remote == 0;
    p->remote_refills += remote != 0;
    p->remote_refill_frames += remote;
    return (uint32_t)got;
}

static bool pcp_holds_high(const struct pcp *p)
{
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++)
        if (p->high_count[i])
            return true;
    return false;
}

struct frame *pcp_alloc_slow(struct pcp *p)
{
    p->misses++;
    if (!p->enabled)
        return buddy_alloc_any(0);
    /* Just gave everything back for another CPU: take one frame, not a
     * batch, or the frames would be back here before it could take them. */
    if (pcp_reclaim_answer(p))
        return buddy_alloc_any(0);
    if (pcp_refill(p) == 0) {
        /* Out of frames unless this CPU's high-order blocks are the last. */
        if (!pcp_holds_high(p))
            return NULL;
        pcp_drain_high(p);
        if (pcp_refill(p) == 0)
            return NULL;
    }
    struct frame *f = p->head;
    p->head = f->next;
    pcp_count_add(p, -1);
    return f;
}

/*
 * The drain returns the cold end of the order-0 list - the frames freed
 * longest ago, whose lines have left this CPU's caches - and keeps the hot
 * top for the next allocations (Linux's free_pcppages_bulk takes the list
 * tail).  The list is singly linked through frame.next so that the hit paths
 * stay a pop and a push of one pointer: a tail pointer would cost every free
 * a test for the empty list, and a doubly linked list a store into the old
 * head's line, and neither gives the frame *before* the n coldest, which is
 * where the list must be cut.  So the drain walks to the cut, and makes the
 * walk rare: one walk records up to PCP_COLD_MARKS frames at n, 2n, ... frames
 * from the cold end (a frame's distance from the cold end does not change
 * while it stays in the list: pushes and pops happen at the top), and the
 * next drains of n start at the lowest mark.  A mark found with `above`
 * frames on top of it is still in the list while fewer than above + 1 pops
 * (hits + misses) happened since; a removal from the middle
 * (pcp_release_local) or a full drain drops every mark.  With the default
 * 512 / 64, a walk of 448 frames serves 7 drains: under one extra frame
 * visited per frame drained.  `make hostbench` bulk_4096 (4096 allocations
 * then 4096 frees, ns per frame, 1 thread; interleaved runs on a busy
 * 2-core host): 18.5-20.3 for the old drain of the hot top, 20.0-20.8 with
 * the marks, 30.5-33.9 walking to the cut on every drain (PCP_COLD_MARKS 1).
 * The marks live on the slow-path line; the hit paths do not see them.
 */
static void pcp_find_marks(struct pcp *p, uint32_t n)
{
    uint32_t below = p->count - 1; /* frames after f */
    p->cold_marks = 0;
    p->cold_pops = p->hits + p->misses;
    for (struct frame *f = p->head; below >= n; f = f->next, below--) {
        if (below % n == 0 && below / n <= PCP_COLD_MARKS) {
            unsigned i = p->cold_marks++;
            p->cold_mark[i] = f;
            p->cold_below[i] = below;
            p->cold_above[i] = p->count - 1 - below;
        }
    }
}

/* The lowest valid mark at least n frames from the cold end, or -1. */
static int pcp_best_mark(const struct pcp *p, uint32_t n)
{
    uint64_t pops = p->hits + p->misses - p->cold_pops;
    int best = -1;
    for (unsigned i = 0; i < p->cold_marks; i++)
        if (pops <= p->cold_above[i] && p->cold_below[i] >= n &&
            (best < 0 || p->cold_below[i] < p->cold_below[best]))
            best = (int)i;
    return best;
}

/* Unlinks the n coldest frames (0 < n < count) and returns them, chained. */
static struct frame *pcp_cut_cold(struct pcp *p, uint32_t n)
{
    int m = pcp_best_mark(p, n);
    if (m < 0) {
        pcp_find_marks(p, n);
        m = pcp_best_mark(p, n);
    }
    struct frame *cut = p->cold_mark[m];
    for (uint32_t below = p->cold_below[m]; below > n; below--)
        cut = cut->next;
    struct frame *chain = cut->next;
    cut->next = NULL;
    /* The marks that stay in the list are n frames nearer the cold end. */
    unsigned k = 0;
    for (unsigned i = 0; i < p->cold_marks; i++) {
        if (p->cold_below[i] <= n)
            continue;
        p->cold_mark[k] = p->cold_mark[i];
        p->cold_below[k] = p->cold_below[i] - n;
        p->cold_above[k] = p->cold_above[i];
        k++;
    }
    p->cold_marks = k;
    return chain;
}

void pcp_drain(struct pcp *p, uint32_t n)
{
    struct arena *held = NULL;
    plat_irqstate_t s = 0;
    if (p->head == NULL || n == 0)
        return;
    struct frame *chain;
    if (n >= p->count) {
        n = p->count;
        chain = p->head;
        p->head = NULL;
        p->cold_marks = 0;
    } else {
        chain = pcp_cut_cold(p, n);
    }
    pcp_count_add(p, -(int64_t)n);
    while (chain) {
        struct frame *f = chain;
        chain = f->next;
        struct arena *a = frame_arena(f);
        if (a != held) {
            if (held)
                mm_lock_release(&held->lock, s);
            held = a;
            s = mm_lock_acquire(&a->lock);
        }
        buddy_free_block_locked(a, f->pfn, 0);
    }
    mm_lock_release(&held->lock, s);
    p->drains++;
}

void pcp_drain_full(struct pcp *p)
{
    if (!pcp_reclaim_answer(p) && !(mm_antifrag_on && antifrag_drain(p, p->batch)))
        pcp_drain(p, p->batch);
}

struct frame *pcp_alloc_high_slow(struct pcp *p, unsigned order)
{
    p->high_misses++;
    pcp_reclaim_answer(p);
    struct frame *f = mm_antifrag_on ? antifrag_alloc_unit(p, order, false) : NULL;
    if (f == NULL)
        f = buddy_alloc_any(order);
    if (f == NULL) {
        /* Frames parked in this CPU's caches may complete a block. */
        pcp_drain(p, p->count);
        pcp_drain_high(p);
        f = buddy_alloc_any(order);
    }
    return f;
}

void pcp_drain_high(struct pcp *p)
{
    struct arena *held = NULL;
    plat_irqstate_t s = 0;
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++) {
        while (p->high_head[i]) {
            struct frame *f = p->high_head[i];
            p->high_head[i] = f->next;
            p->high_count[i]--;
            struct arena *a = frame_arena(f);
            if (a != held) {
                if (held)
                    mm_lock_release(&held->lock, s);
                held = a;
                s = mm_lock_acquire(&a->lock);
            }
            buddy_free_block_locked(a, f->pfn, pcp_high_order(i));
        }
    }
    if (held)
        mm_lock_release(&held->lock, s);
}

bool pcp_pfn_cached(const struct arena *a, uint64_t pfn)
{
    if (frame_flags_get(arena_frame(a, pfn)) & FRAME_F_CACHED)
        return true;
    /* A cached head of order k >= o found at pfn rounded down to 2^o is 2^k
     * aligned and less than 2^o before pfn: its block contains pfn.  Every
     * order, not only the cached high orders: a block a refill took out of
     * the buddy lists is flagged CACHED with its order until the refill has
     * spread it into single frames. */
    for (unsigned o = 1; o <= MM_MAX_ORDER; o++) {
        uint64_t head = pfn & ~(((uint64_t)1 << o) - 1);
        if (head == pfn || head < a->base_pfn)
            continue;
        uint32_t fl = frame_flags_get(arena_frame(a, head));
        if ((fl & FRAME_F_CACHED) && FRAME_CACHED_ORDER(fl) >= o)
            return true;
    }
    return false;
}

bool pcp_release_local(const struct arena *a, uint64_t pfn)
{
    plat_irqstate_t s = plat_irq_save();
    unsigned cpu = plat_cpu_index();
    struct frame *found = NULL;
    unsigned order = 0;
    if (cpu < mm.max_cpus) {
        struct pcp *p = &mm_pcp[cpu];
        struct frame *target = arena_frame(a, pfn);
        for (struct frame **link = &p->head; *link; link = &(*link)->next)
            if (*link == target) {
                found = target;
                *link = target->next;
                pcp_count_add(p, -1);
                p->cold_marks = 0; /* the distances below it changed */
                break;
            }
        for (unsigned i = 0; i < PCP_HIGH_SLOTS && !found; i++) {
            uint64_t size = (uint64_t)1 << pcp_high_order(i);
            for (struct frame **link = &p->high_head[i]; *link; link = &(*link)->next)
                if (pfn - (*link)->pfn < size) {
                    found = *link;
                    order = pcp_high_order(i);
                    *link = found->next;
                    p->high_count[i]--;
                    break;
                }
        }
    }
    if (found)
        buddy_free_unit(found, order);
    plat_irq_restore(s);
    return found != NULL;
}

/* Caches [from, to) start empty with cfg, on the node numa_apply gave them. */
static void pcp_create(unsigned from, unsigned to, const struct pcp_config *cfg)
{
    for (unsigned cpu = from; cpu < to; cpu++) {
        struct pcp *p = &mm_pcp[cpu];
        uint16_t node = p->node, pref_node = p->pref_node;
        __builtin_memset(p, 0, sizeof *p);
        p->cpu = (uint16_t)cpu;
        p->node = node;
        p->pref_node = pref_node;
        pcp_apply(p, cfg);
    }
}

bool pcp_init(const struct pcp_config *cfg, char *err, size_t errlen)
{
    struct pcp_config eff;
    if (!pcp_geometry(cfg, mm.total_frames, mm.max_cpus, &eff, err, errlen))
        return false;
    pcp_create(0, mm.max_cpus, &eff);
    mm.pcp_cfg = eff;
    mm.pcp_derived = cfg->capacity == 0;
    antifrag_init();
    return true;
}

bool mm_pcp_configure(const struct pcp_config *cfg)
{
    char err[256];
    struct pcp_config eff;
    if (!mm.ready || !pcp_geometry(cfg, mm.total_frames, mm.max_cpus, &eff, err, sizeof err))
        return false;
    mm_pcp_drain_all();
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++)
        pcp_apply(&mm_pcp[cpu], &eff);
    mm.pcp_cfg = eff;
    mm.pcp_derived = cfg->capacity == 0;
    return true;
}

bool mm_set_cpus(unsigned cpus, const struct pcp_config *cfg, char *err, size_t errlen)
{
    struct pcp_config want = mm.pcp_cfg, eff;
    if (!mm.ready) {
        plat_snprintf(err, errlen, "mm_set_cpus before mm_init");
        return false;
    }
    if (cpus == 0 || cpus > PLAT_MAX_CPUS) {
        plat_snprintf(err, errlen, "CPU count %u outside 1..%u", cpus, PLAT_MAX_CPUS);
        return false;
    }
    if (cfg)
        want = *cfg;
    else if (mm.pcp_derived)
        want.capacity = want.batch = 0;
    if (!pcp_geometry(&want, mm.total_frames, cpus, &eff, err, errlen))
        return false;
    mm_pcp_drain_all();
    unsigned old = mm.max_cpus;
    mm.max_cpus = cpus;
    for (unsigned cpu = 0; cpu < old && cpu < cpus; cpu++)
        pcp_apply(&mm_pcp[cpu], &eff);
    if (cpus > old)
        pcp_create(old, cpus, &eff);
    mm.pcp_cfg = eff;
    mm.pcp_derived = want.capacity == 0;
    pcp_publish_all(); /* the CPUs beyond a smaller count */
    return true;
}

void mm_pcp_get_config(struct pcp_config *cfg)
{
    *cfg = mm.pcp_cfg;
}

void mm_pcp_drain_local(void)
{
    plat_irqstate_t s = plat_irq_save();
    unsigned cpu = plat_cpu_index();
    if (cpu < mm.max_cpus) {
        pcp_drain(&mm_pcp[cpu], mm_pcp[cpu].count);
        pcp_drain_high(&mm_pcp[cpu]);
    }
    plat_irq_restore(s);
}

void mm_pcp_drain_all(void)
{
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++) {
        pcp_drain(&mm_pcp[cpu], mm_pcp[cpu].count);
        pcp_drain_high(&mm_pcp[cpu]);
    }
}

void mm_pcp_stats(unsigned cpu, struct pcp_stats *out)
{
    __builtin_memset(out, 0, sizeof *out);
    if (cpu >= mm.max_cpus)
        return;
    const struct pcp *p = &mm_pcp[cpu];
    out->hits = p->hits;
    out->misses = p->misses;
    out->refills = p->refills;
    out->drains = p->drains;
    out->frees = pcp_frees(p);
    out->remote_frees = p->remote_frees;
    out->cached = pcp_cached_frames(p);
    out->high_hits = p->high_hits;
    out->high_misses = p->high_misses;
    out->local_refills = p->local_refills;
    out->remote_refills = p->remote_refills;
    out->remote_refill_frames = p->remote_refill_frames;
    out->remote_buddy_allocs = p->remote_buddy_allocs;
}

void mm_pcp_stats_reset(void)
{
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++) {
        struct pcp *p = &mm_pcp[cpu];
        p->hits = p->misses = p->refills = p->drains = p->remote_frees = 0;
        p->count_base = p->count; /* frees: counted from here (pcp_frees) */
        p->count_moved = 0;
        p->cold_marks = 0; /* their validity counts hits + misses */
        p->high_hits = p->high_misses = 0;
        p->local_refills = p->remote_refills = p->remote_refill_frames = 0;
        p->remote_buddy_allocs = 0;
    }
}
