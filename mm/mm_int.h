/*
 * mm_int.h - internals of the frame allocator.  Only the mm/ sources and the white-box
 * tests in tests/mm/ include this; everyone else uses mm.h.
 *
 * Structure (FreeBSD uma_int.h style: the essay is here, each file repeats
 * what it owns):
 *
 *   struct frame   one 64-byte, 64-byte-aligned slot per physical frame, in
 *                  one virtually contiguous array indexed by PFN (the
 *                  metadata window, layout in mm/init.c), backed only where
 *                  arenas are: pa <-> frame is arithmetic.  Holds
 *                  the refcount (state machine: frame.c), flags, buddy order,
 *                  free-list links, owner tag and the allocating CPU.
 *   struct arena   one per merged run of usable RAM of one NUMA node:
 *                  metadata array, buddy free lists per order, the TTAS
 *                  lock guarding them, the node, the reserve ordinary
 *                  allocations leave free (buddy.c).
 *   struct pcp     one per CPU that uses the allocator (mm.max_cpus, set
 *                  by mm_init and mm_set_cpus): a bounded LIFO of order-0
 *                  frames and one bounded LIFO of blocks per cached high
 *                  order (1..3, 9), touched only by its CPU with interrupts
 *                  off (no lock, no atomic RMW).
 *
 * Allocation order: per-CPU cache, then the buddy allocators in the fallback
 * order of the CPU's (preferred) node: that node's arenas first, then every
 * other node's by increasing distance (mm/numa.c), and within a node the
 * highest arena that has a block first (low memory is kept for whoever
 * needs it).
 * Ownership of a free frame: exactly one of {a buddy free list (the arena lock
 * holder), one CPU's cache (that CPU), a frame in transit inside one
 * allocator call (that call)}.  An allocated frame is owned by its holders and
 * its refcount says how (UNIQUE / shared count).
 *
 * Lock order: per-CPU cache (interrupts off) -> one arena lock.  No code holds
 * two arena locks at once.  Functions named *_locked need their arena's lock
 * and assert it as their first statement: always in the extern ones (one
 * load and compare of the lock word, which names the holder, on the global
 * path only, never on a cache hit), in the MM_DEBUG build in the static
 * helpers they call.
 *
 * Frame states (flags + refcount), the invariants mm_check() verifies:
 *   free block head    FRAME_F_FREE, order o, on arena->free_head[o], UNUSED
 *   free block interior flags 0 (debug: maybe POISONED), UNUSED
 *   cached             FRAME_F_CACHED + the block order in the flags
 *                      (FRAME_CACHED_ORDER), order o, on exactly one CPU's
 *                      list for that order, UNUSED; the 2^o-1 frames behind
 *                      a cached high-order head stay UNUSED with flags 0
 *   allocated          FRAME_F_ALLOCATED, order k (head of 2^k frames),
 *                      UNIQUE or shared(1..REF_MAX); the 2^k-1 frames behind
 *                      an order-k head stay UNUSED with flags 0 (one unit,
 *                      like Linux's non-compound high-order pages)
 *   reserved           FRAME_F_RESERVED (+KERNEL for the metadata itself,
 *                      +ABSENT for non-RAM holes), UNIQUE, never freed
 */
#ifndef MM_MM_INT_H
#define MM_MM_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/spinlock.h"
#include "mm/mm.h"
#include "plat/platform.h"

#ifndef MM_DEBUG
#define MM_DEBUG 0 /* make DEBUG=1: poisoning + free-list walks on every buddy op */
#endif

/* ---- reference count values (state table: mm/frame.c) ------------------- */
#define REF_UNUSED UINT64_MAX
#define REF_UNIQUE (UINT64_MAX - 1)
#define REF_MAX ((uint64_t)INT64_MAX) /* largest legal shared count */

/* ---- frame flags --------------------------------------------------------- */
#define FRAME_F_FREE      (1u << 0) /* head of a free buddy block (arena lock) */
#define FRAME_F_CACHED    (1u << 1) /* in a per-CPU cache (owned by that CPU) */
#define FRAME_F_ALLOCATED (1u << 2) /* handed out; head of a 2^order unit */
#define FRAME_F_RESERVED  (1u << 3) /* inside an arena span but never managed */
#define FRAME_F_KERNEL    (1u << 4) /* reserved: holds the allocator's metadata */
#define FRAME_F_ABSENT    (1u << 5) /* reserved: not RAM (hole merged into a span) */
#define FRAME_F_POISONED  (1u << 6) /* debug: page holds the poison pattern */

/* A cached block's order, kept in its head's flags as well as in frame.order:
 * frame_from_unused on another CPU reads it (atomically, racing the owner)
 * to tell whether a frame lies inside some CPU's cached block. */
#define FRAME_CACHED_ORDER_SHIFT 8
#define FRAME_CACHED_ORDER_MASK (0xfu << FRAME_CACHED_ORDER_SHIFT)
#define FRAME_CACHED_ORDER(fl) (((fl) & FRAME_CACHED_ORDER_MASK) >> FRAME_CACHED_ORDER_SHIFT)

