/*
 * phys_range.h - a range of physical addresses, the one type in which the
 * boot code, the page tables, the SMP code and the frame allocator pass
 * memory to each other.
 */
#ifndef LIB_PHYS_RANGE_H
#define LIB_PHYS_RANGE_H

#include <stdint.h>

struct phys_range {
    uint64_t base, end; /* physical [base, end) */
};

#endif /* LIB_PHYS_RANGE_H */
