/*
 * spinlock.h - the one spinlock type of the tree: test-and-test-and-set with
 * bounded exponential backoff, interrupts off while held.  The allocator's
 * arena lock (mm/mm_int.h, which adds statistics) and the kernel's
 * page-table lock both use it.
 *
 * Why not FIFO (ticket, MCS): a FIFO lock hands the lock to the next waiter
 * whether or not that waiter is running.  Where virtual CPUs outnumber host
 * cores -- this project's main setting: 8 vCPUs on a 2-core host under TCG,
 * or any oversubscribed VM -- a descheduled waiter then stalls every waiter
 * behind it (lock-waiter preemption).  Measured with a ticket lock as the
 * arena lock: the pcp benchmark with caches off at SMP=8 had not finished
 * after 240 s, and four host threads on two cores ran at up to 32 ms per
 * operation.  TTAS lets whichever CPU is running take the lock; waiters spin
 * on a plain load (no cache-line ping-pong while the lock is held) with
 * bounded exponential backoff.  It is not fair.
 *
 * The owner field (CPU index + 1, 0 when free) costs one relaxed store per
 * acquisition and per release; it is what lets every function that needs
 * the lock assert that the running CPU holds it (spin_assert_held), as
 * FreeBSD's mtx_assert(MA_OWNED) does.
 *
 * Memory orders: the winning exchange is acquire and pairs with the release
 * store of the previous holder, so its critical section happens-before ours.
 * The owner field is only ever compared with the running CPU's own index:
 * a CPU sees its own store, so relaxed suffices.
 */
#ifndef LIB_SPINLOCK_H
#define LIB_SPINLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "plat/platform.h"

#define SPIN_BACKOFF_MAX 64 /* pause instructions between attempts, at most */

struct spinlock {
    _Atomic uint32_t locked; /* 0 free, 1 held */
    _Atomic uint32_t owner;  /* CPU index + 1 of the holder, 0 when free */
};

#define SPINLOCK_INIT {0, 0}

/* Takes l with interrupts already off; true when it had to wait. */
static inline bool spin_lock_raw(struct spinlock *l)
{
    bool contended = false;
    unsigned backoff = 1;
    while (atomic_exchange_explicit(&l->locked, 1, memory_order_acquire) != 0) {
        contended = true;
        do {
            for (unsigned i = 0; i < backoff; i++)
                plat_pause();
            if (backoff < SPIN_BACKOFF_MAX)
                backoff <<= 1;
        } while (atomic_load_explicit(&l->locked, memory_order_relaxed) != 0);
    }
    atomic_store_explicit(&l->owner, plat_cpu_index() + 1, memory_order_relaxed);
    return contended;
}

static inline void spin_unlock_raw(struct spinlock *l)
{
    atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
    /* Release: publishes the critical section to the next acquirer. */
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

static inline plat_irqstate_t spin_lock_irqsave(struct spinlock *l)
{
    plat_irqstate_t s = plat_irq_save();
    (void)spin_lock_raw(l);
    return s;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, plat_irqstate_t s)
{
    spin_unlock_raw(l);
    plat_irq_restore(s);
}

/* True when the running CPU holds l. */
static inline bool spin_held(const struct spinlock *l)
{
    return atomic_load_explicit(&((struct spinlock *)l)->owner, memory_order_relaxed) ==
           plat_cpu_index() + 1;
}

/* Always-on check at the top of a function that needs l (one load and a
 * compare); fn names that function in the panic. */
static inline void spin_assert_held(const struct spinlock *l, const char *what, const char *fn)
{
    if (unlikely(!spin_held(l)))
        PANIC("%s: %s not held by cpu %u", fn, what, plat_cpu_index());
}

#endif /* LIB_SPINLOCK_H */