/* A function that only panics, called from a hit path.  GCC would find out
 * that it cannot return and then call it (a call, which makes the caller
 * save registers and set up a frame) instead of jumping to it; noipa keeps
 * that knowledge from the caller.  Clang has no noipa and does not need it
 * (its only use here is the host fuzzer). */
#if defined(__GNUC__) && !defined(__clang__)
#define MM_PANIC_PATH __attribute__((noinline, cold, noipa))
#else
#define MM_PANIC_PATH __attribute__((noinline, cold))
#endif

#define MM_POISON_BYTE 0x6b /* Linux's POISON_FREE: easy to spot in a dump */

struct frame {
    /* The state machine of mm/frame.c.  Always accessed atomically. */
    _Atomic uint64_t refcount;
    /* Buddy free list (doubly linked, arena lock) or per-CPU cache (next
     * only, owning CPU).  Meaningless while allocated. */
    struct frame *next;
    struct frame *prev;
    uint64_t pfn;       /* immutable after mm_init: makes frame_pa() O(1) */
    uint64_t owner;     /* usage/owner tag of the holder; 0 when free */
    /* Written only by the frame's current owner, read by the arena lock
     * holder while coalescing (it only trusts FRAME_F_FREE, a bit nobody but
     * the lock holder sets or clears): atomic, relaxed, never RMW. */
    _Atomic uint32_t flags;
    uint8_t order;      /* free head: block order; allocated: unit order */
    uint8_t arena;      /* immutable after mm_init */
    uint16_t alloc_cpu; /* CPU that allocated it (remote-free statistics) */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct frame) == 64, "frame metadata slot must be one cache line");
_Static_assert(_Alignof(struct frame) == 64, "frame metadata slot must be cache-line aligned");
_Static_assert(MM_MAX_ARENAS < 255, "frame.arena is a uint8_t with MM_NO_ARENA = 255");
_Static_assert(PLAT_MAX_CPUS <= 65535, "frame.alloc_cpu is a uint16_t");
_Static_assert(MM_MAX_ORDER < 32, "free_mask is 32 bits");

/* ---- refcount accessors ---------------------------------------------------
 *
 * Every access to frame.refcount goes through one of these (as Linux's
 * page_ref.h): the memory order is part of the name, the const cast is written
 * once, and a grep for the operation finds every site.  The state table with
 * the reason for each order is at the top of mm/frame.c.
 */
static inline uint64_t frame_ref_read(const struct frame *f)
{
    return atomic_load_explicit(&((struct frame *)f)->refcount, memory_order_relaxed);
}

static inline uint64_t frame_ref_read_acquire(const struct frame *f)
{
    return atomic_load_explicit(&((struct frame *)f)->refcount, memory_order_acquire);
}

static inline void frame_ref_init(struct frame *f, uint64_t v)
{
    atomic_init(&f->refcount, v);
}

static inline void frame_ref_set(struct frame *f, uint64_t v)
{
    atomic_store_explicit(&f->refcount, v, memory_order_relaxed);
}

static inline void frame_ref_set_release(struct frame *f, uint64_t v)
{
    atomic_store_explicit(&f->refcount, v, memory_order_release);
}

/* Returns the value before the increment. */
static inline uint64_t frame_ref_inc(struct frame *f)
{
    return atomic_fetch_add_explicit(&f->refcount, 1, memory_order_relaxed);
}

static inline uint64_t frame_ref_dec(struct frame *f)
{
    return atomic_fetch_sub_explicit(&f->refcount, 1, memory_order_relaxed);
}

static inline uint64_t frame_ref_dec_release(struct frame *f)
{
    return atomic_fetch_sub_explicit(&f->refcount, 1, memory_order_release);
}

/* *expect -> v, acquire on success; on failure *expect holds what was found. */
static inline bool frame_ref_cas_acquire(struct frame *f, uint64_t *expect, uint64_t v)
{
    return atomic_compare_exchange_strong_explicit(&f->refcount, expect, v, memory_order_acquire,
                                                   memory_order_relaxed);
}

/* The release of a count of 1 (Linux page_ref_freeze): 1 -> 0 in one atomic
 * step, so that a reference another CPU takes at the same instant
 * (frame_from_in_use: 1 -> 2) and this release cannot both succeed.  Acquire:
 * every other holder's uses, released by its frame_drop, happen before the
 * teardown.  On failure *found holds the value that refused it. */
static inline bool frame_ref_freeze(struct frame *f, uint64_t *found)
{
    *found = 1;
    return atomic_compare_exchange_strong_explicit(&f->refcount, found, 0, memory_order_acquire,
                                                   memory_order_relaxed);
}

/* frame_free's release of a count of 1: 1 -> UNUSED in one atomic step,
 * with frame_ref_freeze's reasons and order.  The unit is the caller's
 * until it is on a list: from_in_use refuses UNUSED, and from_unused claims
 * only frames on a buddy list.  On failure *found holds what refused it. */
static inline bool frame_ref_release_one(struct frame *f, uint64_t *found)
{
    *found = 1;
    return atomic_compare_exchange_strong_explicit(&f->refcount, found, REF_UNUSED,
                                                   memory_order_acquire, memory_order_relaxed);
}

