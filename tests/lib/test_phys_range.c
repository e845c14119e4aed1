/*
 * test_phys_range.c - host tests of lib/phys_range.h: sorting and joining
 * the ranges a memory map gives (out of order, touching, overlapping,
 * nested), as the boot code and the direct map build them.
 */
#include <stdint.h>

#include "tests/harness/check.h"
#include "lib/phys_range.h"

CHECK_SUITE("lib");

CHECK_TEST(sorted_and_joined)
{
    struct phys_range r[] = {
        {0x9000, 0xa000},   /* after a gap */
        {0x1000, 0x2000},
        {0x2000, 0x3000},   /* touches the one before: joined */
        {0x2800, 0x2900},   /* inside: swallowed */
        {0x5000, 0x6000},
        {0x5800, 0x7000},   /* overlaps: joined */
    };
    unsigned n = phys_ranges_sort_join(r, 6);
    CHECK_EQ_U(n, 3);
    CHECK(r[0].base == 0x1000 && r[0].end == 0x3000);
    CHECK(r[1].base == 0x5000 && r[1].end == 0x7000);
    CHECK(r[2].base == 0x9000 && r[2].end == 0xa000);
}

CHECK_TEST(gaps_are_kept)
{
    struct phys_range r[] = {{0x3000, 0x4000}, {0x1000, 0x2000}};
    CHECK_EQ_U(phys_ranges_sort_join(r, 2), 2);
    CHECK(r[0].base == 0x1000 && r[1].base == 0x3000);
    CHECK_EQ_U(phys_ranges_sort_join(r, 0), 0);
    CHECK_EQ_U(phys_ranges_sort_join(r, 1), 1);
}

/* A UEFI-like map: hundreds of touching descriptors in reverse order. */
CHECK_TEST(long_touching_map_becomes_one)
{
    static struct phys_range r[600];
    for (unsigned i = 0; i < 600; i++)
        r[i] = (struct phys_range){(uint64_t)(599 - i) << 12, (uint64_t)(600 - i) << 12};
    CHECK_EQ_U(phys_ranges_sort_join(r, 600), 1);
    CHECK(r[0].base == 0 && r[0].end == (uint64_t)600 << 12);
}

CHECK_MAIN()
