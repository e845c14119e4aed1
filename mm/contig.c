/*
 * contig.c - contiguous allocation: n frames (any n >= 1) at a power-of-two
 * alignment, from the buddy allocator (seed 002's alloc_contiguous(layout)).
 *
 * The covering block is the smallest one that is both large enough and
 * aligned: order max(ceil(log2 n), log2 align), or a smaller free block that
 * happens to sit at an aligned address; its tail beyond n frames goes back
 * to the free lists at once.  Runs beyond 2^MM_MAX_ORDER frames are found as
 * physically adjacent max-order blocks, in one pass over the arena in
 * bounded lock holds (buddy.c: contig_large).  A failure first returns this CPU's
 * cached frames to the buddy allocator (they may complete a block) and tries
 * again, then asks every other CPU for its cached frames (pcp.c: reclaim)
 * and tries once more.
 *
 * Unlike order-k units (frame_alloc_order), every frame of a contiguous run
 * is its own UNIQUE frame (Asterinas' Segment): the caller may convert, share
 * and drop them one by one.  That costs one metadata write per frame, the
 * price of n independent handles; frame_free_contig checks every frame before
 * it changes anything, and releases frames with a count of 1 by the same
 * atomic 1 -> 0 freeze as frame_free (undone if a later frame refuses), so a
 * panic leaves the state as it found it.
 */
#include "mm/mm_int.h"

static bool contig_alloc_pfn(uint64_t n, uint64_t align, uint64_t *pfn)
{
    for (unsigned i = mm.n_arenas; i-- > 0;) {
        struct arena *a = &mm_arenas[i];
        if (a->end_pfn - a->base_pfn < n)
            continue;
        if (buddy_alloc_contig(a, n, align, pfn))
            return true;
    }
    return false;
}

enum frame_error frame_alloc_contig(uint64_t n, uint64_t align, unsigned flags, uint64_t *pa_out)
{
    if (n == 0 || align == 0 || (align & (align - 1)) || pa_out == NULL ||
        (flags & ~(FRAME_ZERO | FRAME_UNIQUE)))
        return FRAME_ERR_INVALID;
    if (n > mm.total_frames || align > ((uint64_t)1 << (63 - PAGE_SHIFT)))
        return FRAME_ERR_NOMEM;
    uint64_t pfn;
    if (!contig_alloc_pfn(n, align, &pfn)) {
        /* Cached frames may complete a run: this CPU's, then every CPU's. */
        mm_pcp_drain_local();
        if (!contig_alloc_pfn(n, align, &pfn)) {
            bool ok = pcp_reclaim_begin() && contig_alloc_pfn(n, align, &pfn);
            pcp_reclaim_end();
            if (!ok)
                return FRAME_ERR_NOMEM;
        }
    }
    struct frame *f = arena_frame(&mm_arenas[mm_arena_of_pfn(pfn)], pfn);
    unsigned cpu = plat_cpu_index();
    /* UNIQUE by a plain store: the run was taken out of the free lists under
     * the arena lock, it is ours alone (state table: frame.c).  Zeroed once,
     * as one range, below. */
    for (uint64_t i = 0; i < n; i++)
        frame_prepare(&f[i], 0, FRAME_UNIQUE, cpu);
    if (flags & FRAME_ZERO)
        __builtin_memset(plat_phys_to_virt(pfn << PAGE_SHIFT), 0, n << PAGE_SHIFT);
    *pa_out = pfn << PAGE_SHIFT;
    return FRAME_OK;
}

void frame_free_contig(uint64_t pa, uint64_t n)
{
    if (pa & (PAGE_SIZE - 1))
        PANIC("%s: pa %#llx is not frame aligned (misaligned free)", __func__,
              (unsigned long long)pa);
    uint64_t pfn = pa >> PAGE_SHIFT;
    int ai = mm_arena_of_pfn(pfn);
    if (n == 0 || ai < 0 || pfn + n > mm.span[ai].end_pfn || pfn + n < pfn)
        PANIC("%s: [%#llx, +%llu frames) is not memory the allocator owns", __func__,
              (unsigned long long)pa, (unsigned long long)n);
    struct arena *a = &mm_arenas[ai];
    struct frame *f = arena_frame(a, pfn);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = frame_ref_read(&f[i]);
        uint32_t fl = frame_flags_get(&f[i]);
        if ((fl & FRAME_F_ALLOCATED) && f[i].order == 0 && (v == REF_UNIQUE || v == 1))
            continue;
        mm_panic_frame(__func__, &f[i],
                       (fl & FRAME_F_RESERVED)   ? "free of a reserved frame the allocator does not own"
                       : v == REF_UNUSED         ? "double free"
                       : (v > 1 && v <= REF_MAX) ? "free of a frame still shared"
                       : (fl & FRAME_F_ALLOCATED) && f[i].order
                           ? "frame heads an order-k unit (free it with frame_free)"
                           : "frame is not an exclusively owned allocated frame");
    }
    /* Frames converted to a count of 1 may have been shared since the check:
     * each is released by the atomic 1 -> 0 freeze; if one refuses, the
     * frozen ones get their count back before the panic. */
    for (uint64_t i = 0; i < n; i++) {
        uint64_t found;
        if (frame_ref_read(&f[i]) == REF_UNIQUE || frame_ref_freeze(&f[i], &found))
            continue;
        for (uint64_t j = 0; j < i; j++)
            if (frame_ref_read(&f[j]) == 0)
                frame_ref_set_release(&f[j], 1);
        mm_freeze_failed(__func__, &f[i], found);
    }
    for (uint64_t i = 0; i < n; i++) {
        frame_teardown(&f[i]);
        frame_ref_set(&f[i], REF_UNUSED);
    }
    plat_irqstate_t s = mm_lock_acquire(&a->lock);
    buddy_free_range_locked(a, pfn, n);
    mm_lock_release(&a->lock, s);
}