/* Same, may fail spuriously: for CAS loops. */
static inline bool frame_ref_cas_weak_acquire(struct frame *f, uint64_t *expect, uint64_t v)
{
    return atomic_compare_exchange_weak_explicit(&f->refcount, expect, v, memory_order_acquire,
                                                 memory_order_relaxed);
}

static inline uint32_t frame_flags_get(const struct frame *f)
{
    return atomic_load_explicit(&((struct frame *)f)->flags, memory_order_relaxed);
}

static inline void frame_flags_set(struct frame *f, uint32_t v)
{
    atomic_store_explicit(&f->flags, v, memory_order_relaxed);
}

/* Flags that survive a state change: the debug poison mark.  Compiles to 0
 * (no load) in the default build. */
static inline uint32_t frame_debug_bits(const struct frame *f)
{
    return MM_DEBUG ? (frame_flags_get(f) & FRAME_F_POISONED) : 0;
}

/* Debug hooks (check.c): fill n freed frames with MM_POISON_BYTE; panic if
 * a frame about to be handed out was written since.  Empty inline stubs in
 * the default build, so callers need no #if. */
#if MM_DEBUG
void mm_debug_poison(struct frame *f, uint64_t n);
void mm_debug_check_poison(struct frame *f, uint64_t n);
#else
static inline void mm_debug_poison(struct frame *f, uint64_t n) { (void)f; (void)n; }
static inline void mm_debug_check_poison(struct frame *f, uint64_t n) { (void)f; (void)n; }
#endif

/* ---- the one set-up and teardown of an allocated unit ---------------------
 *
 * Every allocation path (cache hit, refill, buddy, from_unused, order-k,
 * every frame of a contiguous run) ends in frame_prepare, and every release
 * path (free, last drop, contiguous free) starts its teardown with
 * frame_teardown, as Linux keeps one post_alloc_hook / free_pages_prepare:
 * a new check or hook is added once and every path has it.
 */

/* f heads a unit of 2^order frames taken out of the allocator's lists by
 * this call: it becomes allocated, then its refcount is published (relaxed
 * for UNIQUE, release for a count of 1: state table in frame.c). */
static inline void frame_prepare(struct frame *f, unsigned order, unsigned flags, unsigned cpu)
{
    mm_debug_check_poison(f, (uint64_t)1 << order);
    f->order = (uint8_t)order;
    f->alloc_cpu = (uint16_t)cpu;
    f->owner = 0;
    frame_flags_set(f, FRAME_F_ALLOCATED);
    if (flags & FRAME_ZERO)
        __builtin_memset(plat_phys_to_virt(f->pfn << PAGE_SHIFT), 0, PAGE_SIZE << order);
    if (flags & FRAME_UNIQUE)
        frame_ref_set(f, REF_UNIQUE);
    else
        frame_ref_set_release(f, 1);
}

/* The exclusive owner's view of a unit being released, short of its flags:
 * a release of one unit (frame.c: frame_retire) leaves those to the list
 * it goes to, whose push (CACHED) or buddy insert (0 on the block's head)
 * writes them once; until then the head still says ALLOCATED, which every
 * check reads together with the refcount the caller stores (UNUSED: a
 * double free, not an allocated frame). */
static inline void frame_teardown_unit(struct frame *f)
{
    f->owner = 0;
    mm_debug_poison(f, (uint64_t)1 << f->order);
}

/* The exclusive owner's view of a frame being released: it stops being
 * allocated.  The caller then stores UNUSED (the order of that store is the
 * caller's: state table in frame.c) and hands the frame to a list that
 * writes only block heads' flags (frame_free_contig). */
static inline void frame_teardown(struct frame *f)
{
    frame_teardown_unit(f);
    frame_flags_set(f, frame_debug_bits(f));
}

/* ---- the arena lock: lib/spinlock.h's TTAS lock with statistics ----------
 *
 * lib/spinlock.h says why TTAS and not a FIFO lock.  On top of it the arena
 * lock counts acquisitions and contended acquisitions exactly and measures
 * hold time on a random 1 in 2^MM_LOCK_SAMPLE_SHIFT sample of acquisitions,
 * scaled up: reading the TSC costs 13-15 ns on the development VM (more
 * than an uncontended acquisition, ~12 ns), so timing every hold would
 * double the cost of the global path it is meant to observe.  The gaps
 * between timed acquisitions are drawn from a per-lock LCG, not fixed, so
 * that strictly alternating operations (alloc, free, alloc...) are sampled
 * evenly and the estimate stays unbiased: each gap is 1 plus two draws
 * uniform in 0..2^MM_LOCK_SAMPLE_SHIFT-1 (mean 2^MM_LOCK_SAMPLE_SHIFT, odd or
 * even with probability 1/2), so an untimed acquisition pays one decrement
 * and the draw is made only on the timed ones.
 */
#define MM_LOCK_SAMPLE_SHIFT 4

struct mm_lock {
    struct spinlock spin;
    /* guarded by the lock itself */
    uint32_t sample_rng;
    uint32_t sample_gap;     /* acquisitions until the next timed one (>= 1) */
    bool timed;              /* this hold is measured: set by its acquire, cleared by its release */
    uint64_t acquired_tsc;
    struct mm_lock_stats stats;
};

static inline void mm_lock_init(struct mm_lock *l)
{
    *l = (struct mm_lock){.spin = SPINLOCK_INIT, .sample_gap = 1};
}

