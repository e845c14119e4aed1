/*
 * mm_test.h - helpers shared by the allocator's host tests (white-box: they
 * may look at mm_int.h to set up states the public API cannot reach).
 */
#ifndef TESTS_MM_TEST_H
#define TESTS_MM_TEST_H

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "tests/harness/check.h"
#include "mm/mm.h"
#include "mm/mm_int.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)

#define MT_CPUS 8 /* per-CPU caches the tests create */

/* White-box: no reserve.  The tests count on every managed frame being
 * allocatable, so mt_init* remove it; test_reserve.c puts it back
 * (buddy_reserve_init) and tests it. */
static inline void mt_no_reserve(void)
{
    for (unsigned i = 0; i < mm.n_arenas; i++)
        mm_arenas[i].reserve_frames = 0;
}

/* mm_init with the default configuration (max_cpus MT_CPUS); a failure is a
 * test failure carrying mm_init's message. */
static inline bool mt_init_cfg(const struct phys_range *u, unsigned nu, const struct phys_range *r,
                               unsigned nr, const struct mm_config *cfg_in)
{
    char err[256];
    struct mm_config cfg;
    if (cfg_in) {
        cfg = *cfg_in;
    } else {
        mm_default_config(&cfg);
        cfg.max_cpus = MT_CPUS;
    }
    host_set_cpu(0);
    /* Each test's layout starts from an empty window, whatever an earlier
     * test mapped. */
    host_metadata_reset();
    bool ok = mm_init(u, nu, r, nr, &cfg, err, sizeof err);
    CHECKF(ok, "mm_init: %s", err);
    if (ok)
        mt_no_reserve();
    return ok;
}

static inline bool mt_init(const struct phys_range *u, unsigned nu, const struct phys_range *r,
                           unsigned nr)
{
    return mt_init_cfg(u, nu, r, nr, NULL);
}

/* mm_init on NUMA nodes: range u[i] on node[i], the topology numa, the
 * default caches (pcp NULL) or pcp, max_cpus caches. */
static inline bool mt_init_numa(const struct phys_range *u, const unsigned *node, unsigned nu,
                                const struct phys_range *r, unsigned nr,
                                const struct mm_numa *numa, const struct pcp_config *pcp,
                                unsigned max_cpus)
{
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.max_cpus = max_cpus;
    if (pcp)
        cfg.pcp = *pcp;
    cfg.usable_node = node;
    cfg.numa = numa;
    return mt_init_cfg(u, nu, r, nr, &cfg);
}

/* One usable range, nothing reserved. */
static inline bool mt_init1(uint64_t base, uint64_t size)
{
    struct phys_range u = {base, base + size};
    return mt_init(&u, 1, NULL, 0);
}

static inline void mt_check(void)
{
    char err[300];
    bool ok = mm_check(err, sizeof err);
    CHECKF(ok, "mm_check: %s", err);
}

static inline struct mm_stats mt_stats(void)
{
    struct mm_stats st;
    mm_get_stats(&st);
    return st;
}

/* The end of a test that gave everything back: every cache drained, every
 * frame free, every invariant holding (a macro: failures name the test's
 * line). */
#define MT_CHECK_ALL_FREE()                                                  \
    do {                                                                     \
        mm_pcp_drain_all();                                                  \
        CHECK_EQ_U(mt_stats().free_frames, mt_stats().total_frames);         \
        mt_check();                                                          \
    } while (0)

/* One CPU's cache counters. */
static inline struct pcp_stats mt_pcp_stats(unsigned cpu)
{
    struct pcp_stats s;
    mm_pcp_stats(cpu, &s);
    return s;
}

/* White-box: every cache gets this geometry (drained first), past the
 * strand limit mm_pcp_configure enforces.  The tests of the cache mechanics
 * run large caches on a few MiB; test_geometry.c tests the limit. */
static inline void mt_force_pcp(const struct pcp_config *cfg)
{
    mm_pcp_drain_all();
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++)
        pcp_apply(&mm_pcp[cpu], cfg);
    mm.pcp_cfg = *cfg;
    mm.pcp_derived = false;
}

/* 32 MiB at 16 MiB with the given cache geometry (forced: see above),
 * MT_CPUS caches. */
static inline bool mt_init_pcp(unsigned capacity, unsigned batch)
{
    struct phys_range u = {16 * MiB, 48 * MiB};
    if (!mt_init(&u, 1, NULL, 0))
        return false;
    mt_force_pcp(&(struct pcp_config){.enabled = true, .capacity = capacity, .batch = batch});
    return true;
}

/* Every frame the allocator manages, single frames, into out (capacity max);
 * returns how many it got before running out. */
static inline uint64_t mt_alloc_all(struct frame **out, uint64_t max, unsigned flags)
{
    uint64_t n = 0;
    while (n < max) {
        struct frame *f = frame_alloc(flags);
        if (!f)
            break;
        out[n++] = f;
    }
    return n;
}

/* Runs stmt, which must panic with a message containing both needles (""
 * matches any message).  The allocator state after a panic is whatever the
 * panic left: callers re-init. */
#define EXPECT_PANIC_ALL(stmt, needle, needle2)                                           \
    do {                                                                                  \
        static struct host_panic_trap trap_;                                              \
        host_panic_arm(&trap_);                                                           \
        if (setjmp(trap_.env) == 0) {                                                     \
            stmt;                                                                         \
            host_panic_disarm();                                                          \
            CHECKF(0, "%s did not panic", #stmt);                                         \
        } else {                                                                          \
            CHECKF(strstr(trap_.msg, (needle)) && strstr(trap_.msg, (needle2)),          \
                   "panic \"%s\" lacks \"%s\" or \"%s\"", trap_.msg, (needle), (needle2)); \
        }                                                                                 \
    } while (0)

#define EXPECT_PANIC(stmt, needle) EXPECT_PANIC_ALL(stmt, needle, "")

/* Same, and the message must also name the frame's physical address. */
#define EXPECT_PANIC_PA(stmt, needle, pa)                                                 \
    do {                                                                                  \
        char pa_[32];                                                                     \
        snprintf(pa_, sizeof pa_, "%#llx", (unsigned long long)(pa));                    \
        EXPECT_PANIC_ALL(stmt, needle, pa_);                                              \
    } while (0)

/* The tests, one function list per file. */
void mm_tests_init(void);
void mm_tests_buddy(void);
void mm_tests_contig(void);
void mm_tests_refcount(void);
void mm_tests_pcp(void);
void mm_tests_pcp_high(void);
void mm_tests_geometry(void);
void mm_tests_reserve(void);
void mm_tests_pcp_cold(void);
void mm_tests_panic(void);
void mm_tests_numa(void);
void mm_tests_window(void);
void mm_tests_antifrag(void);

#endif /* TESTS_MM_TEST_H */
