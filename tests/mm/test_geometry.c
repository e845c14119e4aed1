/*
 * test_geometry.c - cache geometry tied to the machine (mm/pcp.c: geometry):
 * defaults derived from memory size and CPU count, chosen geometries refused
 * past the strand limit with a message naming the worst case and the limit,
 * and mm_set_cpus re-deriving or re-checking when the CPU count changes.
 */
#include "tests/mm/mm_test.h"

static bool init_cpus(uint64_t bytes, unsigned cpus, unsigned capacity, unsigned batch, char *err,
                      size_t errlen)
{
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.max_cpus = cpus;
    cfg.pcp.capacity = capacity;
    cfg.pcp.batch = batch;
    struct phys_range u = {16 * MiB, 16 * MiB + bytes};
    host_set_cpu(0);
    return mm_init(&u, 1, NULL, 0, &cfg, err, errlen);
}

static void expect_default(uint64_t bytes, unsigned cpus, unsigned capacity, unsigned batch)
{
    char err[256];
    struct pcp_config got;
    if (!init_cpus(bytes, cpus, 0, 0, err, sizeof err)) {
        CHECKF(false, "mm_init: %s", err);
        return;
    }
    mm_pcp_get_config(&got);
    CHECKF(got.enabled && got.capacity == capacity && got.batch == batch,
           "%llu MiB, %u CPUs: capacity %u batch %u, expected %u / %u",
           (unsigned long long)(bytes / MiB), cpus, got.capacity, got.batch, capacity, batch);
    struct mm_stats st = mt_stats();
    CHECK_EQ_U(st.cache_bound_frames, mm_pcp_bound_frames(capacity) * cpus);
    /* The defaults' share: at most 1/32 of memory (a capacity of 1 aside). */
    CHECKF(capacity == 1 || st.cache_bound_frames <= st.total_frames / 32,
           "%llu frames of %llu may sit in caches", (unsigned long long)st.cache_bound_frames,
           (unsigned long long)st.total_frames);
}

static void geometry_defaults_follow_the_machine(void)
{
    /* The examples in mm/pcp.c (the metadata takes 1/64 of each span). */
    expect_default(1 * GiB, 2, 512, 64);
    expect_default(1 * GiB, 8, 256, 32);
    expect_default(64 * MiB, 8, 32, 4);
    expect_default(64 * MiB, 1, 256, 15); /* batch capped at 0.1 % of memory */
    expect_default(4 * MiB, 8, 1, 1);     /* too small for any cache: the floor */
    CHECK_EQ_U(mm_pcp_bound_frames(512), 512 + 64 * 2 + 32 * 4 + 16 * 8 + 512);
    CHECK_EQ_U(mm_pcp_bound_frames(256), 256 + 192); /* no order-9 block below 512 */
    mt_check();
}

static void geometry_chosen_refused_past_the_limit(void)
{
    char err[320];
    /* The case: 512 / 64 at 8 CPUs on 64 MiB could cache 44 MiB. */
    CHECK(!init_cpus(64 * MiB, 8, 512, 64, err, sizeof err));
    CHECKF(strstr(err, "capacity 512 batch 64") && strstr(err, "1408 frames a CPU") &&
               strstr(err, "x 8 CPUs = 11264 frames") && strstr(err, "1/4 of the 16127") &&
               strstr(err, "4031 frames"),
           "%s", err);
    CHECK(frame_alloc(0) == NULL); /* no allocator left behind */
    /* The same geometry fits 2 CPUs (2816 <= 4031), and caches off hold
     * nothing at any size. */
    CHECKF(init_cpus(64 * MiB, 2, 512, 64, err, sizeof err), "%s", err);
    struct pcp_config big = {.enabled = true, .capacity = 2048, .batch = 64};
    CHECK(!mm_pcp_configure(&big)); /* 4096 x 2 > 4031 */
    struct pcp_config got;
    mm_pcp_get_config(&got);
    CHECK(got.capacity == 512 && got.batch == 64); /* refused: unchanged */
    big.enabled = false;
    CHECK(mm_pcp_configure(&big));
    /* Back to the derived defaults. */
    struct pcp_config derived = {.enabled = true, .capacity = 0, .batch = 0};
    CHECK(mm_pcp_configure(&derived));
    mm_pcp_get_config(&got);
    CHECK(got.enabled && got.capacity == 128 && got.batch == 15);
    mt_check();
}

static void geometry_set_cpus(void)
{
    char err[320];
    CHECKF(init_cpus(1 * GiB, 1, 0, 0, err, sizeof err), "%s", err);
    struct pcp_config got;
    mm_pcp_get_config(&got);
    CHECK_EQ_U(got.capacity, 512);
    /* CPU 5 has no cache yet: straight to the buddy allocator. */
    host_set_cpu(5);
    frame_drop(frame_alloc(0));
    CHECK_EQ_U(mt_pcp_stats(5).frees, 0);
    host_set_cpu(0);
    frame_drop(frame_alloc(0)); /* CPU 0 caches a batch */
    CHECK(mt_stats().cached_frames > 0);

    /* Eight CPUs: re-derived, every cache drained, CPU 5 has one now. */
    CHECKF(mm_set_cpus(8, NULL, err, sizeof err), "%s", err);
    mm_pcp_get_config(&got);
    CHECK(got.capacity == 256 && got.batch == 32);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    CHECK_EQ_U(mt_stats().cache_bound_frames, 448 * 8);
    host_set_cpu(5);
    frame_drop(frame_alloc(0));
    CHECK_EQ_U(mt_pcp_stats(5).frees, 1);
    host_set_cpu(0);

    /* A chosen geometry that fits 8 CPUs but not 64 is refused by the CPU
     * count that makes it too large, leaving everything as it was. */
    struct pcp_config chosen = {.enabled = true, .capacity = 2048, .batch = 256};
    CHECKF(mm_set_cpus(8, &chosen, err, sizeof err), "%s", err); /* 4096 x 8 <= 64512 */
    CHECK(!mm_set_cpus(64, NULL, err, sizeof err));
    CHECKF(strstr(err, "x 64 CPUs") && strstr(err, "1/4"), "%s", err);
    mm_pcp_get_config(&got);
    CHECK(got.capacity == 2048 && mt_stats().cache_bound_frames == 4096 * 8);
    CHECK(!mm_set_cpus(0, NULL, err, sizeof err));
    CHECKF(strstr(err, "CPU count 0"), "%s", err);

    /* Fewer CPUs: the caches beyond the count are drained and unused. */
    host_set_cpu(5);
    frame_drop(frame_alloc(0));
    host_set_cpu(0);
    CHECKF(mm_set_cpus(2, NULL, err, sizeof err), "%s", err);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    mm_pcp_stats_reset();
    host_set_cpu(5);
    frame_drop(frame_alloc(0));
    host_set_cpu(0);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    mm_pcp_get_config(&got);
    CHECK_EQ_U(got.capacity, 2048); /* the chosen geometry stays chosen */
    mt_check();
}

void mm_tests_geometry(void)
{
    RUN(geometry_defaults_follow_the_machine);
    RUN(geometry_chosen_refused_past_the_limit);
    RUN(geometry_set_cpus);
}
