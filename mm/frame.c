/*
 * frame.c - frame handles: the reference-count protocol, single-frame and
 * order-k allocation, and the per-CPU cache hit paths.
 *
 * Allocation order: this CPU's cache (no lock, no atomic RMW, interrupts off
 * around the list operation), then the buddy allocator (pcp.c refills a batch
 * on a miss).  A release goes back to this CPU's cache, which drains a batch
 * to the buddy allocator when full.  Order-k units of the cached high orders
 * (1..3, 9: pcp.c) have per-CPU block lists with the same hit paths, one
 * block taken from the buddy allocator per miss and a block returned to it
 * when the list is at its bound; other orders and the cache-off mode go
 * straight to the buddy allocator.
 *
 * Fast paths: the hit paths of frame_alloc, frame_alloc_order, frame_free,
 * frame_clone and frame_drop are leaves.  Everything else a call may need -
 * a cache miss or refill, a full cache, the cache-off mode, FRAME_ZERO, the
 * release of a count of 1, the last drop, every panic - is a separate
 * function reached by a tail jump with the state the hit path already has
 * (the interrupt state; a slow path looks up the CPU index itself), so a
 * hit saves no register and sets up no frame (the kernel builds with
 * -momit-leaf-frame-pointer).  A hit finds this CPU's cache in one load of
 * the platform's per-CPU word (mm_int.h: pcp_this), which points at
 * pcp_none, a cache with nothing in it and no room, for a CPU beyond the
 * CPU count or with its cache off: the hit tests (a frame on the list,
 * room to push) fail there and send the call to its slow path, so neither
 * the CPU bound nor `enabled` costs the hit an instruction, and neither
 * does an uncached order (pcp_high_list).  What is counted on a hit is
 * one increment (hits, high_hits); a free counts nothing (pcp_frees derives
 * the frees) except a remote one, which takes an out-of-line push.  The panics are
 * MM_PANIC_PATH (mm_int.h), so the compiler cannot turn those jumps back
 * into calls.  They are not inline in mm.h: that would put struct frame,
 * the per-CPU caches and the window's map into the public header, and copy
 * the hit path into every caller, where neither the no-RMW disassembly check
 * nor the page-crossing check (check_hitpath.py) could find it.
 *
 * What a hit costs (kernel build, instructions from entry to ret, with
 * interrupts off as the kernel runs), and why none of it goes: frame_clone
 * 15 and frame_drop 13 (a shared count; a UNIQUE one leaves frame_drop
 * after 9 for frame_drop_unshared, the release frame_free does).  Each is the handle check, 5 (movabs/add: offset in the
 * window, ror/cmp/jae: in the window's extent and 64-byte aligned; a hole's
 * slot reads as zeros, so no load of the map of backed pages:
 * frame_check_slot below, mm_int.h); the load of the count and its state
 * check, 4 or 3 (clone: lea/cmp/jle, 1 <= v < REF_MAX as the signed test
 * v + 1 > 1, with no 64-bit constant; drop: test/jle, 1 <= v <= REF_MAX,
 * which sends UNIQUE, free and illegal counts out under the same branch);
 * the locked add and the load of its operand, 2; the check of its old
 * value, 3 or 2 (clone: the same lea/cmp/jle; drop: cmp/jle, 2 <= old <=
 * REF_MAX, the last drop and an underflow leave); ret.  Each check refuses
 * a caller bug (a foreign handle, a clone of a free or UNIQUE frame, an
 * overflow, a double drop) that must panic naming the frame before a bad
 * count is published.  A lock sub whose flags answer drop's old-value test
 * would save the mov and the cmp, but GCC fuses a locked subtraction only
 * with == 0, != 0, < 0 and >= 0 of the result, and 2 <= old is none of
 * them; clone's test needs the old value itself (a 0 it turned into 1 is
 * no flag of the add).  frame_alloc 32: the flags test (4: only FRAME_UNIQUE stays on
 * the hit path), the interrupt guard (pushf/pop/and/jcc and the restore
 * test: 6), the cache (the per-CPU word and pcp_none's address: 2), the
 * list head and the reclaim flag (6: an empty list - pcp_none's too - and a
 * pending reclaim go to the slow path), the pop and its counters (5, the
 * owning CPU's index included), the frame's set-up (order, alloc_cpu,
 * owner, flags, the refcount by flavour: 8), ret.  frame_free 36 for a
 * UNIQUE frame: the handle check (5), the ALLOCATED and refcount checks
 * (6), the teardown (owner, UNUSED: 2), the order test (3), the guard (6),
 * the cache and its room (5: capacity 0 in pcp_none), the remote-free test
 * (3; the increment is out of line), the push (5: the flags written once,
 * by the push), ret.  A counted frame's free is 42: the tail jump to
 * frame_free_counted and the count-1 test (4) and the 1 -> UNUSED CAS that
 * a racing frame_from_in_use makes necessary (3), less the UNUSED store.
 * frame_alloc_order 37: the same, with the order's range test (3) and its
 * list (pcp_high_list: the index's zero extension, a load, an xor: 3) and
 * without the flags' copy (1); an order-k free is
 * frame_free's path to the order test, a tail jump, and frame_release_high
 * (21: the list, the guard, the bound, the push with the block's order in
 * its flags).
 *
 * The order-k pair through the buddy allocator (caches off, or an order no
 * cache serves; frame_alloc_order(k, 0) + frame_free, a counted frame) is
 * 235 instructions in the kernel build with interrupts off, on one node,
 * when the first arena has the block, it needs no split and its buddy is
 * not free (the contig benchmark's steady state for order 9: a lone
 * order-9 block), and neither lock hold is one of the 1 in 16 that are
 * timed (each of those adds 24: two rdtsc, the LCG draw, the scaled sum; 3
 * per pair on average).  Every instruction, from a gdb single-step trace
 * of the guest (ICOUNT=1):
 *   frame_alloc_order 19: its hit path above, failing on pcp_none's empty
 *     list (range 3, flags 2, guard 4, cache 2, flavour 1, list 3, its
 *     head 1, the empty test 2, the tail jump 1);
 *   frame_alloc_order_slow 21: argument moves 3, the CPU bound 3, the
 *     cache's address 4, order 0? 2, enabled? 2, the interrupt restore 2,
 *     FRAME_ZERO 4, the tail jump to buddy_alloc_unit 1;
 *   buddy_alloc_unit 85: saves and restores 9 and argument moves 3, the
 *     node test 2 and the arena count 3, the first arena's address 4, the
 *     interrupt guard 6, the lock 6 (CPU index + 1, the compare-exchange
 *     and its branch, the release store), the statistics 5 (the
 *     acquisition count, the sampler's decrement and branch, the timed
 *     test at release), the reserve test 9 (1 << order 3), the free mask 5
 *     and its lowest order 5, the unlink with the list counters 16 (the
 *     list's head, the block count, the free frames, the mask bit when the
 *     list empties, the head's flags), the split test 2, the block test 2,
 *     the unit's set-up 7 (order, alloc_cpu, owner, flags, the count by
 *     flavour), the result 1;
 *   frame_free 12, frame_free_counted 11 (the count-1 test 3, the 1 ->
 *     UNUSED compare-exchange 3, the teardown 1, the order test 2 and the
 *     tail jump 1), frame_release_high 14 (finding no room in pcp_none);
 *   buddy_free_unit 73: saves and restores 9 and one argument move, the
 *     arena's address 4, the guard 6, the lock 6, the statistics 5, the
 *     insert's set-up 9 and the order bound 2, the buddy lookup 13 (its pfn
 *     2, 1 << order again 2, the span 4, the slot 2, the FREE test 3), the
 *     push 18 (the head's slot 3, the list 2, the links 6, the counters
 *     and the mask 6, the FREE flags 1).
 * The benchmark's loop adds 9 (two calls and their arguments, the result
 * test), of which its empty loop subtracts 2.4; with the timed holds the
 * reported figure is 245.  What stays and why: every check (handle,
 * ALLOCATED, the count, the CAS a racing frame_from_in_use makes
 * necessary, the reserve, the span), the guard (the lock is taken with
 * interrupts off), the lock's owner (the compare-exchange writes it:
 * spin_assert_held), the exact acquisition count and the unbiased sampler.
 * The largest remainders are structural: 54 instructions find, through the
 * caches' hit and miss paths, that there is no cache (frame_alloc_order,
 * its slow path, frame_release_high), and 22 save, restore or move
 * registers for the two buddy functions.
 *
 * Reference-count state machine (one atomic u64 per frame; seed 004's states,
 * seed 000's orderings):
 *
 *   UNUSED = UINT64_MAX     free: owned by the allocator (buddy list or a CPU cache)
 *   UNIQUE = UINT64_MAX-1   exclusively owned by one holder
 *   0                       busy: being constructed or torn down
 *   1 .. REF_MAX            shared by that many references (REF_MAX = INT64_MAX)
 *   REF_MAX+1 .. UNIQUE-1   illegal: the overflow guard panics naming the frame
 *
 * | transition            | by                          | atomic op, order          | why that order suffices                          |
 * |-----------------------|-----------------------------|---------------------------|--------------------------------------------------|
 * | UNUSED -> UNIQUE      | frame_alloc(FRAME_UNIQUE),  | store, relaxed            | the allocator owns a free frame exclusively: a   |
 * |                       | frame_alloc_contig/_order   |                           | buddy list under the arena lock, or this CPU's   |
 * |                       |                             |                           | cache with interrupts off.  Nobody else moves a  |
 * |                       |                             |                           | frame out of UNUSED (from_in_use refuses it,     |
 * |                       |                             |                           | from_unused claims only under the arena lock),   |
 * |                       |                             |                           | so no RMW; the handle reaches other CPUs only    |
 * |                       |                             |                           | through the caller's own synchronisation.        |
 * | UNUSED -> 1           | frame_alloc(0)              | store, release            | a from_in_use on another CPU that reads 1        |
 * |                       |                             |                           | (acquire CAS) must see flags/owner/order.        |
 * | UNUSED -> 0           | frame_from_unused           | CAS, acquire (under the   | pairs with the last drop's release store: the    |
 * |                       |                             | arena lock)               | old owner's teardown happens before our writes.  |
 * | 0 -> 1 / UNIQUE       | frame_from_unused           | store, release / relaxed  | release publishes the metadata just written.     |
 * | UNIQUE -> 1           | frame_unique_to_shared      | store, release            | the only holder publishes its metadata writes    |
 * |                       |                             |                           | before from_in_use can see a shared count.       |
 * | n -> n+1              | frame_clone                 | fetch_add, relaxed        | a reference is made from an existing one, which  |
 * |                       |                             |                           | already orders the contents (Boost/Arc).  Guard: |
 * |                       |                             |                           | 0 or >= REF_MAX panics, checked on the value     |
 * |                       |                             |                           | read before the add (no misleading count is ever |
 * |                       |                             |                           | published) and again on the add's old value.     |
 * | n -> n+1              | frame_from_in_use           | CAS loop, acquire on      | acquires what the release store of 1 / unique_to |
 * |                       |                             | success, relaxed on fail  | _shared published; refuses UNUSED, UNIQUE, 0;    |
 * |                       |                             |                           | failed CASes are counted (retries).              |
 * | n -> n-1 (n > 1)      | frame_drop                  | fetch_sub, release        | our uses happen before the last owner's teardown |
 * | 1 -> 0                | last frame_drop             | fetch_sub release, then   | every holder's uses (each released by its        |
 * |                       |                             | acquire fence             | fetch_sub) happen before the teardown.           |
 * | 0 -> UNUSED           | last frame_drop, after the  | store, release            | pairs with from_unused's acquire CAS: teardown   |
 * |                       | teardown                    |                           | is never reordered after the frame is claimable. |
 * | UNIQUE -> UNUSED      | frame_free, frame_free_     | store, relaxed            | only the holder of a UNIQUE frame can reach it   |
 * |                       | contig, drop of UNIQUE      |                           | (from_in_use refuses UNIQUE): no RMW.  The next  |
 * |                       |                             |                           | owner is this CPU or comes through the arena     |
 * |                       |                             |                           | lock, whose release/acquire orders the frame.    |
 * |                       |                             |                           | Two CPUs freeing one UNIQUE handle at once are   |
 * |                       |                             |                           | not caught (that needs an RMW on the hit path);  |
 * |                       |                             |                           | a free after the release is ("double free").     |
 * | 1 -> UNUSED           | frame_free                  | CAS 1 -> UNUSED, acquire  | a count of 1 is exclusive only until its pa      |
 * |                       |                             | (Linux page_ref_freeze)   | reaches from_in_use: the CAS and a racing 1 -> 2 |
 * |                       |                             |                           | cannot both succeed, nor two racing frees.  The  |
 * |                       |                             |                           | loser panics naming the frame: "still shared"    |
 * |                       |                             |                           | (a lost reference) or "double free".  Acquire:   |
 * |                       |                             |                           | other holders' uses happen before the teardown.  |
 * |                       |                             |                           | The teardown follows the CAS: the unit is the    |
 * |                       |                             |                           | caller's until a list has it (as UNIQUE's).      |
 * | 1 -> 0 (freeze)       | frame_free_contig           | CAS 1 -> 0, acquire       | the same, for each frame of the run; 0 marks the |
 * |                       |                             |                           | frames to give their count back if a later one   |
 * |                       |                             |                           | of the run refuses.                              |
 * | 0 -> UNUSED           | frame_free_contig after the | store, relaxed            | as UNIQUE -> UNUSED; from_in_use refuses 0 and   |
 * |                       | freeze                      |                           | UNUSED alike.                                    |
 * | UNUSED (buddy<->cache)| refill, drain               | none                      | ownership moves with the arena lock.             |
 *
 * Hence frame_alloc(FRAME_UNIQUE) + frame_free on the cache hit path is a
 * list pop, a list push and plain (relaxed) stores: no lock, no RMW.  The
 * count-1 release pays one CAS (out of line in frame_free_counted).
 * The per-CPU counters are plain fields written only by their CPU.
 */