static inline plat_irqstate_t mm_lock_acquire(struct mm_lock *l)
{
    plat_irqstate_t s = plat_irq_save();
    bool contended = spin_lock_raw(&l->spin);
    l->stats.acquisitions++;
    if (unlikely(contended))
        l->stats.contended++;
    if (unlikely(--l->sample_gap == 0)) {
        const uint32_t draw = (1u << MM_LOCK_SAMPLE_SHIFT) - 1;
        l->sample_rng = l->sample_rng * 1664525u + 1013904223u;
        l->sample_gap = 1 + (l->sample_rng >> (32 - MM_LOCK_SAMPLE_SHIFT)) +
                        (l->sample_rng >> (32 - 2 * MM_LOCK_SAMPLE_SHIFT) & draw);
        l->timed = true;
        l->acquired_tsc = plat_tsc();
    }
    return s;
}

static inline void mm_lock_release(struct mm_lock *l, plat_irqstate_t s)
{
    if (unlikely(l->timed)) {
        l->stats.hold_cycles += (plat_tsc() - l->acquired_tsc) << MM_LOCK_SAMPLE_SHIFT;
        l->stats.hold_samples++;
        l->timed = false;
    }
    spin_unlock_raw(&l->spin);
    plat_irq_restore(s);
}

/* Cheap always-on check that the running CPU holds l: the first line of
 * every extern *_locked function. */
#define MM_LOCK_ASSERT_HELD(l) spin_assert_held(&(l)->spin, "arena lock", __func__)
/* The same in the MM_DEBUG build only: the first line of the static
 * *_locked helpers, which run only inside an extern one that has already
 * asserted, and some of them once per list operation. */
#define MM_LOCK_ASSERT_HELD_DEBUG(l)                                                  \
    do {                                                                              \
        if (MM_DEBUG)                                                                 \
            MM_LOCK_ASSERT_HELD(l);                                                   \
    } while (0)

/* ---- arenas -------------------------------------------------------------- */
struct arena {
    struct mm_lock lock __cacheline_aligned;

    /* guarded by lock; a line of their own so spinners on the lock word do
     * not steal it from the holder */
    struct frame *free_head[MM_MAX_ORDER + 1] __cacheline_aligned;
    uint64_t free_blocks[MM_MAX_ORDER + 1]; /* blocks on each list */
    uint64_t free_frames;                   /* frames on all lists */
    uint32_t free_mask;                     /* bit o: free_head[o] non-empty */
    uint64_t contig_scan_slots;             /* slots large contig requests read */
    uint64_t contig_scan_max_hold;          /* most of them in one lock hold */

    /* immutable after mm_init */
    struct frame *meta __cacheline_aligned; /* slot of base_pfn */
    uint64_t base_pfn, end_pfn;             /* span [base, end) */
    uint64_t managed_frames;                /* frames the allocator hands out */
    uint64_t reserve_frames;                /* kept free for FRAME_RESERVE (buddy.c) */
    unsigned index;
    unsigned node;                          /* NUMA node of all its memory */
};

/* Read-only copy of the arenas' PFN ranges, for range checks that need not
 * touch the arenas' lock lines. */
struct mm_span {
    uint64_t base_pfn, end_pfn;
};

/* frame.arena of a slot that describes no arena's frame: the slots of a
 * backed window page that lie outside every span. */
#define MM_NO_ARENA 0xff
/* Slots per 4 KiB page of the metadata window: the granule of its backing. */
#define MM_WINDOW_PAGE_SLOTS (PAGE_SIZE / sizeof(struct frame))
_Static_assert(sizeof(struct frame) == 1u << 6, "mm_is_frame_ptr rotates by log2 of the slot");

/* ---- per-CPU caches ------------------------------------------------------ */

/* The high orders with a per-CPU block list, as Linux since 5.13: 1..3 (up
 * to PAGE_ALLOC_COSTLY_ORDER) and the pageblock/THP order 9.  This table is
 * the only place that names them: X(slot, order).  It drives the slot of an
 * order (pcp_high_slot), the order of a slot (pcp_high_order), the list
 * bounds (pcp.c), the checks and the dump (check.c). */
#define PCP_HIGH_ORDER_TABLE(X) X(0, 1) X(1, 2) X(2, 3) X(3, 9)
#define PCP_HIGH_SLOTS 4

/* Slot of an order, or -1 when that order always goes to the buddy
 * allocator.  order < 16: any unit order, any FRAME_CACHED_ORDER. */
static inline int pcp_high_slot(unsigned order)
{
#define PCP_SLOT_OF_ORDER(slot, o) [o] = (slot) + 1,
    static const unsigned char slot_plus_1[16] = {PCP_HIGH_ORDER_TABLE(PCP_SLOT_OF_ORDER)};
#undef PCP_SLOT_OF_ORDER
    return (int)slot_plus_1[order] - 1;
}

