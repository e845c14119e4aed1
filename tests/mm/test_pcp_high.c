/*
 * test_pcp_high.c - per-CPU caches of high-order blocks (orders 1..3 and 9):
 * reuse by the same CPU without the lock, the per-order bounds, drains, the
 * cache-off bypass, mm_check's view of cached blocks, the last-resort drain
 * when memory runs out, frame_from_unused inside a cached block, and DEBUG
 * poisoning of cached blocks.
 */
#include "tests/mm/mm_test.h"

static void pcp_high_block_reused_by_its_cpu(void)
{
    if (!mt_init_pcp(512, 64))
        return;
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++) {
        unsigned o = pcp_high_order(i);
        mm_pcp_stats_reset();
        struct frame *f = frame_alloc_order(o, 0);
        CHECK(f != NULL);
        CHECK_EQ_U(mt_pcp_stats(0).high_misses, 1);
        uint64_t cached = mt_stats().cached_frames, cpu0 = mt_pcp_stats(0).cached;
        frame_drop(f);
        CHECK_EQ_U(mt_stats().cached_frames, cached + ((uint64_t)1 << o));
        CHECK_EQ_U(mt_pcp_stats(0).cached, cpu0 + ((uint64_t)1 << o));
        CHECK(frame_flags_get(f) & FRAME_F_CACHED);
        mt_check();
        /* Pairs now hit: the same (hot) block, no lock. */
        mm_lock_stats_reset();
        for (int k = 0; k < 100; k++) {
            struct frame *g = frame_alloc_order(o, FRAME_UNIQUE);
            CHECK(g == f);
            CHECK_EQ_U(frame_order(g), o);
            frame_free(g);
        }
        CHECK_EQ_U(mt_stats().lock.acquisitions, 0);
        CHECK_EQ_U(mt_pcp_stats(0).high_hits, 100);
        CHECK_EQ_U(mt_pcp_stats(0).high_misses, 1);
        CHECK_EQ_U(mt_pcp_stats(0).hits + mt_pcp_stats(0).misses, 0); /* order-0 counters untouched */
        /* Another CPU does not see it. */
        host_set_cpu(2);
        struct frame *h = frame_alloc_order(o, 0);
        CHECK(h != f);
        frame_drop(h);
        host_set_cpu(0);
        CHECK_EQ_U(mt_pcp_stats(2).high_misses, 1);
        mt_check();
    }
    /* Uncached orders (4..8, 10) still go to the buddy allocator. */
    uint64_t cached = mt_stats().cached_frames;
    mm_lock_stats_reset();
    frame_drop(frame_alloc_order(4, 0));
    frame_drop(frame_alloc_order(MM_MAX_ORDER, 0));
    CHECK_EQ_U(mt_stats().lock.acquisitions, 4);
    CHECK_EQ_U(mt_stats().cached_frames, cached);
    mt_check();
}

static void pcp_high_bound_respected(void)
{
    if (!mt_init_pcp(64, 16))
        return;
    /* capacity / (4 << order) blocks, at least one while a block fits in
     * the order-0 capacity: none of order 9 below a capacity of 512 */
    CHECK_EQ_U(mm_pcp[0].high_limit[0], 8);
    CHECK_EQ_U(mm_pcp[0].high_limit[1], 4);
    CHECK_EQ_U(mm_pcp[0].high_limit[2], 2);
    CHECK_EQ_U(mm_pcp[0].high_limit[3], 0);
    static struct frame *held[40];
    for (int i = 0; i < 40; i++)
        held[i] = frame_alloc_order(1, 0);
    for (int i = 0; i < 40; i++) {
        frame_drop(held[i]);
        CHECK(mm_pcp[0].high_count[0] <= 8);
    }
    CHECK_EQ_U(mt_pcp_stats(0).cached, 8 * 2);
    for (int i = 0; i < 3; i++)
        held[i] = frame_alloc_order(9, 0);
    for (int i = 0; i < 3; i++)
        frame_drop(held[i]);
    CHECK_EQ_U(mm_pcp[0].high_count[3], 0);
    CHECK_EQ_U(mt_pcp_stats(0).cached, 8 * 2);
    CHECK_EQ_U(mt_stats().free_frames + mt_stats().cached_frames, mt_stats().total_frames);
    mt_check();
    /* Capacity 512 (the default on large machines): one order-9 block, at
     * most 3.5 MiB of blocks per CPU. */
    mt_force_pcp(&(struct pcp_config){.enabled = true, .capacity = 512, .batch = 64});
    CHECK_EQ_U(mm_pcp[0].high_limit[3], 1);
    uint64_t frames = 0;
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++)
        frames += (uint64_t)mm_pcp[0].high_limit[i] << pcp_high_order(i);
    CHECK_EQ_U(frames * PAGE_SIZE, 3 * MiB + 512 * KiB);
}

