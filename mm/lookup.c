/*
 * lookup.c - frames by physical address (frame_from_unused, which claims a
 * free frame out of the buddy allocator, and frame_from_in_use, which takes
 * a reference to one in use) and the handle's accessors.  The states and
 * orderings they follow are the table at the top of frame.c.
 */
#include "mm/mm_int.h"

/* The metadata slot of the frame at pa, for the lookups by address:
 * NOT_ALIGNED, or OUT_OF_BOUND outside every arena and in an arena's holes. */
static inline __attribute__((always_inline)) enum frame_error
frame_lookup(uint64_t pa, struct arena **arena, struct frame **frame)
{
    if (pa & (PAGE_SIZE - 1))
        return FRAME_ERR_NOT_ALIGNED;
    uint64_t pfn = pa >> PAGE_SHIFT;
    int ai = mm_arena_of_pfn(pfn);
    if (ai < 0)
        return FRAME_ERR_OUT_OF_BOUND;
    *arena = &mm_arenas[ai];
    *frame = arena_frame(*arena, pfn);
    return frame_flags_get(*frame) & FRAME_F_ABSENT ? FRAME_ERR_OUT_OF_BOUND : FRAME_OK;
}

enum frame_error frame_from_unused(uint64_t pa, bool unique, struct frame **out)
{
    struct arena *a;
    struct frame *f;
    enum frame_error err = frame_lookup(pa, &a, &f);
    if (err != FRAME_OK)
        return err;
    uint64_t pfn = pa >> PAGE_SHIFT;
    if (frame_flags_get(f) & FRAME_F_RESERVED)
        return FRAME_ERR_IN_USE;
    uint64_t v = frame_ref_read(f);
    if (v != REF_UNUSED)
        return v == REF_UNIQUE ? FRAME_ERR_UNIQUE : v == 0 ? FRAME_ERR_BUSY : FRAME_ERR_IN_USE;
    /* A cached frame (or one inside a cached block) belongs to its CPU: this
     * CPU hands back just that frame or block if it is its own; another
     * CPU's is out of reach (BUSY below) and this CPU's cache stays as it
     * is. */
    if (pcp_pfn_cached(a, pfn))
        pcp_release_local(a, pfn);

    plat_irqstate_t s = mm_lock_acquire(&a->lock);
    bool claimed = buddy_claim_locked(a, pfn);
    if (claimed) {
        uint64_t expect = REF_UNUSED;
        if (!frame_ref_cas_acquire(f, &expect, 0))
            mm_panic_frame(__func__, f, "free frame in a buddy list was not UNUSED");
    }
    mm_lock_release(&a->lock, s);
    if (!claimed) {
        /* Not free in the buddy lists: another CPU's cache or a refill in
         * flight (BUSY), or an allocation in flight or a frame behind the
         * head of an allocated order-k unit (IN_USE). */
        return pcp_pfn_cached(a, pfn) ? FRAME_ERR_BUSY : FRAME_ERR_IN_USE;
    }
    frame_prepare(f, 0, unique ? FRAME_UNIQUE : 0, plat_cpu_index());
    *out = f;
    return FRAME_OK;
}

enum frame_error frame_from_in_use(uint64_t pa, struct frame **out, uint64_t *retries)
{
    uint64_t failed = 0;
    enum frame_error err;
    if (retries)
        *retries = 0;
    struct arena *a;
    struct frame *f;
    err = frame_lookup(pa, &a, &f);
    if (err != FRAME_OK)
        return err;
    uint64_t v = frame_ref_read(f);
    for (;;) {
        if (v == REF_UNUSED) {
            err = FRAME_ERR_UNUSED;
            break;
        }
        if (v == REF_UNIQUE) {
            err = FRAME_ERR_UNIQUE;
            break;
        }
        if (v == 0) {
            err = FRAME_ERR_BUSY;
            break;
        }
        if (unlikely(v >= REF_MAX))
            mm_panic_frame(__func__, f, "refcount overflow");
        if (frame_ref_cas_weak_acquire(f, &v, v + 1)) {
            *out = f;
            err = FRAME_OK;
            break;
        }
        failed++; /* v now holds the value that beat us */
    }
    if (retries)
        *retries = failed;
    return err;
}

uint64_t frame_pa(const struct frame *f)
{
    return mm_pfn_of_frame(f) << PAGE_SHIFT;
}

void *frame_va(const struct frame *f)
{
    return plat_phys_to_virt(mm_pfn_of_frame(f) << PAGE_SHIFT);
}

uint64_t frame_refcount(const struct frame *f)
{
    return frame_ref_read(f);
}

void frame_set_owner(struct frame *f, uint64_t owner)
{
    f->owner = owner;
}

uint64_t frame_owner(const struct frame *f)
{
    return f->owner;
}

unsigned frame_order(const struct frame *f)
{
    return f->order;
}
