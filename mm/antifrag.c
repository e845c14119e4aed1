/*
 * antifrag.c - the anti-fragmentation policy: each CPU's small allocations
 * are cut from one 2 MiB block at a time, so that a long-running mix of
 * short- and long-lived frames leaves whole 2 MiB blocks behind.
 *
 * Why memory ages without it: a cache refill takes the smallest free blocks
 * wherever the buddy lists hold them (buddy_take_locked), so one batch of 64
 * frames comes from holes all over memory, and every CPU's cache, recycled
 * LIFO, mixes frames of many 2 MiB blocks.  A frame that happens to live long
 * then pins a block that would otherwise coalesce; after enough churn nearly
 * every block holds one (bench=frag measures it).
 *
 * The policy, after LLFree's per-core reserved subtrees:
 *
 *   reservation  each CPU names one 2 MiB-aligned region (an order-9 block
 *                position) as its own; its refills claim the free frames of
 *                that region in address order (buddy_claim_locked, frame by
 *                frame, under the arena lock) from a cursor that only moves
 *                forward.  When the cursor reaches the region's end the
 *                reservation lapses and the next refill reserves another.
 *   choice       a new refill region is the one around a free block of the
 *                smallest order that no other reservation holds: a region
 *                with a small hole is a nearly full one, so new allocations
 *                fill the holes of blocks that are pinned anyway before they
 *                break a whole one.  Only when no order below 9 is free does
 *                a CPU take a wholly free block.
 *   lifetimes    units allocated with FRAME_LONG_LIVED (Linux's unmovable
 *                pages: the caller knows) bypass the caches and are cut, in
 *                address order, from a second per-CPU region that starts
 *                wholly free, so long-lived units fill regions of their own
 *                instead of pinning every region the short-lived churn
 *                passes through.  Without the hint no placement can tell
 *                the two apart: the refill policy alone left exactly as many
 *                free 2 MiB blocks as the buddy's smallest-first refills
 *                (bench=frag, SMP=4: 0.41 of the ideal both), because the
 *                damage is done by long-lived frames taken at random moments
 *                from caches that hold everything.
 *   high orders  a miss of a cached high order below 9 (1..3) is cut from
 *                the refill region too: left to the buddy's smallest-first
 *                choice it would take exactly the free remainder of the
 *                regions this policy is filling.
 *   drains       a full cache (pcp_drain_full) gives back the frames that lie
 *                outside this CPU's region first -- mostly frames other CPUs
 *                allocated and this one freed -- so they return to their own
 *                block, and keeps those of its region to recycle locally.
 *
 * A reservation is a name, not an ownership: the region's free frames stay
 * in the buddy free lists until a refill claims them, so nothing is stranded
 * and nothing needs reclaiming -- another CPU's refill, a high-order or
 * contiguous allocation may take them at any time, and out-of-memory is
 * reported exactly when it was before (the buddy lists and the caches are
 * empty: pcp_refill falls back to buddy_take_locked when the region has run
 * dry, and the reclaim of pcp.c is unchanged).  A region is taken and given
 * up under its arena's lock, and the choice reads the other CPUs'
 * reservations under that lock too, so no region is ever reserved twice
 * (mm_check verifies it); the fields are relaxed atomics only because
 * mm_antifrag_stats reads them without the lock.
 *
 * Cost: the hit paths (frame.c) do not look at the policy, and with it off
 * the miss and drain paths pay one load of the switch.  A refill reads up to
 * the rest of its region's 512 metadata slots (one per frame it scans, up
 * to MM_MAX_ORDER + 1 more for a frame it cannot claim); choosing a region
 * reads at most AF_CANDIDATES free-list entries plus AF_SKIP_PER_CPU per
 * reservation it passes over, and for each every CPU's two reservations.
 * A full-cache drain walks the cache once.
 *
 * Switching (mm_antifrag_set) happens at a quiescent point: it drains every
 * cache and forgets every reservation, so policy off is exactly the
 * allocator without this file.  mm_check verifies the reservations
 * (antifrag_check).
 */
#include "mm/mm_int.h"

#define AF_REGION_ORDER 9 /* 2 MiB: the huge page the policy protects */
#define AF_REGION_FRAMES ((uint64_t)1 << AF_REGION_ORDER)
/* Free-list entries a new reservation considers, smallest order first,
 * besides those in regions other CPUs hold (which it passes over). */
#define AF_CANDIDATES 16
/* Entries of other CPUs' regions it passes over, per reserving CPU: a
 * region freshly cut from the top has one free block per order below 9. */
#define AF_SKIP_PER_CPU (AF_REGION_ORDER + 1)
/* Regions one refill may go through before falling back to the buddy. */
#define AF_REGIONS_PER_REFILL 4

