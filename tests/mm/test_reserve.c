/*
 * test_reserve.c - the reserve (mm/buddy.c): its size rule, ordinary
 * allocations leaving it alone, FRAME_RESERVE allocations taking it, and
 * the counters in mm_get_stats.
 */
#include "tests/mm/mm_test.h"

static void reserve_size_rule(void)
{
    /* sqrt(16 x KiB) KiB, within [128 KiB, 64 MiB] and 1/16 of memory. */
    CHECK_EQ_U(buddy_reserve_size(262144), 1024);     /* 1 GiB: 4 MiB */
    CHECK_EQ_U(buddy_reserve_size(16384), 256);       /* 64 MiB: 1 MiB */
    CHECK_EQ_U(buddy_reserve_size(4194304), 4096);    /* 16 GiB: 16 MiB */
    CHECK_EQ_U(buddy_reserve_size(1u << 30), 16384);  /* 4 TiB: the 64 MiB cap */
    CHECK_EQ_U(buddy_reserve_size(1024), 64);         /* 4 MiB: 256 KiB, 1/16 */
    CHECK_EQ_U(buddy_reserve_size(256), 16);          /* 1 MiB: 1/16 beats 128 KiB */
    CHECK_EQ_U(buddy_reserve_size(0), 0);
}

/* Two arenas, the reserve restored (mt_init removes it): 16 MiB at 16 MiB
 * and 16 MiB at 4 GiB. */
static bool reserve_init(void)
{
    struct phys_range u[] = {{16 * MiB, 32 * MiB}, {4 * GiB, 4 * GiB + 16 * MiB}};
    if (!mt_init(u, 2, NULL, 0))
        return false;
    buddy_reserve_init();
    return true;
}

static void reserve_left_alone_then_used(void)
{
    if (!reserve_init())
        return;
    static struct frame *all[16384];
    struct mm_stats st = mt_stats();
    uint64_t reserve = st.reserve_frames;
    CHECK_EQ_U(reserve, buddy_reserve_size(st.total_frames) / 2 * 2); /* split evenly */
    CHECK(reserve > 0);
    /* Ordinary allocations, single frames and order 3, stop at the reserve. */
    uint64_t n = 0;
    struct frame *f;
    while (n < 16384 && (f = frame_alloc(0)) != NULL)
        all[n++] = f;
    CHECK_EQ_U(n, st.total_frames - reserve);
    CHECK(frame_alloc_order(3, 0) == NULL);
    uint64_t pa;
    CHECK_EQ_U(frame_alloc_contig(1, 1, 0, &pa), FRAME_ERR_NOMEM);
    st = mt_stats();
    CHECK_EQ_U(st.free_frames, reserve);
    CHECK_EQ_U(st.reserve_allocs + st.reserve_failures, 0);
    /* FRAME_RESERVE takes it, counted, down to the last frame. */
    struct frame *big = frame_alloc_order(3, FRAME_RESERVE | FRAME_UNIQUE);
    CHECK(big != NULL);
    uint64_t took = 8;
    while (n < 16384 && (f = frame_alloc(FRAME_RESERVE)) != NULL) {
        all[n++] = f;
        took++;
    }
    CHECK_EQ_U(took, reserve);
    st = mt_stats();
    CHECK_EQ_U(st.reserve_allocs, reserve - 8 + 1);
    CHECK_EQ_U(st.reserve_failures, 1);
    CHECK_EQ_U(st.free_frames + st.cached_frames, 0);
    mt_check();
    /* Freed, the reserve is whole again and ordinary allocations stop at it. */
    frame_free(big);
    for (uint64_t i = 0; i < n; i++)
        frame_drop(all[i]);
    mm_pcp_drain_all();
    mt_check();
    st = mt_stats();
    CHECK_EQ_U(st.free_frames, st.total_frames);
}

static void reserve_not_touched_above_the_watermark(void)
{
    if (!reserve_init())
        return;
    /* With memory to spare, FRAME_RESERVE is an ordinary allocation: cache
     * hits, no count. */
    struct frame *f = frame_alloc(FRAME_RESERVE);
    CHECK(f != NULL);
    frame_drop(f);
    for (int i = 0; i < 100; i++)
        frame_drop(frame_alloc(FRAME_RESERVE | FRAME_ZERO));
    CHECK_EQ_U(mt_pcp_stats(0).hits, 100);
    CHECK_EQ_U(mt_stats().reserve_allocs, 0);
    mt_check();
}

void mm_tests_reserve(void)
{
    RUN(reserve_size_rule);
    RUN(reserve_left_alone_then_used);
    RUN(reserve_not_touched_above_the_watermark);
}
