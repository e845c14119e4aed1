/*
 * buddy.c - the global allocator: per-arena buddy free lists, orders
 * 0..MM_MAX_ORDER, under the arena's TTAS spinlock (mm_int.h says why not FIFO).
 *
 * Blocks are naturally aligned in absolute PFNs (an order-9 block is a
 * 2 MiB-aligned physical range, usable as a huge page), so the buddy of block
 * (pfn, o) is pfn ^ 2^o.  Arenas need not be aligned: a buddy outside the
 * arena's span is never free, so edge blocks simply stop coalescing at the
 * edge, and mm_init frees each range as maximal aligned blocks.  Reserved
 * frames inside a span are never free either, so they split the span the
 * same way.
 *
 * Only the head of a free block carries state (FRAME_F_FREE, its order, the
 * list links); the frames behind it keep flags 0 and refcount UNUSED, so
 * split and coalesce touch one slot per step and an order-9 allocation costs
 * the same as an order-0 one.
 *
 * Invariants (verified by buddy_verify_locked, after every operation in the
 * MM_DEBUG build): each list entry is a FREE head of that order, aligned, in
 * the span, linked both ways; list lengths match free_blocks[]; free_mask has
 * bit o exactly when list o is non-empty; free_frames is the sum; no free
 * block has a free buddy of the same order.
 *
 * Every function here that touches the lists is *_locked and asserts the
 * arena lock first (mm_int.h: always in the extern ones, in the MM_DEBUG
 * build in the static helpers); the frame states outside the lists are
 * frame.c's business.
 *
 * The reserve (Linux's min watermark, FreeBSD's interrupt/system classes):
 * each arena keeps reserve_frames free for the allocations that must not
 * fail (FRAME_RESERVE).  Ordinary allocations - refills, buddy_alloc_any,
 * contiguous runs - stop where taking more would leave fewer free frames
 * than that; buddy_alloc_reserve, which frame.c calls only for FRAME_RESERVE
 * after the ordinary paths found nothing, may go down to zero.  The check is
 * one compare under the lock on those global paths; cache hits never see it
 * (the frames in a cache are above the watermark by construction).
 *
 * Size (Linux's min_free_kbytes rule, so a grown machine keeps a reserve
 * that grows more slowly than its memory): sqrt(16 x managed KiB) KiB,
 * at least 128 KiB, at most 64 MiB and at most 1/16 of memory, split
 * across the arenas in proportion to their managed frames: 1 GiB -> 4 MiB
 * (0.4 %), 64 MiB -> 1 MiB, 16 GiB -> 16 MiB.  A reserve is a floor, not a
 * pool: whichever frames happen to be free below the watermark serve it.
 */
#include "mm/mm_int.h"

#define MM_RESERVE_MIN_KIB 128u
#define MM_RESERVE_MAX_KIB (64u << 10)

_Atomic uint64_t mm_reserve_allocs, mm_reserve_failures;

static uint64_t isqrt(uint64_t x)
{
    uint64_t r = 0;
    for (uint64_t bit = (uint64_t)1 << 62; bit; bit >>= 2) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
    }
    return r;
}

uint64_t buddy_reserve_size(uint64_t frames)
{
    uint64_t kib = isqrt(16 * frames * (PAGE_SIZE >> 10));
    if (kib < MM_RESERVE_MIN_KIB)
        kib = MM_RESERVE_MIN_KIB;
    if (kib > MM_RESERVE_MAX_KIB)
        kib = MM_RESERVE_MAX_KIB;
    uint64_t n = kib / (PAGE_SIZE >> 10);
    return n < frames / 16 ? n : frames / 16;
}

void buddy_reserve_init(void)
{
    uint64_t total = buddy_reserve_size(mm.total_frames);
    for (unsigned i = 0; i < mm.n_arenas; i++)
        mm_arenas[i].reserve_frames = mm.total_frames
                                          ? total * mm_arenas[i].managed_frames / mm.total_frames
                                          : 0;
    atomic_store_explicit(&mm_reserve_allocs, 0, memory_order_relaxed);
    atomic_store_explicit(&mm_reserve_failures, 0, memory_order_relaxed);
}

/* Frames an ordinary allocation may still take from a. */
static inline uint64_t above_reserve_locked(const struct arena *a)
{
    return a->free_frames > a->reserve_frames ? a->free_frames - a->reserve_frames : 0;
}