#include "mm/mm_int.h"

/* ThreadSanitizer does not model atomic_thread_fence (GCC warns and would
 * miss the edge); like Rust's Arc, use an acquire load of the counter there,
 * which gives the same happens-before edge for this protocol. */
#if defined(__SANITIZE_THREAD__)
#define MM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MM_TSAN 1
#endif
#endif

static inline void acquire_fence_after_last_drop(struct frame *f)
{
#ifdef MM_TSAN
    (void)frame_ref_read_acquire(f);
#else
    (void)f;
    atomic_thread_fence(memory_order_acquire);
#endif
}

const char *mm_refcount_name(uint64_t v, char *buf, size_t len)
{
    if (v == REF_UNUSED)
        return "UNUSED";
    if (v == REF_UNIQUE)
        return "UNIQUE";
    if (v == 0)
        return "busy (0)";
    if (v <= REF_MAX)
        plat_snprintf(buf, len, "shared (%llu)", (unsigned long long)v);
    else
        plat_snprintf(buf, len, "illegal (%#llx)", (unsigned long long)v);
    return buf;
}

_Noreturn void mm_panic_frame(const char *fn, const struct frame *f, const char *what)
{
    char rc[48];
    uint64_t v = frame_ref_read(f);
    PANIC("%s: frame pa %#llx: %s (refcount %s, flags %#x, order %u)", fn,
          (unsigned long long)(f->pfn << PAGE_SHIFT), what, mm_refcount_name(v, rc, sizeof rc),
          frame_flags_get(f), f->order);
}