/* The order a slot caches: the inverse of pcp_high_slot. */
static inline unsigned pcp_high_order(unsigned slot)
{
#define PCP_ORDER_OF_SLOT(slot, o) [slot] = (o),
    static const unsigned char order[PCP_HIGH_SLOTS] = {PCP_HIGH_ORDER_TABLE(PCP_ORDER_OF_SLOT)};
#undef PCP_ORDER_OF_SLOT
    return order[slot];
}
#define PCP_COUNT_SLOT(slot, o) +1
_Static_assert(0 PCP_HIGH_ORDER_TABLE(PCP_COUNT_SLOT) == PCP_HIGH_SLOTS,
               "PCP_HIGH_SLOTS must match the table");
#undef PCP_COUNT_SLOT
#define PCP_CHECK_ORDER(slot, o) && (o) >= 1 && (o) <= MM_MAX_ORDER
_Static_assert(1 PCP_HIGH_ORDER_TABLE(PCP_CHECK_ORDER), "cached orders must be 1..MM_MAX_ORDER");
#undef PCP_CHECK_ORDER
_Static_assert(MM_MAX_ORDER < 16, "cached orders must fit the 4-bit flags field");

/* The high-order hit paths index the lists by pcp_high_list(order): the
 * order's slot, or PCP_NO_LIST for an order without one, a list that stays
 * empty with a bound of 0 blocks in every cache, so that an uncached order
 * fails the hit tests (no block to take, no room to push) and needs no test
 * of its own.  The table holds slot ^ PCP_NO_LIST, so that the orders it
 * does not name, zero-initialised, come out as PCP_NO_LIST: one load and
 * one xor. */
#define PCP_NO_LIST PCP_HIGH_SLOTS
static inline unsigned pcp_high_list(unsigned order)
{
#define PCP_LIST_OF_ORDER(slot, o) [o] = (slot) ^ PCP_NO_LIST,
    static const unsigned list_xor[16] = {PCP_HIGH_ORDER_TABLE(PCP_LIST_OF_ORDER)};
#undef PCP_LIST_OF_ORDER
    return list_xor[order] ^ PCP_NO_LIST;
}

#ifndef PCP_COLD_MARKS
#define PCP_COLD_MARKS 8 /* pcp.c: drain */
#endif

struct pcp {
    /* first line: everything the high-order hit paths touch besides the
     * second line's reclaim and high_hits.  Lists of whole blocks through the
     * head's next, by pcp_high_list(order); counts and limits in blocks.
     * List PCP_NO_LIST stays empty with limit 0.  First in the structure:
     * the lists are indexed, and an index with no displacement on top is one
     * instruction less to form. */
    struct frame *high_head[PCP_HIGH_SLOTS + 1];
    uint16_t high_count[PCP_HIGH_SLOTS + 1];
    uint16_t high_limit[PCP_HIGH_SLOTS + 1];
    /* second line: everything the order-0 hit paths touch */
    struct frame *head __cacheline_aligned; /* LIFO through frame.next */
    uint32_t count;
    uint32_t capacity;  /* 0 in pcp_none: a free finds no room */
    uint64_t hits;
    uint64_t remote_frees;
    uint64_t high_hits;
    uint16_t cpu;       /* the owning CPU's index: frame.alloc_cpu of a hit */
    /* Set by another CPU about to report out-of-memory, cleared by this CPU
     * once it has returned its cached frames (pcp.c: reclaim).  On the hit
     * line, so that the order-0 and high-order allocation hits test it with
     * one load of a line they already own. */
    _Atomic uint8_t reclaim;
    /* Read by the slow paths only: the hit paths reach a cache that is off
     * as pcp_none (below). */
    bool enabled;
    uint32_t batch;
    uint64_t misses;
    uint64_t refills;
    /* third line: slow-path counters and the NUMA placement (set at
     * quiescent points, read by this CPU's refills and buddy allocations) */
    uint64_t high_misses __cacheline_aligned;
    /* The order-0 frees are not counted on the hit path: pcp_frees derives
     * them from count, hits and these two. */
    int64_t count_moved;        /* every change of count but a hit's or a push's */
    uint32_t count_base;        /* count when the counters were last reset */
    uint64_t drains;
    uint64_t reclaims;          /* reclaim requests this CPU answered */
    uint64_t local_refills;
    uint64_t remote_refills;
    uint64_t remote_refill_frames;
    uint64_t remote_buddy_allocs;
    uint16_t node;              /* the node this CPU sits on */
    uint16_t pref_node;         /* whose fallback order it allocates in */
    /* Cold-end marks (pcp.c: drain): frames of the order-0 list with a known
     * number of frames behind them, towards the cold end; valid while fewer
     * than `above` frames have been popped since they were found. */
    uint32_t cold_marks;
    uint64_t cold_pops;         /* hits + misses when they were found */
    struct frame *cold_mark[PCP_COLD_MARKS];
    uint32_t cold_below[PCP_COLD_MARKS];
    uint32_t cold_above[PCP_COLD_MARKS];
} __cacheline_aligned;

_Static_assert(sizeof(struct pcp) % CACHE_LINE_SIZE == 0, "per-CPU cache must be whole lines");
_Static_assert(offsetof(struct pcp, refills) + sizeof(uint64_t) - offsetof(struct pcp, head) <=
                   CACHE_LINE_SIZE,
               "hit-path fields must share a line");
_Static_assert(offsetof(struct pcp, high_limit) + sizeof(uint16_t) * (PCP_HIGH_SLOTS + 1) -
                       offsetof(struct pcp, high_head) <= CACHE_LINE_SIZE,
               "high-order hit-path fields must share a line");

