/*
 * test_buddy.c - the buddy allocator: orders, split/coalesce, exhaustion and
 * recovery, edges, fragmentation index, lock statistics.
 */
#include "tests/mm/mm_test.h"

#include <math.h>
#include <stdlib.h>

static struct frame *held[1 << 16];

static void shuffle(struct frame **a, uint64_t n, unsigned seed)
{
    srand(seed);
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = (uint64_t)rand() % i;
        struct frame *t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static void buddy_smallest_and_largest_orders(void)
{
    /* 64 MiB at a 4 MiB-aligned base, so every max-order block is whole. */
    if (!mt_init1(64 * MiB, 64 * MiB))
        return;
    struct mm_stats st0 = mt_stats();
    unsigned max_units = (unsigned)st0.free_blocks[MM_MAX_ORDER];
    CHECK(max_units >= 14);
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++) {
        struct frame *f = frame_alloc_order(o, 0);
        CHECKF(f != NULL, "order %u", o);
        if (!f)
            continue;
        CHECKF(frame_pa(f) % (PAGE_SIZE << o) == 0, "order %u at %#llx", o,
               (unsigned long long)frame_pa(f));
        CHECK_EQ_U(frame_order(f), o);
        CHECK_EQ_U(frame_refcount(f), 1);
        CHECK_EQ_U(mt_stats().allocated_frames, (uint64_t)1 << o);
        /* The frames behind the head are not separate handles. */
        if (o > 0) {
            struct frame *g;
            uint64_t r;
            CHECK_EQ_U(frame_from_in_use(frame_pa(f) + PAGE_SIZE, &g, &r), FRAME_ERR_UNUSED);
            CHECK_EQ_U(frame_from_unused(frame_pa(f) + PAGE_SIZE, false, &g), FRAME_ERR_IN_USE);
        }
        mt_check();
        frame_drop(f);
        mm_pcp_drain_all();
        mt_check();
    }
    /* Back to the initial state: everything coalesced again. */
    struct mm_stats st1 = mt_stats();
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(st1.free_blocks[o], st0.free_blocks[o]);
    /* Exhaust the largest order, then recover. */
    struct frame *units[64];
    unsigned n = 0;
    while (n < 64 && (units[n] = frame_alloc_order(MM_MAX_ORDER, FRAME_UNIQUE)) != NULL)
        n++;
    CHECK_EQ_U(n, max_units);
    CHECK(frame_alloc_order(MM_MAX_ORDER, 0) == NULL);
    CHECK(frame_alloc_order(MM_MAX_ORDER - 1, 0) != NULL || st0.free_blocks[MM_MAX_ORDER - 1] == 0);
    mt_check();
    for (unsigned i = 0; i < n; i++)
        frame_free(units[i]);
    mm_pcp_drain_all();
    mt_check();
    CHECK(frame_alloc_order(MM_MAX_ORDER, 0) != NULL);
}

static void buddy_exhaustion_then_recovery(void)
{
    if (!mt_init1(32 * MiB, 16 * MiB))
        return;
    struct mm_stats st0 = mt_stats();
    for (int round = 0; round < 3; round++) {
        uint64_t n = mt_alloc_all(held, 1 << 16, round == 1 ? FRAME_UNIQUE : 0);
        CHECK_EQ_U(n, st0.total_frames);
        CHECK(frame_alloc(0) == NULL);
        CHECK(frame_alloc_order(1, 0) == NULL);
        uint64_t pa;
        CHECK_EQ_U(frame_alloc_contig(1, 1, 0, &pa), FRAME_ERR_NOMEM);
        struct mm_stats st = mt_stats();
        CHECK_EQ_U(st.allocated_frames, st.total_frames);
        CHECK_EQ_U(st.free_frames + st.cached_frames, 0);
        mt_check();
        shuffle(held, n, 7 + round);
        for (uint64_t i = 0; i < n; i++)
            frame_free(held[i]);
        mt_check();
        mm_pcp_drain_all();
        struct mm_stats st1 = mt_stats();
        CHECK_EQ_U(st1.free_frames, st0.total_frames);
        for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
            CHECK_EQ_U(st1.free_blocks[o], st0.free_blocks[o]);
    }
}

/* Frees in every order must coalesce back to the same blocks. */
static void buddy_coalesces_in_any_free_order(void)
{
    if (!mt_init1(8 * MiB, 8 * MiB))
        return;
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.pcp.enabled = false; /* every free reaches the buddy lists at once */
    CHECK(mm_pcp_configure(&cfg.pcp));
    struct mm_stats st0 = mt_stats();
    for (unsigned seed = 1; seed <= 4; seed++) {
        uint64_t n = mt_alloc_all(held, 1 << 16, 0);
        CHECK_EQ_U(n, st0.total_frames);
        shuffle(held, n, seed);
        for (uint64_t i = 0; i < n; i++) {
            frame_drop(held[i]);
            if (i % 257 == 0)
                mt_check(); /* includes: no two free buddies left uncoalesced */
        }
        struct mm_stats st1 = mt_stats();
        for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
            CHECK_EQ_U(st1.free_blocks[o], st0.free_blocks[o]);
    }
}