/* The failure helpers (MM_PANIC_PATH) are out of line, cold and declared to
 * return (they never do): a hit path then reaches them by a tail jump and
 * stays a leaf, with no register or frame pointer to save. */
static MM_PANIC_PATH void frame_bad_handle(const struct frame *f, const char *fn)
{
    PANIC("%s: %p is not a frame owned by the allocator (foreign or misaligned handle)", fn,
          (const void *)f);
}

/* The handle checks, each used as `if (!frame_check_...(f, __func__))
 * return;`: false only after a tail call to the panic.
 *
 * frame_check_slot, the hit paths' (frame_free, frame_clone, frame_drop):
 * f is a slot of the window's extent, which may be read.  A hole passes and
 * reads as refcount 0, which each of them refuses before it trusts another
 * field or writes; every failure path a 0 leads to starts with
 * frame_refuse_hole, so a hole still panics as a foreign handle. */
static inline bool frame_check_slot(const struct frame *f, const char *fn)
{
    if (likely(mm_is_window_slot(f)))
        return true;
    frame_bad_handle(f, fn);
    return false;
}

/* The whole check, for the operations that are not hit paths. */
static inline bool frame_check_ptr(const struct frame *f, const char *fn)
{
    if (likely(mm_is_frame_ptr(f)))
        return true;
    frame_bad_handle(f, fn);
    return false;
}