/* ---- this CPU's cache in one load ------------------------------------------
 *
 * The platform's per-CPU word (plat_cpu_local_get) holds the byte offset
 * of the running CPU's cache from pcp_none, a cache that is never on: no
 * frame, capacity 0, every high-order list empty with limit 0, reclaim
 * clear.  pcp.c (pcp_publish) keeps every CPU index's word at its cache
 * while that index is below mm.max_cpus and its cache is on, and at 0 -
 * pcp_none - otherwise; the words start at 0, so a CPU online before
 * mm_init or beyond the CPU count finds pcp_none too.  The hit paths then
 * test neither the CPU bound nor `enabled`: on pcp_none each of their tests
 * fails (an empty list, no room) and the call takes its slow path, which
 * looks at the CPU index and `enabled` as before.  pcp_none is const: a hit
 * path never writes a cache whose tests failed, and nothing else touches it.
 * An offset rather than a pointer, so that the zero every word starts with
 * means "no cache" and the address needs no add (pcp_none's address folds
 * into each field's displacement).
 */
extern const struct pcp pcp_none;

static inline struct pcp *pcp_this(void)
{
    return (struct pcp *)((uintptr_t)&pcp_none + plat_cpu_local_get());
}

/* Every change of p's order-0 count except a hit's (-1, counted in hits)
 * and a push's (+1, a free): refills, slow-path pops, drains, removals. */
static inline void pcp_count_add(struct pcp *p, int64_t delta)
{
    p->count = (uint32_t)((int64_t)p->count + delta);
    p->count_moved += delta;
}

/* Frames pushed onto p's order-0 list since the counters were reset: count
 * = count_base + frees - hits + count_moved, so the free hit path counts
 * nothing (the one counter it would touch is count, which it needs). */
static inline uint64_t pcp_frees(const struct pcp *p)
{
    return (uint64_t)((int64_t)p->count - (int64_t)p->count_base + (int64_t)p->hits -
                      p->count_moved);
}

/* Frames (all orders) in p's cache. */
static inline uint64_t pcp_cached_frames(const struct pcp *p)
{
    uint64_t n = p->count;
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++)
        n += (uint64_t)p->high_count[i] << pcp_high_order(i);
    return n;
}

/* ---- global state (immutable between mm_init / mm_pcp_configure) -------- */
struct mm_state {
    /* Slots [0, window_frames) lie in the window pages `backed` covers
     * (backed[p] != 0: page p holds slots, 0: a hole, which reads as zeros;
     * a byte, not a bit, so that the test is one compare).  Every handle
     * check reads window_frames, the full one (mm_is_frame_ptr) backed too;
     * window_frames is 0 until mm_init succeeds, so that every handle is
     * refused. */
    uint64_t window_frames;
    const uint8_t *backed;
    struct mm_span span[MM_MAX_ARENAS]; /* sorted by base_pfn, same index as arenas */
    unsigned n_arenas;
    unsigned max_cpus;
    uint64_t total_frames;
    uint64_t metadata_bytes;
    /* NUMA (mm/numa.c): node_arenas[n] lists every arena index in node n's
     * fallback order, computed once per topology, so a miss walks a
     * precomputed list instead of sorting distances. */
    unsigned nodes;
    uint8_t distance[MM_MAX_NODES][MM_MAX_NODES];
    uint8_t node_arenas[MM_MAX_NODES][MM_MAX_ARENAS];
    struct pcp_config pcp_cfg;  /* in effect: derived or chosen (pcp.c: geometry) */
    bool pcp_derived;           /* pcp_cfg is the defaults for this memory and CPU count */
    bool ready;
};
_Static_assert(MM_MAX_ARENAS <= 256, "node_arenas holds arena indices in bytes");

extern struct mm_state mm;
extern struct arena mm_arenas[MM_MAX_ARENAS];
extern struct pcp mm_pcp[PLAT_MAX_CPUS];

static inline struct frame *arena_frame(const struct arena *a, uint64_t pfn)
{
    return a->meta + (pfn - a->base_pfn);
}

static inline struct arena *frame_arena(const struct frame *f)
{
    return &mm_arenas[f->arena];
}

/* Makes the compiler forget where p points (Linux's OPTIMIZER_HIDE_VAR).
 * For an arena reached through its index, &mm_arenas[i], GCC otherwise
 * folds the array's address into every access and recomputes i * sizeof
 * (struct arena) before each one instead of keeping the one pointer in a
 * register: on the buddy paths that is a dozen instructions per lock hold. */
#define MM_OPAQUE(p) __asm__("" : "+r"(p))

/* ---- the metadata window: O(1) lookups ------------------------------------
 *
 * The slot of pfn is at plat_metadata_base() + 64 * pfn (a constant base in
 * the kernel).  Every slot of the window's extent [0, window_frames) may be
 * read.  A backed page holds the arenas' slots and, around them, slots
 * flagged RESERVED|ABSENT with arena MM_NO_ARENA, which every operation
 * refuses as not the allocator's.  An unbacked page, a hole, maps zeros
 * read-only (mm/init.c): its "slot" has refcount 0 (busy), which every
 * operation refuses before it trusts another field or writes (a write would
 * fault), and the failure path then finds the page unbacked
 * (mm_is_frame_ptr) and names the handle as not the allocator's.  So the hit
 * paths check only that a handle is a slot of the extent (mm_is_window_slot:
 * no load of the map of backed pages), and the failure paths they take for a
 * busy count do the rest.
 */
