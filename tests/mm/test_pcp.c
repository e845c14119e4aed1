/*
 * test_pcp.c - per-CPU caches: hit path, batch refill and drain, remote
 * frees, the cache-off mode, runtime configuration, CPUs without a cache.
 */
#include "tests/mm/mm_test.h"

static void pcp_refill_hit_and_drain(void)
{
    if (!mt_init_pcp(64, 16))
        return;
    struct frame *f = frame_alloc(0);
    struct pcp_stats s = mt_pcp_stats(0);
    CHECK_EQ_U(s.misses, 1);
    CHECK_EQ_U(s.refills, 1);
    CHECK_EQ_U(s.hits, 0);
    CHECK_EQ_U(s.cached, 15); /* one batch in, one frame out */
    frame_drop(f);
    /* Alloc/free pairs now hit and never touch the buddy allocator. */
    mm_lock_stats_reset();
    for (int i = 0; i < 1000; i++) {
        struct frame *g = frame_alloc(FRAME_UNIQUE);
        CHECK(g == f); /* LIFO: the hot frame comes back */
        frame_free(g);
    }
    s = mt_pcp_stats(0);
    CHECK_EQ_U(s.hits, 1000);
    CHECK_EQ_U(s.frees, 1001);
    CHECK_EQ_U(s.refills, 1);
    CHECK_EQ_U(mt_stats().lock.acquisitions, 0);
    /* Fill past capacity: one batch drains. */
    static struct frame *held[200];
    for (int i = 0; i < 200; i++)
        held[i] = frame_alloc(0);
    s = mt_pcp_stats(0);
    CHECK_EQ_U(s.misses, 1 + (200 - 16 + 15) / 16);
    for (int i = 0; i < 200; i++)
        frame_drop(held[i]);
    s = mt_pcp_stats(0);
    CHECK(s.drains >= 1);
    CHECK(s.cached <= 64);
    CHECK_EQ_U(s.remote_frees, 0);
    mt_check();
    mm_pcp_drain_all();
    CHECK_EQ_U(mt_pcp_stats(0).cached, 0);
    CHECK_EQ_U(mt_stats().free_frames, mt_stats().total_frames);
    mt_check();
}

static void pcp_capacity_is_a_bound(void)
{
    if (!mt_init_pcp(32, 8))
        return;
    static struct frame *held[500];
    for (int i = 0; i < 500; i++)
        held[i] = frame_alloc(0);
    for (int i = 0; i < 500; i++) {
        frame_drop(held[i]);
        CHECK(mt_pcp_stats(0).cached <= 32);
    }
    struct pcp_stats s = mt_pcp_stats(0);
    CHECK_EQ_U(s.cached + s.drains * 8, s.refills * 8); /* frames in = frames out + kept */
    mt_check();
}

static void pcp_remote_frees(void)
{
    if (!mt_init_pcp(64, 16))
        return;
    struct frame *f[10];
    for (int i = 0; i < 10; i++)
        f[i] = frame_alloc(0);
    host_set_cpu(3);
    for (int i = 0; i < 10; i++)
        frame_drop(f[i]);
    struct frame *g = frame_alloc(0); /* CPU 3 allocates what CPU 3 freed */
    host_set_cpu(0);
    CHECK_EQ_U(mt_pcp_stats(3).remote_frees, 10);
    CHECK_EQ_U(mt_pcp_stats(3).frees, 10);
    CHECK_EQ_U(mt_pcp_stats(3).hits, 1);
    CHECK_EQ_U(mt_pcp_stats(0).remote_frees, 0);
    frame_drop(g); /* CPU 0 frees CPU 3's allocation */
    CHECK_EQ_U(mt_pcp_stats(0).remote_frees, 1);
    mt_check();
    mm_pcp_stats_reset();
    CHECK_EQ_U(mt_pcp_stats(3).remote_frees + mt_pcp_stats(3).hits + mt_pcp_stats(0).remote_frees, 0);
    CHECK_EQ_U(mt_pcp_stats(3).cached, 9); /* counters reset, contents kept */
    mt_check();
}

static void pcp_cache_off_mode(void)
{
    if (!mt_init_pcp(64, 16))
        return;
    struct frame *f = frame_alloc(0);
    frame_drop(f);
    CHECK(mt_stats().cached_frames > 0);
    struct pcp_config cfg = {.enabled = false, .capacity = 64, .batch = 16};
    CHECK(mm_pcp_configure(&cfg));
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    mm_pcp_stats_reset();
    mm_lock_stats_reset();
    for (int i = 0; i < 100; i++) {
        f = frame_alloc(FRAME_UNIQUE);
        frame_free(f);
    }
    struct pcp_stats s = mt_pcp_stats(0);
    CHECK_EQ_U(s.hits, 0);
    CHECK_EQ_U(s.misses, 100);
    CHECK_EQ_U(s.frees, 0);
    CHECK_EQ_U(s.cached, 0);
    CHECK_EQ_U(mt_stats().lock.acquisitions, 200); /* every operation went global */
    struct pcp_config got;
    mm_pcp_get_config(&got);
    CHECK(!got.enabled);
    mt_check();
    cfg.enabled = true;
    CHECK(mm_pcp_configure(&cfg));
    f = frame_alloc(0);
    CHECK_EQ_U(mt_pcp_stats(0).refills, 1);
    frame_drop(f);
    mt_check();
}

