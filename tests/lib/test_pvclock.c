/*
 * test_pvclock.c - host tests of lib/pvclock.h: the TSC rate from the scale
 * KVM writes into a kvmclock record, for scales computed the way KVM does
 * (the largest shift for which the multiplier fits 32 bits).
 */
#include <stdint.h>

#include "tests/harness/check.h"
#include "lib/pvclock.h"

CHECK_SUITE("lib");

/* A scale as KVM makes one for a TSC of tsc_khz: the shift that brings the
 * shifted tick rate r into (1 GHz, 2 GHz], so that mul = 2^32 * 1 GHz / r
 * fits 32 bits with its top bit set (full precision). */
static void kvm_scale(uint64_t tsc_khz, uint32_t *mul, int8_t *shift)
{
    const uint64_t ghz = 1000000000;
    uint64_t r = tsc_khz * 1000;
    int s = 0;
    while (r > 2 * ghz) {
        r >>= 1;
        s--;
    }
    while (r <= ghz) {
        r <<= 1;
        s++;
    }
    *mul = (uint32_t)((ghz << 32) / r);
    *shift = (int8_t)s;
}

CHECK_TEST(rates_round_trip)
{
    static const uint64_t khz[] = {1000000, 2445411, 2500000, 3000000, 3600000, 100000,
                                   4800000};
    for (unsigned i = 0; i < sizeof khz / sizeof khz[0]; i++) {
        uint32_t mul;
        int8_t shift;
        kvm_scale(khz[i], &mul, &shift);
        uint64_t got = pvclock_tsc_khz(mul, shift);
        uint64_t diff = got > khz[i] ? got - khz[i] : khz[i] - got;
        CHECKF(diff * 100000 <= khz[i], "%llu kHz: scale mul %u shift %d gives %llu kHz",
               (unsigned long long)khz[i], mul, shift, (unsigned long long)got);
    }
}

CHECK_TEST(exact_scales)
{
    CHECK_EQ_U(pvclock_tsc_khz(0x80000000u, 0), 2000000); /* 0.5 ns per tick */
    CHECK_EQ_U(pvclock_tsc_khz(0x80000000u, -1), 4000000);
    CHECK_EQ_U(pvclock_tsc_khz(0x80000000u, 1), 1000000);
}

CHECK_TEST(impossible_records_give_zero)
{
    CHECK_EQ_U(pvclock_tsc_khz(0, 0), 0);
    CHECK_EQ_U(pvclock_tsc_khz(0x80000000u, 32), 0);
    CHECK_EQ_U(pvclock_tsc_khz(0x80000000u, -32), 0);
}

CHECK_MAIN()
