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
 *   choice       a new region is the one around a free block of the
 *                smallest order that no other CPU has reserved: a region
 *                with a small hole is a nearly full one, so new allocations
 *                fill the holes of blocks that are pinned anyway before they
 *                break a whole one.  Only when no order below 9 is free does
 *                a CPU take a wholly free block.
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
 * reservations under that lock too, so no two CPUs ever reserve one region
 * (mm_check verifies it); the fields are relaxed atomics only because
 * mm_antifrag_stats reads them without the lock.
 *
 * Cost: the hit paths (frame.c) do not look at the policy.  A refill reads
 * up to the rest of its region's 512 metadata slots (one per frame it scans,
 * up to MM_MAX_ORDER + 1 more for a frame it cannot claim); choosing a
 * region reads at most AF_CANDIDATES free-list entries and, for each, every
 * CPU's reservation.  A full-cache drain walks the cache once.
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

struct af_cpu {
    /* First pfn of the reserved region + 1, or 0: read by other CPUs choosing
     * a region (relaxed: see above). */
    _Atomic uint64_t region;
    /* Written by the owning CPU only (interrupts off). */
    uint64_t cursor;   /* next pfn to claim from */
    unsigned arena;    /* arena of the region */
    uint64_t reservations, region_frames, fallback_frames, foreign_drained;
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

static bool af_reserved_by_other(uint64_t region, unsigned self)
{
    for (unsigned cpu = 0, n = atomic_load_explicit(&af_cpu_limit, memory_order_relaxed);
         cpu < n; cpu++)
        if (cpu != self &&
            atomic_load_explicit(&af_cpu[cpu].region, memory_order_relaxed) == region + 1)
            return true;
    return false;
}

/* Under a's lock: a region of a no other CPU has reserved, nearly full ones
 * first; false when a has no free frame outside other CPUs' regions. */
static bool af_choose_locked(struct arena *a, unsigned self, uint64_t *region)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    unsigned seen = 0;
    unsigned budget = AF_CANDIDATES +
                      AF_SKIP_PER_CPU * atomic_load_explicit(&af_cpu_limit, memory_order_relaxed);
    for (unsigned o = 0; o <= MM_MAX_ORDER && seen < budget; o++) {
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

/* Reserves a new region for cpu (interrupts off, on cpu); false when no
 * arena has one to give. */
static bool af_reserve(struct af_cpu *c, unsigned cpu)
{
    /* Before the lock: a CPU choosing under it then sees this one's
     * reservation (the lock orders the store below after the raise). */
    af_raise_limit(cpu);
    for (unsigned i = mm.n_arenas; i-- > 0;) {
        struct arena *a = &mm_arenas[i];
        uint64_t r;
        plat_irqstate_t s = mm_lock_acquire(&a->lock);
        bool ok = af_choose_locked(a, cpu, &r);
        if (ok) {
            c->arena = i;
            c->cursor = r;
            c->reservations++;
            atomic_store_explicit(&c->region, r + 1, memory_order_relaxed);
        }
        mm_lock_release(&a->lock, s);
        if (ok)
            return true;
    }
    return false;
}

uint64_t antifrag_refill(struct pcp *p, uint64_t want, struct frame **chain)
{
    unsigned cpu = (unsigned)(p - mm_pcp);
    struct af_cpu *c = &af_cpu[cpu];
    uint64_t got = 0;
    for (unsigned tries = 0; got < want && tries < AF_REGIONS_PER_REFILL; tries++) {
        uint64_t r = atomic_load_explicit(&c->region, memory_order_relaxed);
        if (r == 0) {
            if (!af_reserve(c, cpu))
                break;
            r = atomic_load_explicit(&c->region, memory_order_relaxed);
        }
        struct arena *a = &mm_arenas[c->arena];
        uint64_t start = r - 1, end = start + AF_REGION_FRAMES;
        if (end > a->end_pfn)
            end = a->end_pfn;
        uint64_t pfn = c->cursor > a->base_pfn ? c->cursor : a->base_pfn;
        plat_irqstate_t s = mm_lock_acquire(&a->lock);
        for (; pfn < end && got < want; pfn++) {
            struct frame *f = arena_frame(a, pfn);
            /* Allocated, cached and reserved frames are not free; a frame
             * with flags 0 may lie inside a free block (or inside an
             * allocated unit: the claim then finds no free head). */
            if (frame_flags_get(f) & (FRAME_F_ALLOCATED | FRAME_F_CACHED | FRAME_F_RESERVED))
                continue;
            if (!buddy_claim_locked(a, pfn))
                continue;
            /* In transit to the cache, as buddy_take_locked marks its blocks. */
            f->order = 0;
            frame_flags_set(f, FRAME_F_CACHED | frame_debug_bits(f));
            f->next = *chain;
            *chain = f;
            got++;
        }
        c->cursor = pfn;
        if (pfn >= end) /* the region is used up: the next refill reserves another */
            atomic_store_explicit(&c->region, 0, memory_order_relaxed);
        mm_lock_release(&a->lock, s);
    }
    c->region_frames += got;
    c->fallback_frames += want - got;
    return got;
}

bool antifrag_drain(struct pcp *p, uint32_t n)
{
    if (!mm_antifrag_on)
        return false;
    struct af_cpu *c = &af_cpu[p - mm_pcp];
    uint64_t r = atomic_load_explicit(&c->region, memory_order_relaxed);
    struct arena *held = NULL;
    plat_irqstate_t s = 0;
    uint32_t drained = 0;
    for (struct frame **link = &p->head; *link && drained < n;) {
        struct frame *f = *link;
        if (r != 0 && af_region_of(f->pfn) == r - 1) {
            link = &f->next;
            continue;
        }
        *link = f->next;
        p->count--;
        drained++;
        struct arena *a = frame_arena(f);
        if (a != held) {
            if (held)
                mm_lock_release(&held->lock, s);
            held = a;
            s = mm_lock_acquire(&a->lock);
        }
        buddy_free_block_locked(a, f->pfn, 0);
    }
    if (held)
        mm_lock_release(&held->lock, s);
    c->foreign_drained += drained;
    if (drained)
        p->drains++;
    if (drained < n) /* the rest from the top, as pcp_drain does */
        pcp_drain(p, n - drained);
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
    for (unsigned cpu = 0; cpu < PLAT_MAX_CPUS; cpu++)
        atomic_store_explicit(&af_cpu[cpu].region, 0, memory_order_relaxed);
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
        out->reserved_regions += atomic_load_explicit(&c->region, memory_order_relaxed) != 0;
        out->reservations += c->reservations;
        out->region_frames += c->region_frames;
        out->fallback_frames += c->fallback_frames;
        out->foreign_drained += c->foreign_drained;
    }
}

bool mm_antifrag_reserved(unsigned cpu, uint64_t *pa)
{
    if (cpu >= mm.max_cpus)
        return false;
    uint64_t r = atomic_load_explicit(&af_cpu[cpu].region, memory_order_relaxed);
    if (r == 0)
        return false;
    *pa = (r - 1) << PAGE_SHIFT;
    return true;
}

bool antifrag_check(char *err, size_t errlen)
{
    for (unsigned cpu = 0; cpu < PLAT_MAX_CPUS; cpu++) {
        const struct af_cpu *c = &af_cpu[cpu];
        uint64_t r = atomic_load_explicit(&c->region, memory_order_relaxed);
        if (r == 0)
            continue;
        uint64_t start = r - 1;
        if (!mm_antifrag_on) {
            plat_snprintf(err, errlen, "cpu %u reserves the region at pa %#llx with the "
                          "anti-fragmentation policy off", cpu,
                          (unsigned long long)(start << PAGE_SHIFT));
            return false;
        }
        if (cpu >= mm.max_cpus || start & (AF_REGION_FRAMES - 1) || c->arena >= mm.n_arenas ||
            start + AF_REGION_FRAMES <= mm_arenas[c->arena].base_pfn ||
            start >= mm_arenas[c->arena].end_pfn) {
            plat_snprintf(err, errlen, "cpu %u: reserved region at pa %#llx is not a 2 MiB "
                          "block of arena %u (or the CPU has no cache)", cpu,
                          (unsigned long long)(start << PAGE_SHIFT), c->arena);
            return false;
        }
        if (c->cursor < start || c->cursor > start + AF_REGION_FRAMES) {
            plat_snprintf(err, errlen, "cpu %u: cursor pfn %#llx outside its region at pa %#llx",
                          cpu, (unsigned long long)c->cursor,
                          (unsigned long long)(start << PAGE_SHIFT));
            return false;
        }
        for (unsigned other = 0; other < cpu; other++)
            if (atomic_load_explicit(&af_cpu[other].region, memory_order_relaxed) == r) {
                plat_snprintf(err, errlen, "cpus %u and %u reserve the same region at pa %#llx",
                              other, cpu, (unsigned long long)(start << PAGE_SHIFT));
                return false;
            }
    }
    return true;
}