static void buddy_unaligned_arena_edges(void)
{
    /* pfns [3, 3 + 3000): no max-order block fits between the odd edges
     * except where alignment allows; blocks never cross either edge. */
    struct phys_range u = {3 * PAGE_SIZE, (3 + 3000) * PAGE_SIZE};
    if (!mt_init(&u, 1, NULL, 0))
        return;
    struct mm_stats st = mt_stats();
    mt_check();
    CHECK_EQ_U(st.free_blocks[MM_MAX_ORDER], 1); /* [1024, 2048) only */
    /* Every block is aligned and inside the arena (mm_check), and the sizes
     * add up. */
    uint64_t sum = 0;
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        sum += st.free_blocks[o] << o;
    CHECK_EQ_U(sum, st.total_frames);
    struct frame *a = frame_alloc_order(MM_MAX_ORDER, 0);
    CHECK(a && frame_pa(a) == 1024 * PAGE_SIZE);
    CHECK(frame_alloc_order(MM_MAX_ORDER, 0) == NULL);
    struct frame *b = frame_alloc_order(9, 0);
    CHECK(b && frame_pa(b) % (512 * PAGE_SIZE) == 0);
    /* The lowest frame of the arena is pfn 3. */
    struct frame *f;
    CHECK_EQ_U(frame_from_unused(3 * PAGE_SIZE, true, &f), FRAME_OK);
    CHECK_EQ_U(frame_from_unused(2 * PAGE_SIZE, true, &f), FRAME_ERR_OUT_OF_BOUND);
    frame_free(f);
    frame_drop(a);
    frame_drop(b);
    mm_pcp_drain_all();
    struct mm_stats st1 = mt_stats();
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(st1.free_blocks[o], st.free_blocks[o]);
    mt_check();
}

static void buddy_fragmentation_index(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.pcp.enabled = false;
    CHECK(mm_pcp_configure(&cfg.pcp));
    /* Fresh memory: [16 MiB, 32 MiB - 260 KiB) (the metadata takes the end:
     * 64 window pages and a page of the map of them) is three max-order blocks and a
     * tail of orders 9, 8, 7, 5, 4, 3, 2, 1, 0; the index of order o is the
     * tail below o over all 4031 free frames. */
    const double fresh[MM_MAX_ORDER + 1] = {0,           1 / 4031.0,   3 / 4031.0,  7 / 4031.0,
                                            15 / 4031.0, 31 / 4031.0,  63 / 4031.0, 63 / 4031.0,
                                            191 / 4031.0, 447 / 4031.0, 959 / 4031.0};
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECKF(fabs(mm_fragmentation_index(o) - fresh[o]) < 1e-9, "order %u: %f, want %f", o,
               mm_fragmentation_index(o), fresh[o]);
    uint64_t n = mt_alloc_all(held, 1 << 16, 0);
    CHECK(mm_fragmentation_index(0) == 1.0); /* nothing free: all (none) unusable */
    /* Free every other frame: all free space is order-0. */
    for (uint64_t i = 0; i < n; i += 2)
        frame_drop(held[i]);
    CHECK(mm_fragmentation_index(0) == 0.0);
    CHECK(mm_fragmentation_index(1) > 0.99);
    CHECK(mm_fragmentation_index(MM_MAX_ORDER) > 0.99);
    CHECK(mm_fragmentation_index(MM_MAX_ORDER + 1) == 1.0);
    for (uint64_t i = 1; i < n; i += 2)
        frame_drop(held[i]);
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK(fabs(mm_fragmentation_index(o) - fresh[o]) < 1e-9);
    mt_check();
}

static void buddy_lock_statistics(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    struct mm_stats st = mt_stats();
    CHECK_EQ_U(st.lock.acquisitions, 0); /* init's own work is not counted */
    /* Order 4 has no per-CPU list: every operation takes the lock. */
    struct frame *f = frame_alloc_order(4, 0);
    frame_drop(f);
    st = mt_stats();
    CHECK_EQ_U(st.lock.acquisitions, 2);
    CHECK_EQ_U(st.lock.contended, 0);
    /* Hold times are sampled: about 1 in 16 acquisitions is timed. */
    for (int i = 0; i < 1599; i++)
        frame_drop(frame_alloc_order(4, 0));
    st = mt_stats();
    CHECK_EQ_U(st.lock.acquisitions, 3200);
    CHECKF(st.lock.hold_samples >= 100 && st.lock.hold_samples <= 320, "%llu samples",
           (unsigned long long)st.lock.hold_samples);
    CHECK(st.lock.hold_cycles >= st.lock.hold_samples * 16);
    /* Introspection is not allocator work. */
    mt_check();
    CHECK_EQ_U(mt_stats().lock.acquisitions, 3200);
    mm_lock_stats_reset();
    CHECK_EQ_U(mt_stats().lock.acquisitions, 0);
    CHECK_EQ_U(mt_stats().lock.hold_cycles, 0);
}

/* The *_locked functions refuse to run without the lock. */
static void buddy_locked_functions_assert_the_lock(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    EXPECT_PANIC(buddy_alloc_block_locked(&mm_arenas[0], 0), "lock not held");
    EXPECT_PANIC(buddy_free_block_locked(&mm_arenas[0], 4096, 0), "lock not held");
    mt_check();
}

void mm_tests_buddy(void)
{
    RUN(buddy_smallest_and_largest_orders);
    RUN(buddy_exhaustion_then_recovery);
    RUN(buddy_coalesces_in_any_free_order);
    RUN(buddy_unaligned_arena_edges);
    RUN(buddy_fragmentation_index);
    RUN(buddy_lock_statistics);
    RUN(buddy_locked_functions_assert_the_lock);
}