static inline struct frame *mm_frame_of_pfn(uint64_t pfn)
{
    return (struct frame *)plat_metadata_base() + pfn;
}

static inline uint64_t mm_pfn_of_frame(const struct frame *f)
{
    return ((uintptr_t)f - plat_metadata_base()) / sizeof(struct frame);
}

/* Slot index i lies in a backed page of the window. */
static inline bool mm_slot_backed(uint64_t i)
{
    return i < mm.window_frames && mm.backed[i / MM_WINDOW_PAGE_SLOTS];
}

/* Arena index holding pfn, or -1: outside the window, in an unbacked page
 * (a hole), or in a backed page but outside every span. */
static inline int mm_arena_of_pfn(uint64_t pfn)
{
    if (!mm_slot_backed(pfn))
        return -1;
    unsigned a = mm_frame_of_pfn(pfn)->arena;
    return a == MM_NO_ARENA ? -1 : (int)a;
}

/* True when f points at a slot of the window's extent, which may be read (a
 * hole's reads as zeros): the hit paths' handle check, a subtraction, a
 * rotate and a compare.  The rotate puts a misaligned pointer's low bits on
 * top, so that one compare refuses it along with everything outside the
 * extent. */
static inline bool mm_is_window_slot(const struct frame *f)
{
    uint64_t off = (uintptr_t)f - plat_metadata_base();
    return (off >> 6 | off << 58) < mm.window_frames;
}

/* True when f points at a slot in a backed page of the window: the whole
 * handle check, which the hit paths leave to the failure paths a hole's
 * zeros send them to.  What the slot then says (RESERVED, ABSENT, free ...)
 * is each caller's check. */
static inline bool mm_is_frame_ptr(const struct frame *f)
{
    return mm_is_window_slot(f) && mm.backed[mm_pfn_of_frame(f) / MM_WINDOW_PAGE_SLOTS];
}

/* ---- buddy.c ------------------------------------------------------------ */
struct frame *buddy_alloc_block_locked(struct arena *a, unsigned order);
void buddy_free_block_locked(struct arena *a, uint64_t pfn, unsigned order);
void buddy_free_range_locked(struct arena *a, uint64_t pfn, uint64_t n);
/* Moves up to `want` frames out of the free lists as whole blocks chained
 * through frame.next (head.order = block order); returns the frame count. */
uint64_t buddy_take_locked(struct arena *a, uint64_t want, struct frame **chain);
/* Removes the single free frame pfn from whatever free block holds it. */
bool buddy_claim_locked(struct arena *a, uint64_t pfn);
/* Takes n frames aligned to `align` frames off the lists (taking the lock
 * itself: large requests scan in bounded holds); false when this arena has
 * none. */
bool buddy_alloc_contig(struct arena *a, uint64_t n, uint64_t align, uint64_t *pfn);
/* One block of 2^order frames from the highest arena that has one above its
 * reserve (buddy.c: the reserve). */
struct frame *buddy_alloc_any(unsigned order);
/* buddy_alloc_any's block set up as an allocated unit (frame_prepare;
 * flags without FRAME_ZERO) for cpu, or, when no arena has one, what
 * frame_alloc_exhausted (frame.c) returns: the order-k path of the cache-off
 * mode and of the uncached orders, reached by tail calls only. */
struct frame *buddy_alloc_unit(unsigned order, unsigned flags, unsigned cpu);
struct frame *frame_alloc_exhausted(unsigned order, unsigned flags, unsigned cpu);
/* The same, free to take an arena's reserve (FRAME_RESERVE, after the
 * ordinary paths failed). */
struct frame *buddy_alloc_reserve(unsigned order);
/* The reserve for `frames` managed frames; buddy_reserve_init splits it
 * across the arenas once mm.total_frames is known and zeroes the counters. */
uint64_t buddy_reserve_size(uint64_t frames);
void buddy_reserve_init(void);
/* Blocks served from below a reserve; FRAME_RESERVE allocations that failed
 * even so (relaxed: statistics). */
extern _Atomic uint64_t mm_reserve_allocs, mm_reserve_failures;
void buddy_free_unit(struct frame *head, unsigned order);
/* Full free-list consistency walk; false + message on the first problem. */
bool buddy_verify_locked(struct arena *a, char *err, size_t errlen);

/* ---- numa.c ------------------------------------------------------------- */
/* Checks a topology (node count, distances, every CPU's node); false with
 * a message. */
bool numa_valid(const struct mm_numa *numa, char *err, size_t errlen);
/* Takes the topology (NULL: one node) after the arenas and caches are
 * built: distances, each CPU's node, every node's fallback order. */
void numa_apply(const struct mm_numa *numa);
/* The arena order of p's preferred node (node 0's for a CPU without a
 * cache: p NULL). */
static inline const uint8_t *numa_arena_order(const struct pcp *p)
{
    return mm.node_arenas[p ? p->pref_node : 0];
}