/* What frame_check_slot left out: f's window page is backed.  First in
 * every failure path a hit path reaches with a count of 0, so that a hole's
 * zeros are never read as a frame's state. */
static inline void frame_refuse_hole(const struct frame *f, const char *fn)
{
    if (unlikely(!mm_is_frame_ptr(f)))
        frame_bad_handle(f, fn);
}

/* Names what is wrong with a frame its caller claimed to own exclusively
 * (UNIQUE or a count of 1). */
static MM_PANIC_PATH void frame_exclusive_failed(const struct frame *f,
                                                                   uint64_t v, uint32_t fl,
                                                                   const char *fn)
{
    frame_refuse_hole(f, fn);
    /* v and fl are the values the check saw: a re-read could find a racing
     * holder gone and name the wrong problem. */
    if (fl & FRAME_F_RESERVED)
        mm_panic_frame(fn, f, "free of a reserved frame the allocator does not own");
    if (v != REF_UNIQUE && v != 1)
        mm_freeze_failed(fn, f, v);
    /* Not allocated, not reserved: a free frame (or one on its way to a free
     * list while another CPU releases it) -- a double free. */
    mm_panic_frame(fn, f, "double free (frame not flagged allocated)");
}

_Noreturn void mm_freeze_failed(const char *fn, const struct frame *f, uint64_t found)
{
    if (found == REF_UNUSED)
        mm_panic_frame(fn, f, "double free");
    if (found == 0)
        mm_panic_frame(fn, f, "double free (another CPU is releasing it concurrently), or a "
                              "free of a frame being constructed");
    if (found > 1 && found <= REF_MAX)
        mm_panic_frame(fn, f, "free of a frame still shared by another holder (a lost "
                              "reference: once its pa may have reached frame_from_in_use, "
                              "release it with frame_drop)");
    mm_panic_frame(fn, f, "refcount corrupted");
}

/* Order-k release: this CPU's list for the order while under its bound,
 * else the buddy allocator (a tail call).  An uncached order, a cache that
 * is off and a CPU without a cache all find no room (pcp_high_list,
 * pcp_none). */
static __attribute__((noinline)) void frame_release_high(struct frame *f, unsigned order)
{
    unsigned list = pcp_high_list(order);
    plat_irqstate_t s = plat_irq_save();
    struct pcp *p = pcp_this();
    if (likely(p->high_count[list] < p->high_limit[list])) {
        frame_flags_set(f, FRAME_F_CACHED | (order << FRAME_CACHED_ORDER_SHIFT) |
                               frame_debug_bits(f));
        f->next = p->high_head[list];
        p->high_head[list] = f;
        p->high_count[list]++;
        plat_irq_restore(s);
        return;
    }
    plat_irq_restore(s);
    buddy_free_unit(f, order);
}

