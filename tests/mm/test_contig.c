/*
 * test_contig.c - frame_alloc_contig / frame_free_contig: powers of two,
 * non-powers of two (tail trimmed), alignment larger than size, runs beyond
 * the largest order, zeroing, bad arguments.
 */
#include "tests/mm/mm_test.h"

static bool all_unique(uint64_t pa, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        struct frame *f;
        uint64_t r;
        if (frame_from_in_use(pa + i * PAGE_SIZE, &f, &r) != FRAME_ERR_UNIQUE)
            return false;
    }
    return true;
}

static void contig_powers_of_two(void)
{
    if (!mt_init1(64 * MiB, 64 * MiB))
        return;
    uint64_t total = mt_stats().total_frames;
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++) {
        uint64_t n = (uint64_t)1 << o, pa;
        CHECK_EQ_U(frame_alloc_contig(n, n, 0, &pa), FRAME_OK);
        CHECK_EQ_U(pa % (n * PAGE_SIZE), 0);
        CHECK(all_unique(pa, n));
        CHECK_EQ_U(mt_stats().allocated_frames, n);
        mt_check();
        frame_free_contig(pa, n);
        CHECK_EQ_U(mt_stats().free_frames, total);
    }
    mt_check();
}

static void contig_non_power_of_two_trims_the_tail(void)
{
    if (!mt_init1(64 * MiB, 64 * MiB))
        return;
    struct mm_stats st0 = mt_stats();
    const uint64_t sizes[] = {3, 5, 7, 100, 513, 1000, 1023};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t n = sizes[i], pa;
        CHECK_EQ_U(frame_alloc_contig(n, 1, 0, &pa), FRAME_OK);
        struct mm_stats st = mt_stats();
        /* Only n frames left the free lists: the excess went back at once. */
        CHECK_EQ_U(st.allocated_frames, n);
        CHECK_EQ_U(st.free_frames, st0.total_frames - n);
        CHECK(all_unique(pa, n));
        struct frame *f;
        uint64_t r;
        CHECK_EQ_U(frame_from_in_use(pa + n * PAGE_SIZE, &f, &r), FRAME_ERR_UNUSED);
        mt_check();
        frame_free_contig(pa, n);
        struct mm_stats st1 = mt_stats();
        for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
            CHECK_EQ_U(st1.free_blocks[o], st0.free_blocks[o]);
    }
    /* Several runs side by side, freed in another order. */
    uint64_t pa[6];
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ_U(frame_alloc_contig(3 + i * 2, 1, 0, &pa[i]), FRAME_OK);
    for (unsigned i = 0; i < 6; i++)
        for (unsigned j = 0; j < 6; j++)
            CHECK(i == j || pa[i] + (3 + i * 2) * PAGE_SIZE <= pa[j] ||
                  pa[j] + (3 + j * 2) * PAGE_SIZE <= pa[i]);
    mt_check();
    for (unsigned i = 6; i-- > 0;)
        frame_free_contig(pa[i], 3 + i * 2);
    mt_check();
    struct mm_stats st2 = mt_stats();
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(st2.free_blocks[o], st0.free_blocks[o]);
}