_Static_assert(AF_REGION_ORDER <= MM_MAX_ORDER, "the region is a buddy block");

bool mm_antifrag_on;

/* One reservation: the region a CPU cuts one kind of allocation from. */
struct af_res {
    /* First pfn of the region + 1, or 0.  Written under the region's arena
     * lock (or at a quiescent point), read by CPUs choosing a region under
     * that lock. */
    _Atomic uint64_t region;
    /* Written by the owning CPU only (interrupts off). */
    uint64_t cursor;   /* next pfn to claim from */
    unsigned arena;    /* arena of the region */
};

struct af_cpu {
    struct af_res small;  /* cache refills */
    struct af_res lng;    /* FRAME_LONG_LIVED units */
    uint64_t reservations, region_frames, fallback_frames, foreign_drained, long_frames;
} __cacheline_aligned;

static struct af_cpu af_cpu[PLAT_MAX_CPUS];

/* One more than the highest CPU index that has reserved a region since the
 * last switch: the choice looks at no CPU beyond it (1024 loads per
 * candidate otherwise).  Raised before that CPU's first reservation. */
static _Atomic unsigned af_cpu_limit;

static void af_raise_limit(unsigned cpu)
{
    unsigned cur = atomic_load_explicit(&af_cpu_limit, memory_order_relaxed);
    while (cur <= cpu && !atomic_compare_exchange_weak_explicit(
                             &af_cpu_limit, &cur, cpu + 1, memory_order_relaxed,
                             memory_order_relaxed))
        ;
}

static uint64_t af_region_of(uint64_t pfn)
{
    return pfn & ~(AF_REGION_FRAMES - 1);
}

/* Whether a reservation other than `self` names region. */
static bool af_reserved_by_other(uint64_t region, const struct af_res *self)
{
    for (unsigned cpu = 0, n = atomic_load_explicit(&af_cpu_limit, memory_order_relaxed);
         cpu < n; cpu++) {
        const struct af_res *rs[2] = {&af_cpu[cpu].small, &af_cpu[cpu].lng};
        for (unsigned k = 0; k < 2; k++)
            if (rs[k] != self &&
                atomic_load_explicit(&rs[k]->region, memory_order_relaxed) == region + 1)
                return true;
    }
    return false;
}

/* Under a's lock: a region of a no other reservation holds, false when a
 * has none within the scan bound.  Refills take nearly full regions first
 * (the smallest free blocks), long-lived units wholly free ones first (the
 * free blocks of order >= 9), so that they fill regions of their own. */
static bool af_choose_locked(struct arena *a, const struct af_res *self, bool whole_first,
                             uint64_t *region)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    unsigned seen = 0;
    unsigned budget = AF_CANDIDATES + 2 * AF_SKIP_PER_CPU *
                                          atomic_load_explicit(&af_cpu_limit, memory_order_relaxed);
    for (unsigned k = 0; k <= MM_MAX_ORDER && seen < budget; k++) {
        unsigned o = whole_first ? (k + AF_REGION_ORDER) % (MM_MAX_ORDER + 1) : k;
        for (struct frame *f = a->free_head[o]; f && seen < budget; f = f->next, seen++) {
            uint64_t r = af_region_of(f->pfn);
            if (!af_reserved_by_other(r, self)) {
                *region = r;
                return true;
            }
        }
    }
    return false;
}

/* Reserves a new region for res, a reservation of cpu (interrupts off, on
 * cpu); false when no arena has one to give. */
static bool af_reserve(struct af_cpu *c, struct af_res *res, unsigned cpu)
{
    /* Before the lock: a CPU choosing under it then sees this one's
     * reservation (the lock orders the store below after the raise). */
    af_raise_limit(cpu);
    for (unsigned i = mm.n_arenas; i-- > 0;) {
        struct arena *a = &mm_arenas[i];
        uint64_t r;
        plat_irqstate_t s = mm_lock_acquire(&a->lock);
        bool ok = af_choose_locked(a, res, res == &c->lng, &r);
        if (ok) {
            res->arena = i;
            res->cursor = r;
            c->reservations++;
            atomic_store_explicit(&res->region, r + 1, memory_order_relaxed);
        }
        mm_lock_release(&a->lock, s);
        if (ok)
            return true;
    }
    return false;
}

/* Under a's lock: takes the free aligned block of 2^order frames at pfn off
 * the free lists, frame by frame (buddy_claim_locked splits whatever free
 * block holds each); false, with nothing taken, when any of it is not free. */