/* Counts no free: count goes up by one and nothing else records it, which
 * is how pcp_frees tells the frees (mm_int.h). */
static inline void pcp_push(struct pcp *p, struct frame *f)
{
    frame_flags_set(f, FRAME_F_CACHED | frame_debug_bits(f));
    f->next = p->head;
    p->head = f;
    p->count++;
}

/* Everything frame_release does not do inline: a full cache (drain a batch
 * first), the cache-off mode and CPUs without a cache (the buddy
 * allocator).  Interrupts are off as frame_release left them (s). */
static __attribute__((noinline)) void frame_release_slow(struct frame *f, plat_irqstate_t s)
{
    unsigned cpu = plat_cpu_index();
    if (cpu < mm.max_cpus) {
        struct pcp *p = &mm_pcp[cpu];
        p->remote_frees += f->alloc_cpu != cpu;
        if (p->enabled) {
            pcp_drain_full(p);
            pcp_push(p, f);
            plat_irq_restore(s);
            return;
        }
    }
    plat_irq_restore(s);
    buddy_free_unit(f, 0);
}

/* Returns a torn-down frame (refcount UNUSED) to this CPU's cache, or to the
 * buddy allocator for uncached orders, a full high-order list and the
 * cache-off mode.  Inline in each release path; everything but a push onto a
 * cache with room is a tail call.  A CPU without a cache that is on finds
 * pcp_none, whose capacity 0 leaves no room. */
static inline void frame_release(struct frame *f)
{
    unsigned order = f->order;
    if (unlikely(order != 0)) {
        frame_release_high(f, order);
        return;
    }
    plat_irqstate_t s = plat_irq_save();
    struct pcp *p = pcp_this();
    if (likely(p->count < p->capacity)) {
        /* A compare and a branch to an increment placed out of line. */
        if (unlikely(f->alloc_cpu != p->cpu))
            p->remote_frees++;
        pcp_push(p, f);
        plat_irq_restore(s);
        return;
    }
    frame_release_slow(f, s);
}

/* The end of every release of a single unit: teardown, UNUSED stored, back
 * to a list, whose push or insert writes the head's flags (mm_int.h:
 * frame_teardown_unit).  after_shared: the last of several holders, whose
 * store must release (state table at the top); an exclusive owner's
 * (UNIQUE) may be relaxed: from_in_use refuses 0 and UNUSED alike, and the
 * next owner comes through this CPU's cache or the arena lock. */
static inline __attribute__((always_inline)) void frame_retire(struct frame *f, bool after_shared)
{
    frame_teardown_unit(f);
    if (after_shared)
        frame_ref_set_release(f, REF_UNUSED);
    else
        frame_ref_set(f, REF_UNUSED);
    frame_release(f);
}

/* The only flag the leaf entry points handle inline: any other bit
 * (FRAME_ZERO, FRAME_RESERVE, the FRAME_LONG_LIVED hint, or a caller bug)
 * sends the call to frame_alloc_flagged, so that a plain hit tests the
 * flags once and carries no memset. */
static inline bool frame_flags_plain(unsigned flags)
{
    return (flags & ~FRAME_UNIQUE) == 0;
}

static inline bool frame_flags_valid(unsigned flags)
{
    return (flags & ~(FRAME_ZERO | FRAME_UNIQUE | FRAME_RESERVE | FRAME_LONG_LIVED)) == 0;
}

static struct frame *frame_alloc_flagged(unsigned order, unsigned flags, const char *fn);

/* The last resort before out-of-memory: for FRAME_RESERVE the reserve
 * (buddy.c), then other CPUs' caches (pcp.c: reclaim), then this CPU's, then
 * the buddy allocator once more.  Out of line and with interrupts on: it may
 * wait for other CPUs. */
static __attribute__((noinline, cold)) struct frame *frame_alloc_reclaim(unsigned order,
                                                                         unsigned flags)
{
    bool reserve = flags & FRAME_RESERVE;
    struct frame *f = reserve ? buddy_alloc_reserve(order) : NULL;
    if (f == NULL) {
        if (pcp_reclaim_begin()) {
            mm_pcp_drain_local();
            f = reserve ? buddy_alloc_reserve(order) : buddy_alloc_any(order);
        }
        pcp_reclaim_end();
    }
    if (f == NULL && reserve)
        atomic_fetch_add_explicit(&mm_reserve_failures, 1, memory_order_relaxed);
    return f;
}

static MM_PANIC_PATH struct frame *frame_alloc_bad_args(unsigned order,
                                                                         unsigned flags,
                                                                         const char *fn)
{
    if (!frame_flags_valid(flags))
        PANIC("%s: unknown flags %#x", fn, flags);
    PANIC("%s: order %u (max %u), flags %#x", fn, order, MM_MAX_ORDER, flags);
}

/* A hit with FRAME_ZERO: the memset is a call, which would make every hit
 * save registers around it. */
static __attribute__((noinline)) struct frame *frame_prepare_zeroed(struct frame *f,
                                                                   unsigned order,
                                                                   unsigned flags, unsigned cpu)
{
    frame_prepare(f, order, flags, cpu);
    return f;
}

