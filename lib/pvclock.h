/*
 * pvclock.h - the TSC rate described by a KVM pvclock (kvmclock) record.
 *
 * KVM converts TSC ticks to nanoseconds as
 *     ns = ((delta << tsc_shift, or >> -tsc_shift) * tsc_to_system_mul) >> 32
 * so the rate is 10^6 * 2^32 / mul kHz, shifted the other way.  Portable: the
 * kernel reads the record (arch/x86_64/tsc.c), the host tests the arithmetic.
 */
#ifndef LIB_PVCLOCK_H
#define LIB_PVCLOCK_H

#include <stdint.h>

/* The layout KVM writes (struct pvclock_vcpu_time_info, 32 bytes). */
struct pvclock_time_info {
    uint32_t version; /* odd while KVM updates the record */
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
};

_Static_assert(sizeof(struct pvclock_time_info) == 32, "pvclock record is 32 bytes");

/* TSC kHz, or 0 for a multiplier of 0 or a shift outside -31..31 (not a
 * record KVM writes: the caller measures instead). */
static inline uint64_t pvclock_tsc_khz(uint32_t mul, int8_t shift)
{
    if (mul == 0 || shift < -31 || shift > 31)
        return 0;
    uint64_t khz = ((uint64_t)1000000 << 32) / mul;
    return shift < 0 ? khz << -shift : khz >> shift;
}

#endif /* LIB_PVCLOCK_H */