static void pcp_runtime_configuration(void)
{
    if (!mt_init_pcp(64, 16))
        return;
    struct pcp_config bad = {.enabled = true, .capacity = 16, .batch = 17};
    CHECK(!mm_pcp_configure(&bad));
    bad = (struct pcp_config){.enabled = true, .capacity = 0, .batch = 1};
    CHECK(!mm_pcp_configure(&bad));
    /* 8192 + 6144 + 4096 frames a CPU, x 8: far past a quarter of 32 MiB */
    bad = (struct pcp_config){.enabled = true, .capacity = 8192, .batch = 64};
    CHECK(!mm_pcp_configure(&bad));
    bad = (struct pcp_config){.enabled = true, .capacity = MM_PCP_MAX_CAPACITY + 1, .batch = 1};
    CHECK(!mm_pcp_configure(&bad));
    struct pcp_config got;
    mm_pcp_get_config(&got);
    CHECK(got.enabled && got.capacity == 64 && got.batch == 16); /* rejected: unchanged */
    struct pcp_config cfg = {.enabled = true, .capacity = 4, .batch = 1};
    CHECK(mm_pcp_configure(&cfg));
    struct frame *f[8];
    for (int i = 0; i < 8; i++)
        f[i] = frame_alloc(0);
    CHECK_EQ_U(mt_pcp_stats(0).refills, 8); /* batch of one: every allocation refills */
    for (int i = 0; i < 8; i++)
        frame_drop(f[i]);
    CHECK_EQ_U(mt_pcp_stats(0).cached, 4);
    mt_check();
}

/* [16 MiB, end) with caches for max_cpus CPUs. */
static bool init_cpus(unsigned max_cpus, uint64_t end)
{
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.max_cpus = max_cpus;
    struct phys_range u = {16 * MiB, end};
    return mt_init_cfg(&u, 1, NULL, 0, &cfg);
}

static void pcp_cpu_without_a_cache(void)
{
    if (!init_cpus(2, 32 * MiB))
        return;
    host_set_cpu(5);
    struct frame *f = frame_alloc(0);
    CHECK(f != NULL);
    frame_drop(f);
    struct pcp_stats s;
    mm_pcp_stats(5, &s);
    CHECK_EQ_U(s.hits + s.misses + s.frees, 0);
    host_set_cpu(0);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    CHECK_EQ_U(mt_stats().free_frames, mt_stats().total_frames);
    mt_check();
}

/* One alloc + free on the calling CPU; true when it was a cache hit of
 * cpu's cache (white-box: the counter itself, which mm_pcp_stats hides for
 * CPUs beyond the count). */
static bool pair_hit(unsigned cpu)
{
    uint64_t hits = mm_pcp[cpu].hits;
    struct frame *f = frame_alloc(FRAME_UNIQUE);
    CHECK(f != NULL);
    frame_free(f);
    f = frame_alloc(FRAME_UNIQUE); /* the frame just freed, when it was cached */
    CHECK(f != NULL);
    frame_free(f);
    return mm_pcp[cpu].hits != hits;
}

/* The hit paths find their cache through the per-CPU word (mm_int.h), which
 * must follow every change of the CPU count and of `enabled`: a CPU left
 * pointing at a cache it no longer has would strand frames there. */
static void pcp_hit_paths_follow_the_configuration(void)
{
    if (!init_cpus(4, 48 * MiB))
        return;
    char err[200];
    host_set_cpu(3);
    CHECK(pair_hit(3));
    host_set_cpu(0);
    CHECKF(mm_set_cpus(2, NULL, err, sizeof err), "%s", err);
    host_set_cpu(3);
    CHECK(!pair_hit(3));
    CHECK_EQ_U(mm_pcp[3].count, 0);
    host_set_cpu(0);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    CHECKF(mm_set_cpus(4, NULL, err, sizeof err), "%s", err);
    host_set_cpu(3);
    CHECK(pair_hit(3));
    host_set_cpu(0);
    struct pcp_config on, off;
    mm_pcp_get_config(&on);
    off = on;
    off.enabled = false;
    CHECK(mm_pcp_configure(&off));
    uint64_t misses = mm_pcp[0].misses;
    CHECK(!pair_hit(0));
    CHECK_EQ_U(mm_pcp[0].misses, misses + 2); /* the cache-off mode counts every one */
    struct frame *g = frame_alloc_order(9, 0);
    CHECK(g != NULL);
    frame_free(g);
    CHECK_EQ_U(mm_pcp[0].high_hits + mm_pcp[0].high_count[3], 0);
    CHECK(mm_pcp_configure(&on));
    CHECK(pair_hit(0));
    mt_check();
}

void mm_tests_pcp(void)
{
    RUN(pcp_refill_hit_and_drain);
    RUN(pcp_capacity_is_a_bound);
    RUN(pcp_remote_frees);
    RUN(pcp_cache_off_mode);
    RUN(pcp_runtime_configuration);
    RUN(pcp_cpu_without_a_cache);
    RUN(pcp_hit_paths_follow_the_configuration);
}