/* The end of every hit: a tail call when zeroing, else inline stores. */
static inline struct frame *frame_prepare_hit(struct frame *f, unsigned order, unsigned flags,
                                              unsigned cpu)
{
    if (unlikely(flags & FRAME_ZERO))
        return frame_prepare_zeroed(f, order, flags, cpu);
    frame_prepare(f, order, flags & ~FRAME_ZERO, cpu);
    return f;
}

/* What follows an allocation that no arena could serve at once: for an
 * order above 0 the frames parked in this CPU's cache may complete a
 * block, then the reclaim (frame_alloc_reclaim).  buddy_alloc_unit ends in
 * it by a tail call, so that the order-k path without a cache saves no
 * register for this case. */
struct frame *frame_alloc_exhausted(unsigned order, unsigned flags, unsigned cpu)
{
    struct frame *f = NULL;
    if (order != 0) {
        mm_pcp_drain_local();
        f = buddy_alloc_any(order);
    }
    if (f == NULL && (f = frame_alloc_reclaim(order, flags)) == NULL)
        return NULL;
    frame_prepare(f, order, flags, cpu);
    return f;
}

/* The end of a miss of this CPU's cache for an order it serves (order 0
 * also in the cache-off mode, which pcp_alloc_slow serves and counts): f
 * is the refill's or the block's frame, or NULL for the reclaim.
 * Interrupts are off as the hit path left them (s). */
static inline __attribute__((always_inline)) struct frame *
frame_alloc_cached_end(struct frame *f, unsigned order, unsigned flags, plat_irqstate_t s,
                       unsigned cpu)
{
    plat_irq_restore(s);
    if (unlikely(f == NULL) && (f = frame_alloc_reclaim(order, flags)) == NULL)
        return NULL;
    frame_prepare(f, order, flags, cpu);
    return f;
}

/* One function per kind of miss, so that neither tests the order again. */
static __attribute__((noinline)) struct frame *frame_alloc_refill_slow(unsigned flags,
                                                                      plat_irqstate_t s,
                                                                      struct pcp *p,
                                                                      unsigned cpu)
{
    return frame_alloc_cached_end(pcp_alloc_slow(p), 0, flags, s, cpu);
}

static __attribute__((noinline)) struct frame *frame_alloc_high_slow(unsigned order,
                                                                    unsigned flags,
                                                                    plat_irqstate_t s,
                                                                    struct pcp *p, unsigned cpu)
{
    return frame_alloc_cached_end(pcp_alloc_high_slow(p, order), order, flags, s, cpu);
}

/* FRAME_ZERO without a cache to serve it: the memset is a call, which
 * buddy_alloc_unit does not make. */
static __attribute__((noinline)) struct frame *frame_alloc_zeroed_slow(unsigned order,
                                                                      unsigned flags,
                                                                      unsigned cpu)
{
    struct frame *f = buddy_alloc_any(order);
    if (f == NULL)
        return frame_alloc_exhausted(order, flags, cpu);
    frame_prepare(f, order, flags, cpu);
    return f;
}

/* The rest of an allocation that missed the cache (or found it off, or a
 * reclaim pending, or no list for its order), interrupts off as the hit
 * path left them (s).  Every way out is a tail call: to the cache's slow
 * path, or for an order no cache serves straight to the buddy allocator,
 * whose buddy_alloc_unit sets up the unit and reaches the reclaim itself,
 * so that this function saves no register for any of them. */
static __attribute__((noinline)) struct frame *frame_alloc_order_slow(unsigned order,
                                                                     unsigned flags,
                                                                     plat_irqstate_t s)
{
    unsigned cpu = plat_cpu_index();
    struct pcp *p = cpu < mm.max_cpus ? &mm_pcp[cpu] : NULL;
    if (p && order == 0)
        return frame_alloc_refill_slow(flags, s, p, cpu);
    if (p && p->enabled && pcp_high_slot(order) >= 0)
        return frame_alloc_high_slow(order, flags, s, p, cpu);
    plat_irq_restore(s);
    if (unlikely(flags & FRAME_ZERO))
        return frame_alloc_zeroed_slow(order, flags, cpu);
    return buddy_alloc_unit(order, flags, cpu);
}

/* The hit path of every allocation: this CPU's cache in one load
 * (pcp_this: pcp_none for a CPU without one that is on, whose empty lists
 * send the call to the slow path), the list of the order (order 0, or
 * pcp_high_list: an uncached order's list is always empty), a pop.  Inline
 * in the leaves frame_alloc and frame_alloc_order, where order and flags
 * are known enough for the untaken branches and the memset to fold away,
 * and in frame_alloc_flagged. */