static bool af_claim_locked(struct arena *a, uint64_t pfn, unsigned order)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    uint64_t n = (uint64_t)1 << order, i;
    for (i = 0; i < n; i++) {
        /* Allocated, cached and reserved frames are not free; a frame with
         * flags 0 may lie inside a free block (or inside an allocated unit:
         * the claim then finds no free head). */
        if (frame_flags_get(arena_frame(a, pfn + i)) &
            (FRAME_F_ALLOCATED | FRAME_F_CACHED | FRAME_F_RESERVED))
            break;
        if (!buddy_claim_locked(a, pfn + i))
            break;
    }
    if (i == n)
        return true;
    while (i-- > 0)
        buddy_free_block_locked(a, pfn + i, 0);
    return false;
}

/* The cut of one reservation: calls take(a, pfn, arg) under the region's
 * arena lock for each aligned 2^order position from the cursor on, until it
 * returns false (enough) or the region ends; moves to a new region at most
 * AF_REGIONS_PER_REFILL times.  Returns whether take was satisfied. */
static bool af_cut(struct af_cpu *c, struct af_res *res, unsigned cpu, unsigned order,
                   bool (*take)(struct arena *a, uint64_t pfn, unsigned order, void *arg),
                   void *arg)
{
    uint64_t size = (uint64_t)1 << order;
    for (unsigned tries = 0; tries < AF_REGIONS_PER_REFILL; tries++) {
        uint64_t r = atomic_load_explicit(&res->region, memory_order_relaxed);
        if (r == 0) {
            if (!af_reserve(c, res, cpu))
                return false;
            r = atomic_load_explicit(&res->region, memory_order_relaxed);
        }
        struct arena *a = &mm_arenas[res->arena];
        uint64_t start = r - 1, end = start + AF_REGION_FRAMES;
        if (end > a->end_pfn)
            end = a->end_pfn;
        uint64_t pfn = res->cursor > a->base_pfn ? res->cursor : a->base_pfn;
        pfn = (pfn + size - 1) & ~(size - 1);
        bool more = true;
        plat_irqstate_t s = mm_lock_acquire(&a->lock);
        for (; pfn + size <= end && more; pfn += size)
            more = take(a, pfn, order, arg);
        res->cursor = pfn;
        if (pfn + size > end) /* the region is used up: the next cut reserves another */
            atomic_store_explicit(&res->region, 0, memory_order_relaxed);
        mm_lock_release(&a->lock, s);
        if (!more)
            return true;
    }
    return false;
}

struct af_refill {
    uint64_t want, got;
    struct frame **chain;
};

static bool af_take_refill(struct arena *a, uint64_t pfn, unsigned order, void *arg)
{
    struct af_refill *rf = arg;
    if (af_claim_locked(a, pfn, order)) {
        struct frame *f = arena_frame(a, pfn);
        /* In transit to the cache, as buddy_take_locked marks its blocks. */
        f->order = 0;
        frame_flags_set(f, FRAME_F_CACHED | frame_debug_bits(f));
        f->next = *rf->chain;
        *rf->chain = f;
        rf->got++;
    }
    return rf->got < rf->want;
}

uint64_t antifrag_refill(struct pcp *p, uint64_t want, struct frame **chain)
{
    unsigned cpu = (unsigned)(p - mm_pcp);
    struct af_cpu *c = &af_cpu[cpu];
    struct af_refill rf = {.want = want, .chain = chain};
    af_cut(c, &c->small, cpu, 0, af_take_refill, &rf);
    c->region_frames += rf.got;
    c->fallback_frames += want - rf.got;
    return rf.got;
}

static bool af_take_unit(struct arena *a, uint64_t pfn, unsigned order, void *arg)
{
    struct frame **out = arg;
    if (!af_claim_locked(a, pfn, order))
        return true;
    *out = arena_frame(a, pfn);
    return false;
}

struct frame *antifrag_alloc_unit(struct pcp *p, unsigned order, bool long_lived)
{
    /* Order 9 is the region itself: cutting it would be reserving it. */
    if (!mm_antifrag_on || order >= AF_REGION_ORDER)
        return NULL;
    unsigned cpu = (unsigned)(p - mm_pcp);
    struct af_cpu *c = &af_cpu[cpu];
    struct frame *f = NULL;
    if (!af_cut(c, long_lived ? &c->lng : &c->small, cpu, order, af_take_unit, &f))
        return NULL;
    if (long_lived)
        c->long_frames += (uint64_t)1 << order;
    else
        c->region_frames += (uint64_t)1 << order;
    return f;
}