static void contig_alignment_larger_than_size(void)
{
    if (!mt_init1(64 * MiB, 64 * MiB))
        return;
    struct mm_stats st0 = mt_stats();
    uint64_t pa, pb;
    CHECK_EQ_U(frame_alloc_contig(3, 64, 0, &pa), FRAME_OK);
    CHECK_EQ_U(pa % (64 * PAGE_SIZE), 0);
    CHECK_EQ_U(mt_stats().allocated_frames, 3);
    /* A one-frame request at 2 MiB alignment. */
    CHECK_EQ_U(frame_alloc_contig(1, 512, FRAME_ZERO, &pb), FRAME_OK);
    CHECK_EQ_U(pb % (2 * MiB), 0);
    /* Alignment beyond the largest order: 8 MiB. */
    uint64_t pc;
    CHECK_EQ_U(frame_alloc_contig(2, 2048, 0, &pc), FRAME_OK);
    CHECK_EQ_U(pc % (8 * MiB), 0);
    mt_check();
    frame_free_contig(pa, 3);
    frame_free_contig(pb, 1);
    frame_free_contig(pc, 2);
    struct mm_stats st1 = mt_stats();
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(st1.free_blocks[o], st0.free_blocks[o]);
    /* A free order-0 frame that happens to sit at an aligned address is
     * preferred to splitting a larger block. */
    CHECK_EQ_U(frame_alloc_contig(8, 8, 0, &pa), FRAME_OK);
    frame_free_contig(pa, 1); /* its buddy is still allocated: stays order 0 */
    struct mm_stats before = mt_stats();
    CHECK_EQ_U(frame_alloc_contig(1, 8, 0, &pb), FRAME_OK);
    CHECK_EQ_U(pb, pa);
    struct mm_stats after = mt_stats();
    CHECK_EQ_U(after.free_blocks[0], before.free_blocks[0] - 1);
    for (unsigned o = 1; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(after.free_blocks[o], before.free_blocks[o]);
    frame_free_contig(pa, 8);
    mt_check();
    struct mm_stats st2 = mt_stats();
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(st2.free_blocks[o], st0.free_blocks[o]);
}

static void contig_beyond_the_largest_order(void)
{
    if (!mt_init1(64 * MiB, 64 * MiB))
        return;
    struct mm_stats st0 = mt_stats();
    uint64_t pa;
    /* 12 MiB + 1 frame: four adjacent max-order blocks, the last one trimmed. */
    uint64_t n = 3 * 1024 + 1;
    CHECK_EQ_U(frame_alloc_contig(n, 1, FRAME_ZERO, &pa), FRAME_OK);
    CHECK_EQ_U(mt_stats().allocated_frames, n);
    CHECK(all_unique(pa, n));
    mt_check();
    frame_free_contig(pa, n);
    struct mm_stats st1 = mt_stats();
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(st1.free_blocks[o], st0.free_blocks[o]);
    /* More than there is. */
    CHECK_EQ_U(frame_alloc_contig(st0.total_frames + 1, 1, 0, &pa), FRAME_ERR_NOMEM);
    CHECK_EQ_U(frame_alloc_contig(16 * 1024, 1, 0, &pa), FRAME_ERR_NOMEM);
    /* Breaking adjacency: one frame allocated in every max block. */
    struct frame *pin[16];
    unsigned pins = 0;
    for (uint64_t b = 64 * MiB; b < 124 * MiB; b += 4 * MiB) {
        struct frame *f;
        if (frame_from_unused(b + 4 * MiB - PAGE_SIZE, true, &f) == FRAME_OK)
            pin[pins++] = f;
    }
    CHECK_EQ_U(frame_alloc_contig(2048, 1, 0, &pa), FRAME_ERR_NOMEM);
    CHECK_EQ_U(frame_alloc_contig(1023, 1, 0, &pa), FRAME_ERR_NOMEM); /* needs a whole max block */
    CHECK_EQ_U(frame_alloc_contig(511, 1, 0, &pa), FRAME_OK);
    frame_free_contig(pa, 511);
    for (unsigned i = 0; i < pins; i++)
        frame_free(pin[i]);
    mm_pcp_drain_all();
    mt_check();
}

/* A large request that fails reads each max-order position a bounded number
 * of times (one pass, twice with the retry after the local drain), not every
 * free block's successors; and no lock hold reads more than one chunk plus
 * the request. */
static void contig_large_scan_is_linear_and_bounded(void)
{
    const uint64_t run = 63, positions = 1024; /* 4 GiB: 1024 max-order blocks */
    if (!mt_init1(4 * GiB, 4 * GiB))
        return;
    /* One frame pinned in every 64th block: free runs of 63 blocks. */
    static struct frame *pin[32];
    unsigned pins = 0;
    for (uint64_t b = 0; b < positions; b += run + 1)
        CHECK_EQ_U(frame_from_unused(4 * GiB + (b << (MM_MAX_ORDER + PAGE_SHIFT)), true,
                                     &pin[pins++]), FRAME_OK);
    struct arena *a = &mm_arenas[0];
    uint64_t pa, slots0 = a->contig_scan_slots;
    CHECK_EQ_U(frame_alloc_contig((run + 1) << MM_MAX_ORDER, 1, 0, &pa), FRAME_ERR_NOMEM);
    uint64_t slots = a->contig_scan_slots - slots0;
    CHECKF(slots <= 2 * positions, "a failing 64-block request read %llu slots for %llu "
           "positions (quadratic scan?)", (unsigned long long)slots,
           (unsigned long long)positions);
    CHECKF(a->contig_scan_max_hold <= 64 + run + 1, "one lock hold read %llu slots",
           (unsigned long long)a->contig_scan_max_hold);
    fprintf(stderr, "contig: a failing %llu-block request read %llu slots, at most %llu per "
            "lock hold\n", (unsigned long long)(run + 1), (unsigned long long)slots,
            (unsigned long long)a->contig_scan_max_hold);
    /* A run of exactly the request succeeds, at a max-order boundary, and
     * the next request finds the run after it. */
    CHECK_EQ_U(frame_alloc_contig(run << MM_MAX_ORDER, 1, 0, &pa), FRAME_OK);
    CHECK_EQ_U(pa, 4 * GiB + ((uint64_t)1 << (MM_MAX_ORDER + PAGE_SHIFT)));
    uint64_t pa2;
    CHECK_EQ_U(frame_alloc_contig(run << MM_MAX_ORDER, 8192, 0, &pa2), FRAME_ERR_NOMEM);
    CHECK_EQ_U(frame_alloc_contig(run << MM_MAX_ORDER, 1, 0, &pa2), FRAME_OK);
    CHECK_EQ_U(pa2, pa + ((run + 1) << (MM_MAX_ORDER + PAGE_SHIFT)));
    mt_check();
    frame_free_contig(pa, run << MM_MAX_ORDER);
    frame_free_contig(pa2, run << MM_MAX_ORDER);
    for (unsigned i = 0; i < pins; i++)
        frame_free(pin[i]);
    mm_pcp_drain_all();
    /* Everything free again: a 2 GiB run aligned to 1 GiB. */
    CHECK_EQ_U(frame_alloc_contig(512 << MM_MAX_ORDER, 256 << MM_MAX_ORDER, 0, &pa), FRAME_OK);
    CHECK_EQ_U(pa % GiB, 0);
    frame_free_contig(pa, 512 << MM_MAX_ORDER);
    mt_check();
}

static void contig_zeroes_and_single_frames_zero(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    uint64_t pa;
    CHECK_EQ_U(frame_alloc_contig(37, 1, 0, &pa), FRAME_OK);
    memset(plat_phys_to_virt(pa), 0xee, 37 * PAGE_SIZE);
    frame_free_contig(pa, 37);
    CHECK_EQ_U(frame_alloc_contig(37, 1, FRAME_ZERO, &pa), FRAME_OK);
    const unsigned char *p = plat_phys_to_virt(pa);
    uint64_t nonzero = 0;
    for (uint64_t i = 0; i < 37 * PAGE_SIZE; i++)
        nonzero += p[i] != 0;
    CHECK_EQ_U(nonzero, 0);
    frame_free_contig(pa, 37);
    /* Single frames and order-k units. */
    struct frame *f = frame_alloc(0);
    memset(frame_va(f), 0xdd, PAGE_SIZE);
    frame_drop(f);
    f = frame_alloc(FRAME_ZERO); /* the same frame, back from the cache */
    p = frame_va(f);
    nonzero = 0;
    for (uint64_t i = 0; i < PAGE_SIZE; i++)
        nonzero += p[i] != 0;
    CHECK_EQ_U(nonzero, 0);
    frame_drop(f);
    f = frame_alloc_order(4, 0);
    memset(frame_va(f), 0xcc, 16 * PAGE_SIZE);
    frame_drop(f);
    f = frame_alloc_order(4, FRAME_ZERO | FRAME_UNIQUE);
    p = frame_va(f);
    nonzero = 0;
    for (uint64_t i = 0; i < 16 * PAGE_SIZE; i++)
        nonzero += p[i] != 0;
    CHECK_EQ_U(nonzero, 0);
    CHECK_EQ_U(frame_refcount(f), REF_UNIQUE);
    frame_free(f);
    mt_check();
}

static void contig_bad_arguments(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    uint64_t pa;
    CHECK_EQ_U(frame_alloc_contig(0, 1, 0, &pa), FRAME_ERR_INVALID);
    CHECK_EQ_U(frame_alloc_contig(1, 0, 0, &pa), FRAME_ERR_INVALID);
    CHECK_EQ_U(frame_alloc_contig(1, 3, 0, &pa), FRAME_ERR_INVALID);
    CHECK_EQ_U(frame_alloc_contig(1, 1, 0x80, &pa), FRAME_ERR_INVALID);
    CHECK_EQ_U(frame_alloc_contig(1, 1, 0, NULL), FRAME_ERR_INVALID);
    CHECK_EQ_U(frame_alloc_contig(1, (uint64_t)1 << 62, 0, &pa), FRAME_ERR_NOMEM);
    CHECK_EQ_U(mt_stats().allocated_frames, 0);
    /* Each frame of a run is independent: share one, drop it alone. */
    CHECK_EQ_U(frame_alloc_contig(4, 4, 0, &pa), FRAME_OK);
    struct frame *f;
    CHECK_EQ_U(frame_from_unused(pa, false, &f), FRAME_ERR_UNIQUE);
    mt_check();
    frame_free_contig(pa, 4);
    mt_check();
}

void mm_tests_contig(void)
{
    RUN(contig_powers_of_two);
    RUN(contig_non_power_of_two_trims_the_tail);
    RUN(contig_alignment_larger_than_size);
    RUN(contig_beyond_the_largest_order);
    RUN(contig_large_scan_is_linear_and_bounded);
    RUN(contig_zeroes_and_single_frames_zero);
    RUN(contig_bad_arguments);
}