/* A contiguous request with an alignment larger than its size first looks
 * for a smaller free block that happens to be aligned; the scan is bounded to
 * keep lock hold times flat. */
#define CONTIG_SCAN_LIMIT 64
/* Max-order positions a large contiguous request examines per lock hold. */
#define CONTIG_SCAN_CHUNK 64

#if MM_DEBUG
static void buddy_debug_verify_locked(struct arena *a)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    char err[200];
    if (!buddy_verify_locked(a, err, sizeof err))
        PANIC("%s: arena %u free lists corrupt: %s", __func__, a->index, err);
}
#else
static inline void buddy_debug_verify_locked(struct arena *a) { (void)a; }
#endif

/* The list operations are inline in every caller: on the buddy path of an
 * allocation or a free they are most of the work done under the lock, and a
 * call would add its own register saves to each. */
static inline __attribute__((always_inline)) void freelist_push_locked(struct arena *a,
                                                                       struct frame *f,
                                                                       unsigned order)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    f->order = (uint8_t)order;
    f->prev = NULL;
    f->next = a->free_head[order];
    if (f->next)
        f->next->prev = f;
    a->free_head[order] = f;
    a->free_blocks[order]++;
    a->free_frames += (uint64_t)1 << order;
    a->free_mask |= 1u << order;
    frame_flags_set(f, FRAME_F_FREE | frame_debug_bits(f));
}

static inline __attribute__((always_inline)) void freelist_remove_locked(struct arena *a,
                                                                         struct frame *f,
                                                                         unsigned order)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    if (f->prev)
        f->prev->next = f->next;
    else
        a->free_head[order] = f->next;
    if (f->next)
        f->next->prev = f->prev;
    a->free_blocks[order]--;
    a->free_frames -= (uint64_t)1 << order;
    if (a->free_head[order] == NULL)
        a->free_mask &= ~(1u << order);
    frame_flags_set(f, frame_debug_bits(f));
}

/* buddy_alloc_block_locked's body, for the callers that took the lock
 * themselves (alloc_any): inline, so that the buddy path of an allocation
 * makes no call, and no register spills, inside its lock hold. */
static inline __attribute__((always_inline)) struct frame *block_alloc_locked(struct arena *a,
                                                                              unsigned order)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    uint32_t m = a->free_mask >> order;
    if (m == 0)
        return NULL;
    unsigned o = order + (unsigned)__builtin_ctz(m);
    struct frame *f = a->free_head[o];
    freelist_remove_locked(a, f, o);
    while (o > order) { /* keep the lower half, free the upper */
        o--;
        freelist_push_locked(a, f + ((size_t)1 << o), o);
    }
    buddy_debug_verify_locked(a);
    return f;
}

struct frame *buddy_alloc_block_locked(struct arena *a, unsigned order)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    return block_alloc_locked(a, order);
}

/* f heads a block of 2^order frames going back to the lists: coalesced
 * with each free buddy, then pushed.  Inline in buddy_free_unit, where it is
 * the work done under the lock of a unit's free and a call would add its
 * register saves to it; the *_locked callers, which run it once per block
 * inside one hold, share the out-of-line copy below (its body needs more
 * registers than they otherwise save).  The buddy's slot is the window's
 * (mm_int.h: mm_frame_of_pfn, the same slot as arena_frame's), so the
 * lookup reads no arena field but the span's ends. */
static inline __attribute__((always_inline)) void insert_locked(struct arena *a, struct frame *f,
                                                                unsigned order)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    uint64_t pfn = f->pfn;
    frame_flags_set(f, frame_debug_bits(f));
    while (order < MM_MAX_ORDER) {
        uint64_t bpfn = pfn ^ ((uint64_t)1 << order);
        if (bpfn < a->base_pfn || bpfn >= a->end_pfn)
            break;
        struct frame *b = mm_frame_of_pfn(bpfn);
        /* FREE is set and cleared only under this lock, so when we see it,
         * order and links are the lock holders' too. */
        if (!(frame_flags_get(b) & FRAME_F_FREE) || b->order != order)
            break;
        freelist_remove_locked(a, b, order);
        pfn &= ~((uint64_t)1 << order);
        order++;
    }
    freelist_push_locked(a, mm_frame_of_pfn(pfn), order);
}