/* ---- pcp.c -------------------------------------------------------------- */
/* Sets every CPU index's word (plat_cpu_local_set) to its cache or to
 * pcp_none from mm.max_cpus and each cache's `enabled`: after anything that
 * changes either, at a quiescent point (pcp_apply does it for its cache). */
void pcp_publish_all(void);
/* Slow paths of frame_alloc/frame_release (interrupts already off). */
struct frame *pcp_alloc_slow(struct pcp *p);
/* Miss of a cached high order (interrupts off; takes one block, drains this
 * CPU's caches and retries when the buddy allocator has none). */
struct frame *pcp_alloc_high_slow(struct pcp *p, unsigned order);
/* Returns every high-order block in p to the buddy allocator (same rules as
 * pcp_drain). */
void pcp_drain_high(struct pcp *p);
/* True when the free-looking frame pfn lies in a block some CPU caches or a
 * refill is spreading (a racy but atomic look at the heads' flags; exact at
 * quiescent points). */
bool pcp_pfn_cached(const struct arena *a, uint64_t pfn);
/* Gives the frame pfn back to the buddy allocator if this CPU's cache holds
 * it (alone, or the cached block around it), touching nothing else: a walk
 * of this CPU's lists, at most `capacity` frames, with interrupts off.
 * False when it is not in this CPU's cache. */
bool pcp_release_local(const struct arena *a, uint64_t pfn);
/* Moves up to n frames from p to the buddy allocator (interrupts off on p's CPU,
 * or a quiescent point). */
void pcp_drain(struct pcp *p, uint32_t n);
/* The free path's answer to a full cache: a batch back to the buddy
 * allocator, or everything when a reclaim is pending. */
void pcp_drain_full(struct pcp *p);
/* Before an allocation reports out-of-memory (interrupts on): asks every
 * other CPU to return its cached frames and waits, bounded, for those that
 * answer; true when any answered.  Refills take single frames from here to
 * pcp_reclaim_end, which the caller calls after its retry (with either
 * result), so that the returned frames are still there for it. */
bool pcp_reclaim_begin(void);
void pcp_reclaim_end(void);
/* Creates mm.max_cpus caches with cfg's geometry for mm.total_frames (false
+ message when it is refused). */
bool pcp_init(const struct pcp_config *cfg, char *err, size_t errlen);
/* Sets p's geometry (capacity, batch, the high-order bounds); p empty. */
void pcp_apply(struct pcp *p, const struct pcp_config *cfg);
/* Range checks only (capacity 0 with batch 0: the derived defaults). */
bool pcp_config_valid(const struct pcp_config *cfg, char *err, size_t errlen);
/* The geometry cfg means for `frames` managed frames and `cpus` CPUs: the
 * derived defaults, or cfg itself when its bound is within the limit; false
 * + message otherwise (pcp.c: geometry). */
bool pcp_geometry(const struct pcp_config *cfg, uint64_t frames, unsigned cpus,
                  struct pcp_config *out, char *err, size_t errlen);
/* The most frames all caches together can hold with the geometry in effect. */
uint64_t pcp_cache_bound(void);

/* ---- antifrag.c --------------------------------------------------------- */
/* The policy switch: written at quiescent points only (mm_antifrag_set), read
 * by the refill and drain slow paths, like struct pcp's configuration. */
extern bool mm_antifrag_on;
/* Refill source with the policy on (interrupts off, on p's CPU): up to want
 * frames of p's reserved region, chained through frame.next as order-0
 * blocks flagged in transit (as buddy_take_locked does); the frame count. */
uint64_t antifrag_refill(struct pcp *p, uint64_t want, struct frame **chain);
/* A unit of 2^order frames (order < 9) off the free lists (interrupts off,
 * on p's CPU), cut from p's long-lived region (FRAME_LONG_LIVED) or its
 * refill region (a high-order cache miss); NULL with the policy off or when
 * no region has one (the caller then takes it from the buddy allocator). */
struct frame *antifrag_alloc_unit(struct pcp *p, unsigned order, bool long_lived);
/* Full-cache drain with the policy on: n frames, those outside p's region
 * first.  false (nothing done) with the policy off. */
bool antifrag_drain(struct pcp *p, uint32_t n);
void antifrag_init(void);
/* mm_check's part: reservations only with the policy on, each a 2 MiB block
 * of its arena with its cursor inside, no region reserved twice (by two CPUs
 * or by both kinds of one). */
bool antifrag_check(char *err, size_t errlen);

/* ---- frame.c / check.c helpers ------------------------------------------ */
const char *mm_refcount_name(uint64_t v, char *buf, size_t len);
/* fn: the __func__ of the public entry point the caller checks for. */
_Noreturn void mm_panic_frame(const char *fn, const struct frame *f, const char *what);
/* Panics naming what a failed frame_ref_freeze found instead of 1. */
_Noreturn void mm_freeze_failed(const char *fn, const struct frame *f, uint64_t found);

static inline unsigned mm_ilog2(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }
static inline unsigned mm_ceil_log2(uint64_t x) { return x <= 1 ? 0 : mm_ilog2(x - 1) + 1; }

#endif /* MM_MM_INT_H */