static void pcp_high_drain_returns_everything(void)
{
    if (!mt_init_pcp(512, 64))
        return;
    static const unsigned orders[] = {1, 2, 3, 9, 1, 2, 3};
    struct frame *f[7];
    for (unsigned cpu = 0; cpu < 3; cpu += 2) {
        host_set_cpu(cpu);
        for (unsigned i = 0; i < 7; i++)
            f[i] = frame_alloc_order(orders[i], 0);
        for (unsigned i = 0; i < 7; i++)
            frame_drop(f[i]);
        CHECK_EQ_U(mt_pcp_stats(cpu).cached, 2 + 4 + 8 + 512 + 2 + 4 + 8);
    }
    mt_check();
    mm_pcp_drain_local(); /* CPU 2 */
    CHECK_EQ_U(mt_pcp_stats(2).cached, 0);
    CHECK_EQ_U(mm_pcp[2].high_count[0] + mm_pcp[2].high_count[3], 0);
    CHECK_EQ_U(mt_pcp_stats(0).cached, 540);
    host_set_cpu(0);
    mt_check();
    mm_pcp_drain_all();
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    CHECK_EQ_U(mt_stats().free_frames, mt_stats().total_frames);
    mt_check();
}

static void pcp_high_cache_off_bypasses(void)
{
    if (!mt_init_pcp(512, 64))
        return;
    frame_drop(frame_alloc_order(3, 0));
    CHECK_EQ_U(mt_stats().cached_frames, 8);
    /* Accepted though 512 x 8 CPUs is past the limit on 32 MiB: caches off
     * hold nothing. */
    struct pcp_config off = {.enabled = false, .capacity = 512, .batch = 64};
    CHECK(mm_pcp_configure(&off)); /* drains the high-order lists too */
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    mm_pcp_stats_reset();
    mm_lock_stats_reset();
    for (int i = 0; i < 50; i++) {
        frame_free(frame_alloc_order(3, FRAME_UNIQUE));
        frame_free(frame_alloc_order(9, FRAME_UNIQUE));
    }
    CHECK_EQ_U(mt_stats().lock.acquisitions, 200);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    CHECK_EQ_U(mt_pcp_stats(0).high_hits + mt_pcp_stats(0).high_misses, 0);
    mt_check();
}

static void pcp_high_mm_check_counts_them(void)
{
    if (!mt_init_pcp(512, 64))
        return;
    struct frame *f = frame_alloc_order(2, 0);
    struct frame *g = frame_alloc_order(9, 0);
    frame_drop(f);
    frame_drop(g);
    CHECK_EQ_U(mt_stats().allocated_frames, 0);
    CHECK_EQ_U(mt_stats().cached_frames, 4 + 512);
    mt_check();
    char err[300];
    /* A frame inside a cached block that is not UNUSED/flags 0. */
    frame_flags_set(&f[1], FRAME_F_ALLOCATED);
    CHECK(!mm_check(err, sizeof err));
    CHECKF(strstr(err, "cached block") != NULL, "%s", err);
    frame_flags_set(&f[1], 0);
    /* The head's flags naming another order than its slot. */
    uint32_t fl = frame_flags_get(g);
    frame_flags_set(g, FRAME_F_CACHED | (3u << FRAME_CACHED_ORDER_SHIFT));
    CHECK(!mm_check(err, sizeof err));
    frame_flags_set(g, fl);
    /* A list count that disagrees with the list. */
    mm_pcp[0].high_count[1]++;
    CHECK(!mm_check(err, sizeof err));
    mm_pcp[0].high_count[1]--;
    /* A list over its bound. */
    uint16_t lim = mm_pcp[0].high_limit[3];
    mm_pcp[0].high_limit[3] = 0;
    CHECK(!mm_check(err, sizeof err));
    CHECKF(strstr(err, "bound") != NULL, "%s", err);
    mm_pcp[0].high_limit[3] = lim;
    /* Room on the list the uncached orders share (mm_int.h: pcp_high_list):
     * their frees would then be cached. */
    mm_pcp[0].high_limit[PCP_NO_LIST] = 1;
    CHECK(!mm_check(err, sizeof err));
    CHECKF(strstr(err, "uncached orders") != NULL, "%s", err);
    mm_pcp[0].high_limit[PCP_NO_LIST] = 0;
    mt_check();
}