bool antifrag_drain(struct pcp *p, uint32_t n)
{
    if (!mm_antifrag_on)
        return false;
    struct af_cpu *c = &af_cpu[p - mm_pcp];
    uint64_t r = atomic_load_explicit(&c->small.region, memory_order_relaxed);
    /* Move up to n frames of other regions to the cold end of the list, in
     * their order, and let pcp_drain take n from the cold end: those first,
     * then the coldest of this CPU's own.  The move reorders the list, so
     * the drain's cold-end marks (pcp.c) no longer hold. */
    struct frame *moved = NULL, **tail = &moved;
    struct frame **link = &p->head;
    uint32_t found = 0;
    while (*link) {
        struct frame *f = *link;
        if (found == n || (r != 0 && af_region_of(f->pfn) == r - 1)) {
            link = &f->next;
            continue;
        }
        *link = f->next;
        *tail = f;
        tail = &f->next;
        found++;
    }
    *tail = NULL;
    *link = moved; /* link: the end of what stayed */
    p->cold_marks = 0;
    c->foreign_drained += found;
    pcp_drain(p, n);
    return true;
}

void antifrag_init(void)
{
    mm_antifrag_on = false;
    __builtin_memset(af_cpu, 0, sizeof af_cpu);
    atomic_store_explicit(&af_cpu_limit, 0, memory_order_relaxed);
}

bool mm_antifrag_set(bool on)
{
    if (!mm.ready)
        return false;
    mm_pcp_drain_all();
    for (unsigned cpu = 0; cpu < PLAT_MAX_CPUS; cpu++) {
        atomic_store_explicit(&af_cpu[cpu].small.region, 0, memory_order_relaxed);
        atomic_store_explicit(&af_cpu[cpu].lng.region, 0, memory_order_relaxed);
    }
    atomic_store_explicit(&af_cpu_limit, 0, memory_order_relaxed);
    mm_antifrag_on = on;
    return true;
}

bool mm_antifrag_enabled(void)
{
    return mm_antifrag_on;
}

void mm_antifrag_stats(struct mm_antifrag_stats *out)
{
    __builtin_memset(out, 0, sizeof *out);
    out->enabled = mm_antifrag_on;
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++) {
        const struct af_cpu *c = &af_cpu[cpu];
        out->reserved_regions +=
            (atomic_load_explicit(&c->small.region, memory_order_relaxed) != 0) +
            (atomic_load_explicit(&c->lng.region, memory_order_relaxed) != 0);
        out->reservations += c->reservations;
        out->region_frames += c->region_frames;
        out->fallback_frames += c->fallback_frames;
        out->foreign_drained += c->foreign_drained;
        out->long_frames += c->long_frames;
    }
}

bool mm_antifrag_reserved(unsigned cpu, bool long_lived, uint64_t *pa)
{
    if (cpu >= mm.max_cpus)
        return false;
    const struct af_res *res = long_lived ? &af_cpu[cpu].lng : &af_cpu[cpu].small;
    uint64_t r = atomic_load_explicit(&res->region, memory_order_relaxed);
    if (r == 0)
        return false;
    *pa = (r - 1) << PAGE_SHIFT;
    return true;
}

static bool af_check_res(unsigned cpu, const struct af_res *res, const char *kind, char *err,
                         size_t errlen)
{
    uint64_t r = atomic_load_explicit(&res->region, memory_order_relaxed);
    if (r == 0)
        return true;
    uint64_t start = r - 1;
    unsigned long long pa = (unsigned long long)(start << PAGE_SHIFT);
    if (!mm_antifrag_on) {
        plat_snprintf(err, errlen, "cpu %u reserves the %s region at pa %#llx with the "
                      "anti-fragmentation policy off", cpu, kind, pa);
        return false;
    }
    if (cpu >= mm.max_cpus || start & (AF_REGION_FRAMES - 1) || res->arena >= mm.n_arenas ||
        start + AF_REGION_FRAMES <= mm_arenas[res->arena].base_pfn ||
        start >= mm_arenas[res->arena].end_pfn) {
        plat_snprintf(err, errlen, "cpu %u: %s region at pa %#llx is not a 2 MiB block of "
                      "arena %u (or the CPU has no cache)", cpu, kind, pa, res->arena);
        return false;
    }
    if (res->cursor < start || res->cursor > start + AF_REGION_FRAMES) {
        plat_snprintf(err, errlen, "cpu %u: %s cursor pfn %#llx outside its region at pa %#llx",
                      cpu, kind, (unsigned long long)res->cursor, pa);
        return false;
    }
    if (af_reserved_by_other(start, res) ||
        (cpu >= atomic_load_explicit(&af_cpu_limit, memory_order_relaxed))) {
        plat_snprintf(err, errlen, "cpu %u: %s region at pa %#llx is reserved twice (or by a "
                      "CPU beyond the reservation limit)", cpu, kind, pa);
        return false;
    }
    return true;
}

bool antifrag_check(char *err, size_t errlen)
{
    for (unsigned cpu = 0; cpu < PLAT_MAX_CPUS; cpu++)
        if (!af_check_res(cpu, &af_cpu[cpu].small, "refill", err, errlen) ||
            !af_check_res(cpu, &af_cpu[cpu].lng, "long-lived", err, errlen))
            return false;
    return true;
}