static __attribute__((noinline)) void buddy_insert_locked(struct arena *a, struct frame *f,
                                                          unsigned order)
{
    insert_locked(a, f, order);
}

void buddy_free_block_locked(struct arena *a, uint64_t pfn, unsigned order)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    buddy_insert_locked(a, arena_frame(a, pfn), order);
    buddy_debug_verify_locked(a);
}

void buddy_free_range_locked(struct arena *a, uint64_t pfn, uint64_t n)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    while (n) {
        unsigned o = pfn ? (unsigned)__builtin_ctzll(pfn) : MM_MAX_ORDER;
        if (o > MM_MAX_ORDER)
            o = MM_MAX_ORDER;
        if (((uint64_t)1 << o) > n)
            o = mm_ilog2(n);
        buddy_insert_locked(a, arena_frame(a, pfn), o);
        pfn += (uint64_t)1 << o;
        n -= (uint64_t)1 << o;
    }
    buddy_debug_verify_locked(a);
}

uint64_t buddy_take_locked(struct arena *a, uint64_t want, struct frame **chain)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    uint64_t got = 0;
    if (want > above_reserve_locked(a))
        want = above_reserve_locked(a);
    /* Smallest blocks first: a refill should not break a large block while
     * small ones are free. */
    while (got < want && a->free_mask) {
        unsigned o = (unsigned)__builtin_ctz(a->free_mask);
        struct frame *f = a->free_head[o];
        freelist_remove_locked(a, f, o);
        while (((uint64_t)1 << o) > want - got) {
            o--;
            freelist_push_locked(a, f + ((size_t)1 << o), o);
        }
        f->order = (uint8_t)o;
        /* In transit to a cache: frame_from_unused must see it as cached
         * (BUSY), not as allocated, until the refill has spread it. */
        frame_flags_set(f, FRAME_F_CACHED | (o << FRAME_CACHED_ORDER_SHIFT) | frame_debug_bits(f));
        f->next = *chain;
        *chain = f;
        got += (uint64_t)1 << o;
    }
    buddy_debug_verify_locked(a);
    return got;
}

bool buddy_claim_locked(struct arena *a, uint64_t pfn)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++) {
        uint64_t head = pfn & ~(((uint64_t)1 << o) - 1);
        if (head < a->base_pfn)
            break;
        struct frame *h = arena_frame(a, head);
        if (!(frame_flags_get(h) & FRAME_F_FREE) || h->order < o)
            continue;
        /* A free head of order k >= o is 2^k aligned and pfn - head < 2^o:
         * the block contains pfn.  Split it down around pfn. */
        unsigned k = h->order;
        freelist_remove_locked(a, h, k);
        uint64_t base = head;
        while (k > 0) {
            k--;
            uint64_t half = (uint64_t)1 << k;
            if (pfn >= base + half) {
                freelist_push_locked(a, arena_frame(a, base), k);
                base += half;
            } else {
                freelist_push_locked(a, arena_frame(a, base + half), k);
            }
        }
        buddy_debug_verify_locked(a);
        return true;
    }
    return false;
}

/* First free block of order k aligned to `align` frames, within the scan bound. */
static struct frame *scan_aligned_locked(struct arena *a, unsigned k, uint64_t align)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    unsigned scanned = 0;
    for (struct frame *c = a->free_head[k]; c && scanned < CONTIG_SCAN_LIMIT; c = c->next, scanned++)
        if ((c->pfn & (align - 1)) == 0)
            return c;
    return NULL;
}

static bool max_block_free_locked(struct arena *a, uint64_t pfn)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    struct frame *b = arena_frame(a, pfn);
    return (frame_flags_get(b) & FRAME_F_FREE) && b->order == MM_MAX_ORDER;
}

/* [pfn, pfn + span) is off the lists: gives the tail beyond n back. */
static void contig_trim_locked(struct arena *a, uint64_t pfn, uint64_t span, uint64_t n)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    if (span > n)
        buddy_free_range_locked(a, pfn + n, span - n);
    buddy_debug_verify_locked(a);
}

static void contig_scan_account_locked(struct arena *a, uint64_t visited)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    a->contig_scan_slots += visited;
    if (visited > a->contig_scan_max_hold)
        a->contig_scan_max_hold = visited;
}

