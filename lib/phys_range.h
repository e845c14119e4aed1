/*
 * phys_range.h - a range of physical addresses, the one type in which the
 * boot code, the page tables, the SMP code and the frame allocator pass
 * memory to each other, and the alignment helpers that go with it.
 */
#ifndef LIB_PHYS_RANGE_H
#define LIB_PHYS_RANGE_H

#include <stdint.h>

struct phys_range {
    uint64_t base, end; /* physical [base, end) */
};

/* v rounded up / down to a multiple of `align`, a power of two. */
static inline uint64_t align_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) & ~(align - 1);
}

static inline uint64_t align_down(uint64_t v, uint64_t align)
{
    return v & ~(align - 1);
}

#endif /* LIB_PHYS_RANGE_H */