static inline __attribute__((always_inline)) struct frame *frame_alloc_hit(unsigned order,
                                                                          unsigned flags)
{
    plat_irqstate_t s = plat_irq_save();
    struct pcp *p = pcp_this();
    struct frame *f;
    if (order == 0) {
        f = p->head;
        if (unlikely(f == NULL) || unlikely(atomic_load_explicit(&p->reclaim,
                                                                 memory_order_relaxed)))
            return frame_alloc_order_slow(0, flags, s);
        p->head = f->next;
        p->count--;
        p->hits++;
    } else {
        unsigned list = pcp_high_list(order);
        f = p->high_head[list];
        if (unlikely(f == NULL) || unlikely(atomic_load_explicit(&p->reclaim,
                                                                 memory_order_relaxed)))
            return frame_alloc_order_slow(order, flags, s);
        p->high_head[list] = f->next;
        p->high_count[list]--;
        p->high_hits++;
    }
    unsigned cpu = p->cpu;
    plat_irq_restore(s);
    return frame_prepare_hit(f, order, flags, cpu);
}

struct frame *frame_alloc(unsigned flags)
{
    if (unlikely(!frame_flags_plain(flags)))
        return frame_alloc_flagged(0, flags, __func__);
    return frame_alloc_hit(0, flags & FRAME_UNIQUE); /* all there is: no memset */
}

/* What frame_alloc_order does not serve inline: order 0 (frame_alloc's),
 * flags, bad arguments.  Out of line, so that the leaf tests the flags in
 * place and keeps no copy of them for this. */
static __attribute__((noinline)) struct frame *frame_alloc_order_other(unsigned order,
                                                                       unsigned flags,
                                                                       const char *fn)
{
    if (order == 0 && frame_flags_plain(flags))
        return frame_alloc(flags);
    return frame_alloc_flagged(order, flags, fn);
}

/* One unsigned compare sends order 0 and orders above MM_MAX_ORDER off the
 * order-k hit path together. */
struct frame *frame_alloc_order(unsigned order, unsigned flags)
{
    if (likely(order - 1 < MM_MAX_ORDER) && likely(frame_flags_plain(flags)))
        return frame_alloc_hit(order, flags & FRAME_UNIQUE);
    return frame_alloc_order_other(order, flags, __func__);
}

static MM_PANIC_PATH void frame_freeze_failed(struct frame *f, uint64_t found,
                                                                const char *fn)
{
    mm_freeze_failed(fn, f, found);
}

/* Allocations with flags besides FRAME_UNIQUE, and bad arguments.
 * FRAME_LONG_LIVED with the anti-fragmentation policy on: a unit cut from
 * this CPU's long-lived region (mm/antifrag.c), or the ordinary path when
 * there is none. */
static __attribute__((noinline)) struct frame *frame_alloc_flagged(unsigned order, unsigned flags,
                                                                   const char *fn)
{
    if (order > MM_MAX_ORDER || !frame_flags_valid(flags))
        return frame_alloc_bad_args(order, flags, fn);
    if (flags & FRAME_LONG_LIVED) {
        flags &= ~FRAME_LONG_LIVED;
        struct frame *f = NULL;
        plat_irqstate_t s = plat_irq_save();
        unsigned cpu = plat_cpu_index();
        if (cpu < mm.max_cpus)
            f = antifrag_alloc_unit(&mm_pcp[cpu], order, true);
        plat_irq_restore(s);
        if (f != NULL) {
            frame_prepare(f, order, flags, cpu);
            return f;
        }
    }
    return frame_alloc_hit(order, flags);
}

/* Everything frame_free does not do inline: the release of a count of 1,
 * whose atomic RMW must stay out of the UNIQUE hit path (check_hitpath.py),
 * and the failures.  v and fl are what frame_free read; the arguments are
 * frame_free's registers as they are, so its branch here is the tail call
 * itself. */
static __attribute__((noinline)) void frame_free_counted(struct frame *f, uint64_t v, uint32_t fl)
{
    static const char fn[] = "frame_free"; /* the entry point its panics name */
    uint64_t found;
    if (unlikely(v != 1)) { /* ALLOCATED: frame_free checked it */
        frame_exclusive_failed(f, v, fl, fn);
        return;
    }
    if (unlikely(!frame_ref_release_one(f, &found))) {
        frame_freeze_failed(f, found, fn);
        return;
    }
    /* UNUSED already: the CAS was the release (state table). */
    frame_teardown_unit(f);
    frame_release(f);
}

void frame_free(struct frame *f)
{
    if (!frame_check_slot(f, __func__))
        return;
    uint64_t v = frame_ref_read(f);
    uint32_t fl = frame_flags_get(f);
    if (unlikely(!(fl & FRAME_F_ALLOCATED))) {
        frame_exclusive_failed(f, v, fl, __func__);
        return;
    }
    if (unlikely(v != REF_UNIQUE)) {
        frame_free_counted(f, v, fl);
        return;
    }
    /* UNIQUE: nobody else can hold a reference (from_in_use refuses UNIQUE),
     * so a plain store releases it. */
    frame_retire(f, false);
}

/* old: the count the failed check saw (before the increment, or what the
 * increment found when it raced a caller bug; undone first). */