/*
 * Runs of more than 2^MM_MAX_ORDER frames (or alignments beyond it): whole
 * max-order blocks that are physically adjacent.  One pass over the arena's
 * max-order positions in address order counts the current run of free
 * blocks, so the cost is linear in the arena's size in max-order blocks
 * (4 MiB each: 8192 slots at 32 GiB), whatever the free lists hold.  The pass
 * takes the lock for CONTIG_SCAN_CHUNK positions at a time and lets it go
 * (and interrupts back on) in between; a run that reaches the request is
 * re-checked from its start under the hold that takes it, since blocks seen
 * in an earlier hold may have gone.  So the lock is held, with interrupts
 * off, for at most CONTIG_SCAN_CHUNK + the request's block count slot reads
 * per acquisition.
 */
static bool contig_large(struct arena *a, uint64_t n, uint64_t align, uint64_t *out)
{
    const uint64_t max_block = (uint64_t)1 << MM_MAX_ORDER;
    const uint64_t span = ((n + max_block - 1) >> MM_MAX_ORDER) << MM_MAX_ORDER;
    const uint64_t start_align = align > max_block ? align : max_block;
    uint64_t pos = (a->base_pfn + max_block - 1) & ~(max_block - 1);
    uint64_t run_start = 0;
    bool in_run = false;
    while (pos + max_block <= a->end_pfn) {
        plat_irqstate_t s = mm_lock_acquire(&a->lock);
        uint64_t visited = 0;
        for (unsigned k = 0; k < CONTIG_SCAN_CHUNK && pos + max_block <= a->end_pfn;
             k++, pos += max_block) {
            visited++;
            if (!max_block_free_locked(a, pos)) {
                in_run = false;
                continue;
            }
            if (!in_run) {
                in_run = true;
                run_start = pos;
            }
            uint64_t start = (run_start + start_align - 1) & ~(start_align - 1);
            if (start + span > pos + max_block)
                continue;
            uint64_t p = start;
            for (; p < pos && max_block_free_locked(a, p); p += max_block)
                visited++;
            if (p < pos) { /* gone since an earlier hold: the run restarts after it */
                run_start = p + max_block;
                continue;
            }
            if (above_reserve_locked(a) < n) { /* the reserve is not for contiguous runs */
                contig_scan_account_locked(a, visited);
                mm_lock_release(&a->lock, s);
                return false;
            }
            for (p = start; p < start + span; p += max_block)
                freelist_remove_locked(a, arena_frame(a, p), MM_MAX_ORDER);
            contig_trim_locked(a, start, span, n);
            contig_scan_account_locked(a, visited);
            mm_lock_release(&a->lock, s);
            *out = start;
            return true;
        }
        contig_scan_account_locked(a, visited);
        mm_lock_release(&a->lock, s);
    }
    return false;
}

/* Requests that one buddy block covers. */
static bool contig_small_locked(struct arena *a, uint64_t n, uint64_t align, unsigned need,
                                uint64_t *out)
{
    MM_LOCK_ASSERT_HELD_DEBUG(&a->lock);
    unsigned order_n = mm_ceil_log2(n), order_a = mm_ilog2(align);
    struct frame *f = NULL;
    unsigned k;
    for (k = order_n; k < order_a && f == NULL; k++)
        f = scan_aligned_locked(a, k, align);
    if (f) {
        k = f->order;
        freelist_remove_locked(a, f, k);
    } else {
        k = need;
        f = buddy_alloc_block_locked(a, need);
        if (f == NULL)
            return false;
    }
    contig_trim_locked(a, f->pfn, (uint64_t)1 << k, n);
    *out = f->pfn;
    return true;
}

bool buddy_alloc_contig(struct arena *a, uint64_t n, uint64_t align, uint64_t *out)
{
    unsigned order_n = mm_ceil_log2(n), order_a = mm_ilog2(align);
    unsigned need = order_n > order_a ? order_n : order_a;
    if (need > MM_MAX_ORDER)
        return contig_large(a, n, align, out);
    plat_irqstate_t s = mm_lock_acquire(&a->lock);
    bool ok = above_reserve_locked(a) >= n && contig_small_locked(a, n, align, need, out);
    mm_lock_release(&a->lock, s);
    return ok;
}

/* Out of line: only an allocation another node served pays for it.
 * Interrupts off: the cache's counters are touched only that way.  Returns
 * f, so that both callers reach it by a tail call. */
