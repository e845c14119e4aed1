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

/* Sorts r[0..n) by base and joins ranges that overlap or touch; returns how
 * many are left (in r[0..]).  Insertion sort: memory maps are short and
 * mostly sorted already. */
static inline unsigned phys_ranges_sort_join(struct phys_range *r, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        struct phys_range x = r[i];
        unsigned j = i;
        while (j > 0 && r[j - 1].base > x.base) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
    unsigned joined = 0;
    for (unsigned i = 0; i < n; i++) {
        if (joined > 0 && r[i].base <= r[joined - 1].end) {
            if (r[i].end > r[joined - 1].end)
                r[joined - 1].end = r[i].end;
        } else {
            r[joined++] = r[i];
        }
    }
    return joined;
}

#endif /* LIB_PHYS_RANGE_H */