static MM_PANIC_PATH void frame_clone_failed(struct frame *f, uint64_t old,
                                                               bool undo, const char *fn)
{
    frame_refuse_hole(f, fn);
    if (undo)
        frame_ref_dec(f);
    if (frame_flags_get(f) & FRAME_F_RESERVED)
        mm_panic_frame(fn, f, "clone of a reserved frame the allocator does not own");
    mm_panic_frame(fn, f,
                   old == REF_UNUSED   ? "clone of a free frame"
                   : old == REF_UNIQUE ? "clone of a UNIQUE frame (convert it first)"
                   : old == 0          ? "clone of a frame being torn down"
                                       : "refcount overflow");
}

/* A count a clone may add to: 1 <= v < REF_MAX.  As a signed test of v + 1
 * (> 1) it is lea/cmp/jle, with no 64-bit constant to load: 0 gives 1,
 * REF_MAX and everything above it (UNIQUE, UNUSED) a sign or 0. */
static inline bool frame_ref_clonable(uint64_t v)
{
    return (int64_t)(v + 1) > 1;
}

/* The hit path of frame_clone is the floor the checks allow: the handle
 * check (frame_check_slot: window offset, rotate, compare), the state check
 * of the count read before the add, the locked add and the check of its old
 * value, then ret.  Each check stays: a foreign handle, a clone of a free or
 * UNIQUE frame and an overflow are caller bugs that must panic naming the
 * frame, and the pre-read keeps a bad count from ever being published to a
 * racing frame_from_in_use. */
void frame_clone(struct frame *f)
{
    if (!frame_check_slot(f, __func__))
        return;
    uint64_t v = frame_ref_read(f);
    if (unlikely(!frame_ref_clonable(v))) {
        frame_clone_failed(f, v, false, __func__);
        return;
    }
    uint64_t old = frame_ref_inc(f);
    if (unlikely(!frame_ref_clonable(old))) /* changed under us: a racing caller bug */
        frame_clone_failed(f, old, true, __func__);
}

/* v: the count frame_drop read (after_sub false) or the old value its
 * subtraction returned (true). */
static MM_PANIC_PATH void frame_drop_failed(const struct frame *f, uint64_t v,
                                                              bool after_sub, const char *fn)
{
    frame_refuse_hole(f, fn);
    mm_panic_frame(fn, f, after_sub          ? "refcount underflow (racing double drop)"
                          : v == REF_UNUSED ? "drop of a free frame (double drop)"
                                            : "drop in an illegal state");
}

/* A count frame_drop's sign test refused (v: what it read): UNIQUE, whose
 * only holder drops its only reference and releases it as frame_free does
 * (a plain store: no atomic RMW), or a failure - 0 (a hole reads so),
 * UNUSED, above REF_MAX. */
static __attribute__((noinline)) void frame_drop_unshared(struct frame *f, uint64_t v,
                                                          const char *fn)
{
    if (unlikely(v != REF_UNIQUE)) {
        frame_drop_failed(f, v, false, fn);
        return;
    }
    uint32_t fl = frame_flags_get(f);
    if (unlikely(!(fl & FRAME_F_ALLOCATED))) {
        frame_exclusive_failed(f, v, fl, fn);
        return;
    }
    frame_retire(f, false);
}

/* The subtraction found old <= 1 or old > REF_MAX: the last reference went
 * (1: tear down and release), or a racing double drop. */
static __attribute__((noinline)) void frame_drop_last(struct frame *f, uint64_t old,
                                                      const char *fn)
{
    if (unlikely(old != 1)) {
        frame_drop_failed(f, old, true, fn);
        return;
    }
    acquire_fence_after_last_drop(f);
    frame_retire(f, true);
}

/* Like frame_clone: the handle check, the state check before the locked
 * subtract - one sign test, 1 <= v <= REF_MAX, that sends UNIQUE, free and
 * illegal counts to frame_drop_unshared - and the sign test of its old
 * value (2 <= old <= REF_MAX: others still hold it); the last drop is a
 * tail call. */
void frame_drop(struct frame *f)
{
    if (!frame_check_slot(f, __func__))
        return;
    uint64_t v = frame_ref_read(f);
    if (unlikely((int64_t)v <= 0)) {
        frame_drop_unshared(f, v, __func__);
        return;
    }
    uint64_t old = frame_ref_dec_release(f);
    if (likely((int64_t)old > 1))
        return;
    frame_drop_last(f, old, __func__);
}

void frame_unique_to_shared(struct frame *f)
{
    if (!frame_check_ptr(f, __func__))
        return;
    /* Reserved frames sit in the UNIQUE state too: only an allocated one may
     * become shared, or its last drop would hand a reserved frame out. */
    if (!(frame_flags_get(f) & FRAME_F_ALLOCATED))
        mm_panic_frame(__func__, f, "frame the allocator did not hand out");
    if (frame_ref_read(f) != REF_UNIQUE)
        mm_panic_frame(__func__, f, "frame is not UNIQUE");
    frame_ref_set_release(f, 1);
}