static __attribute__((noinline, cold)) struct frame *count_remote_buddy(struct pcp *p,
                                                                       struct frame *f)
{
    plat_irqstate_t s = plat_irq_save();
    p->remote_buddy_allocs++;
    plat_irq_restore(s);
    return f;
}

/* One arena's try: a block of 2^order frames under its lock, or NULL when
 * it has none above its reserve (reserve: none at all).  *dips: the block
 * came from below the watermark, which only a reserve allocation takes. */
static inline __attribute__((always_inline)) struct frame *arena_take(struct arena *a,
                                                                      unsigned order,
                                                                      bool reserve, bool *dips)
{
    MM_OPAQUE(a);
    plat_irqstate_t s = mm_lock_acquire(&a->lock);
    *dips = a->free_frames < a->reserve_frames + ((uint64_t)1 << order);
    struct frame *f = reserve || !*dips ? block_alloc_locked(a, order) : NULL;
    mm_lock_release(&a->lock, s);
    return f;
}

/* One block of 2^order frames from the first arena in the calling CPU's
 * order that has one above its reserve, or (reserve) from any arena's free
 * frames, skipping the first `tried` arenas of node 0's order (only on one
 * node: buddy_alloc_unit's first try); counts the blocks taken out of a
 * reserve.  *remote: the calling CPU's cache when another node's arena
 * served it (for count_remote_buddy), else NULL. */
static inline __attribute__((always_inline)) struct frame *alloc_any(unsigned order,
                                                                     bool reserve,
                                                                     struct pcp **remote,
                                                                     unsigned tried)
{
    /* The calling CPU's node first, the others by distance; within a node
     * the highest arena first: low memory (DMA-reachable, below 4 GiB) is
     * the last to go, as in Linux's zone fallback order (mm/numa.c).  On
     * one node there is no CPU to look up and nothing remote to count (p
     * stays NULL: node 0's order).  Not every caller has interrupts off,
     * but a CPU's index does not change under it. */
    struct pcp *p = NULL;
    if (mm.nodes > 1) {
        unsigned cpu = plat_cpu_index();
        p = cpu < mm.max_cpus ? &mm_pcp[cpu] : NULL;
    }
    const uint8_t *next = numa_arena_order(p), *end = next + mm.n_arenas;
    for (next += tried; next < end; next++) {
        bool dips;
        struct arena *a = &mm_arenas[*next];
        struct frame *f = arena_take(a, order, reserve, &dips);
        if (f) {
            if (reserve && dips)
                atomic_fetch_add_explicit(&mm_reserve_allocs, 1, memory_order_relaxed);
            *remote = unlikely(p != NULL) && a->node != p->node ? p : NULL;
            return f;
        }
    }
    return NULL;
}

/* alloc_any with the remote count: buddy_alloc_any's and _reserve's body. */
static inline __attribute__((always_inline)) struct frame *alloc_counted(unsigned order,
                                                                         bool reserve)
{
    struct pcp *remote;
    struct frame *f = alloc_any(order, reserve, &remote, 0);
    return unlikely(f != NULL && remote != NULL) ? count_remote_buddy(remote, f) : f;
}

struct frame *buddy_alloc_any(unsigned order)
{
    return alloc_counted(order, false);
}

/* buddy_alloc_unit past its first try: the walk over the arenas after the
 * `tried` first ones, the unit's set-up, the remote count, the reclaim. */
static __attribute__((noinline)) struct frame *alloc_unit_walk(unsigned order, unsigned flags,
                                                              unsigned cpu, unsigned tried)
{
    struct pcp *remote;
    struct frame *f = alloc_any(order, false, &remote, tried);
    if (unlikely(f == NULL))
        return frame_alloc_exhausted(order, flags, cpu);
    frame_prepare(f, order, flags & ~FRAME_ZERO, cpu);
    return unlikely(remote != NULL) ? count_remote_buddy(remote, f) : f;
}

/* A leaf but for tail calls.  On one node the first arena of the order
 * (the highest) is tried inline, with nothing of the walk's state live
 * across its lock hold, so that the common case saves no register for the
 * walk; the walk, a NUMA machine, the remote count and the way to the
 * reclaim are tail calls.  The unit's set-up is inline (flags carry no
 * FRAME_ZERO, so no memset). */