static void pcp_high_blocks_are_the_last_resort(void)
{
    if (!mt_init_pcp(512, 64))
        return;
    /* CPU 0 caches one block of each order; every frame stays reachable by
     * CPU 0's single-frame allocations. */
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++)
        frame_drop(frame_alloc_order(pcp_high_order(i), 0));
    uint64_t total = mt_stats().total_frames;
    static struct frame *all[8192];
    uint64_t n = mt_alloc_all(all, 8192, 0);
    CHECK_EQ_U(n, total);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    for (uint64_t i = 0; i < n; i++)
        frame_drop(all[i]);
    mt_check();
    /* An order-9 request finds the block this CPU's order-1 lists hold a
     * part of.  Exhaust memory, then give back exactly one 2 MiB block. */
    mm_pcp_drain_all();
    static struct frame *units[64];
    unsigned nu = 0;
    while (nu < 64 && (units[nu] = frame_alloc_order(9, 0)) != NULL)
        nu++;
    CHECK(nu > 1 && nu < 64);
    n = mt_alloc_all(all, 8192, 0);
    CHECK_EQ_U(mt_stats().free_frames + mt_stats().cached_frames, 0);
    struct frame *b = units[--nu];
    host_set_cpu(1);
    frame_drop(b);
    mm_pcp_drain_local();
    host_set_cpu(0);
    static struct frame *pairs[256];
    for (int i = 0; i < 256; i++)
        CHECK((pairs[i] = frame_alloc_order(1, 0)) != NULL);
    CHECK(frame_alloc_order(1, 0) == NULL);
    for (int i = 0; i < 256; i++)
        frame_drop(pairs[i]);
    CHECK_EQ_U(mm_pcp[0].high_count[0], mm_pcp[0].high_limit[0]);
    CHECK(mm_pcp[0].high_limit[0] > 1);
    host_set_cpu(1); /* CPU 0's blocks are out of CPU 1's reach */
    CHECK(frame_alloc_order(9, 0) == NULL);
    host_set_cpu(0); /* CPU 0 drains its lists and the block coalesces */
    CHECK(frame_alloc_order(9, 0) == b);
    CHECK_EQ_U(mt_stats().free_frames + mt_stats().cached_frames, 0);
    mt_check();
    frame_drop(b);
    for (uint64_t i = 0; i < n; i++)
        frame_drop(all[i]);
    for (unsigned i = 0; i < nu; i++)
        frame_drop(units[i]);
    MT_CHECK_ALL_FREE();
}

static void pcp_high_from_unused_inside_a_cached_block(void)
{
    if (!mt_init_pcp(512, 64))
        return;
    struct frame *f = frame_alloc_order(3, 0);
    uint64_t pa = frame_pa(f) + 5 * PAGE_SIZE;
    frame_drop(f);
    struct frame *g;
    host_set_cpu(1); /* not this CPU's: out of reach */
    CHECK_EQ_U(frame_from_unused(pa, true, &g), FRAME_ERR_BUSY);
    CHECK_EQ_U(frame_from_unused(frame_pa(f), true, &g), FRAME_ERR_BUSY);
    host_set_cpu(0); /* the owner drains and claims */
    CHECK_EQ_U(frame_from_unused(pa, true, &g), FRAME_OK);
    CHECK_EQ_U(frame_pa(g), pa);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    mt_check();
    frame_free(g);
    mt_check();
}

static void pcp_high_poison_catches_write_after_free(void)
{
    if (!MM_DEBUG) {
        check_skip("pcp_high_poison_catches_write_after_free",
                   "needs the MM_DEBUG build (make DEBUG=1)");
        return;
    }
    if (!mt_init_pcp(512, 64))
        return;
    struct frame *f = frame_alloc_order(3, 0);
    uint64_t pa = frame_pa(f) + 6 * PAGE_SIZE;
    frame_drop(f);
    CHECK(frame_flags_get(&f[6]) & FRAME_F_POISONED);
    ((volatile unsigned char *)plat_phys_to_virt(pa))[8] = 1; /* use after free */
    EXPECT_PANIC_PA(frame_alloc_order(3, 0), "written after free", pa);
    /* An untouched cached block passes the check on reuse. */
    if (!mt_init_pcp(512, 64))
        return;
    f = frame_alloc_order(9, 0);
    frame_drop(f);
    CHECK(frame_flags_get(&f[511]) & FRAME_F_POISONED);
    CHECK(frame_alloc_order(9, 0) == f);
    CHECK(!(frame_flags_get(&f[511]) & FRAME_F_POISONED));
    frame_drop(f);
    mt_check();
}

void mm_tests_pcp_high(void)
{
    RUN(pcp_high_block_reused_by_its_cpu);
    RUN(pcp_high_bound_respected);
    RUN(pcp_high_drain_returns_everything);
    RUN(pcp_high_cache_off_bypasses);
    RUN(pcp_high_mm_check_counts_them);
    RUN(pcp_high_blocks_are_the_last_resort);
    RUN(pcp_high_from_unused_inside_a_cached_block);
    if (!MM_DEBUG)
        pcp_high_poison_catches_write_after_free();
    else
        RUN(pcp_high_poison_catches_write_after_free);
}
