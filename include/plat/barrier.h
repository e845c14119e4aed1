/*
 * barrier.h - sense-reversing spin barrier (portable C11 atomics).
 *
 * Used by the SMP work dispatch to give every participant a common start and
 * by benchmarks for epoch boundaries.  Each participant keeps its own sense
 * (local_sense, starting false); the last arrival resets the count and flips
 * the shared sense with a release store, which every waiter acquires, so all
 * work before the barrier happens-before all work after it.
 */
#ifndef BARRIER_H
#define BARRIER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "plat/platform.h"

struct barrier {
    _Alignas(CACHE_LINE_SIZE) atomic_uint remaining;
    unsigned participants;
    _Alignas(CACHE_LINE_SIZE) atomic_bool sense;
};

static inline void barrier_init(struct barrier *b, unsigned participants)
{
    atomic_init(&b->remaining, participants);
    b->participants = participants;
    atomic_init(&b->sense, false);
}

/* local_sense: the caller's private flag, false before the first wait. */
static inline void barrier_wait(struct barrier *b, bool *local_sense)
{
    bool sense = !*local_sense;
    *local_sense = sense;
    if (atomic_fetch_sub_explicit(&b->remaining, 1, memory_order_acq_rel) == 1) {
        atomic_store_explicit(&b->remaining, b->participants, memory_order_relaxed);
        atomic_store_explicit(&b->sense, sense, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&b->sense, memory_order_acquire) != sense)
        plat_pause();
}

#endif /* BARRIER_H */
