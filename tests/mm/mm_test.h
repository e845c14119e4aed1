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
    bool ok = mm_init(u, nu, r, nr, &cfg, err, sizeof err);
    CHECKF(ok, "mm_init: %s", err);
    return ok;
}

static inline bool mt_init(const struct phys_range *u, unsigned nu, const struct phys_range *r,
                           unsigned nr)
{
    return mt_init_cfg(u, nu, r, nr, NULL);
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

/* One CPU's cache counters. */
static inline struct pcp_stats mt_pcp_stats(unsigned cpu)
{
    struct pcp_stats s;
    mm_pcp_stats(cpu, &s);
    return s;
}

/* 32 MiB at 16 MiB with the given cache geometry, MT_CPUS caches. */
static inline bool mt_init_pcp(unsigned capacity, unsigned batch)
{
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.max_cpus = MT_CPUS;
    cfg.pcp.capacity = capacity;
    cfg.pcp.batch = batch;
    struct phys_range u = {16 * MiB, 48 * MiB};
    return mt_init_cfg(&u, 1, NULL, 0, &cfg);
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
void mm_tests_panic(void);
void mm_tests_antifrag(void);

#endif /* TESTS_MM_TEST_H */