struct frame *buddy_alloc_unit(unsigned order, unsigned flags, unsigned cpu)
{
    if (unlikely(mm.nodes > 1) || unlikely(mm.n_arenas == 0))
        return alloc_unit_walk(order, flags, cpu, 0);
    bool dips;
    struct frame *f = arena_take(&mm_arenas[mm.node_arenas[0][0]], order, false, &dips);
    if (unlikely(f == NULL))
        return alloc_unit_walk(order, flags, cpu, 1);
    frame_prepare(f, order, flags & ~FRAME_ZERO, cpu);
    return f;
}

struct frame *buddy_alloc_reserve(unsigned order)
{
    return alloc_counted(order, true);
}

/* The lock is taken here: the inline insert, as buddy_free_block_locked's
 * body, without a call inside the hold. */
void buddy_free_unit(struct frame *head, unsigned order)
{
    struct arena *a = frame_arena(head);
    MM_OPAQUE(a);
    plat_irqstate_t s = mm_lock_acquire(&a->lock);
    insert_locked(a, head, order);
    buddy_debug_verify_locked(a);
    mm_lock_release(&a->lock, s);
}

bool buddy_verify_locked(struct arena *a, char *err, size_t errlen)
{
    MM_LOCK_ASSERT_HELD(&a->lock);
    uint64_t frames = 0;
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++) {
        uint64_t blocks = 0;
        struct frame *prev = NULL;
        if (((a->free_mask >> o) & 1) != (a->free_head[o] != NULL)) {
            plat_snprintf(err, errlen, "order %u: free_mask bit disagrees with the list", o);
            return false;
        }
        for (struct frame *f = a->free_head[o]; f; prev = f, f = f->next) {
            uint64_t pa = f->pfn << PAGE_SHIFT;
            if (++blocks > a->free_blocks[o]) {
                plat_snprintf(err, errlen, "order %u: list longer than its count %llu (cycle?)",
                              o, (unsigned long long)a->free_blocks[o]);
                return false;
            }
            if (f < a->meta || f >= a->meta + (a->end_pfn - a->base_pfn) ||
                f->pfn != a->base_pfn + (uint64_t)(f - a->meta)) {
                plat_snprintf(err, errlen, "order %u: entry %p is not a slot of this arena", o,
                              (void *)f);
                return false;
            }
            if (f->prev != prev) {
                plat_snprintf(err, errlen, "order %u: frame pa %#llx: prev link broken", o,
                              (unsigned long long)pa);
                return false;
            }
            if (!(frame_flags_get(f) & FRAME_F_FREE) || f->order != o) {
                plat_snprintf(err, errlen,
                              "order %u: frame pa %#llx on the list has flags %#x order %u", o,
                              (unsigned long long)pa, frame_flags_get(f), f->order);
                return false;
            }
            if ((f->pfn & (((uint64_t)1 << o) - 1)) ||
                f->pfn + ((uint64_t)1 << o) > a->end_pfn) {
                plat_snprintf(err, errlen, "order %u: block at pa %#llx misaligned or past the arena",
                              o, (unsigned long long)pa);
                return false;
            }
            if (frame_ref_read(f) != REF_UNUSED) {
                plat_snprintf(err, errlen, "order %u: free block at pa %#llx is not UNUSED", o,
                              (unsigned long long)pa);
                return false;
            }
            uint64_t bpfn = f->pfn ^ ((uint64_t)1 << o);
            if (o < MM_MAX_ORDER && bpfn >= a->base_pfn && bpfn < a->end_pfn) {
                struct frame *b = arena_frame(a, bpfn);
                if ((frame_flags_get(b) & FRAME_F_FREE) && b->order == o) {
                    plat_snprintf(err, errlen,
                                  "order %u: free buddies at pa %#llx and %#llx not coalesced", o,
                                  (unsigned long long)pa, (unsigned long long)(bpfn << PAGE_SHIFT));
                    return false;
                }
            }
        }
        if (blocks != a->free_blocks[o]) {
            plat_snprintf(err, errlen, "order %u: %llu blocks on the list, count says %llu", o,
                          (unsigned long long)blocks, (unsigned long long)a->free_blocks[o]);
            return false;
        }
        frames += blocks << o;
    }
    if (frames != a->free_frames) {
        plat_snprintf(err, errlen, "free lists hold %llu frames, free_frames says %llu",
                      (unsigned long long)frames, (unsigned long long)a->free_frames);
        return false;
    }
    return true;
}
