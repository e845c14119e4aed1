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
 * The lock word is the owner: 0 when free, else the holder's CPU index + 1,
 * written by the compare-exchange that takes it and cleared by the store
 * that releases it.  So knowing who holds the lock costs no store of its
 * own, and every function that needs the lock can assert that the running
 * CPU holds it (spin_assert_held), as FreeBSD's mtx_assert(MA_OWNED) does.
 *
 * The uncontended acquisition is the compare-exchange; the wait (backoff
 * state, the contended result) lies on the branch a failed first attempt
 * takes, so an acquisition that never waits sets none of it up.
 *
 * Memory orders: the winning compare-exchange is acquire and pairs with
 * the release store of the previous holder, so its critical section
 * happens-before ours.  spin_held compares the word with the running CPU's
 * own index: only the holder writes its index there, and a CPU sees its
 * own stores, so relaxed suffices.
 */
#ifndef LIB_SPINLOCK_H
#define LIB_SPINLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "plat/platform.h"

#define SPIN_BACKOFF_MAX 64 /* pause instructions between attempts, at most */

struct spinlock {
    _Atomic uint32_t holder; /* 0 free, else CPU index + 1 of the holder */
};

#define SPINLOCK_INIT {0}

/* 0 -> me: a compare-exchange, not an exchange, so that a CPU that finds
 * the lock held leaves the holder's index in the word.  Strong: a spurious
 * failure would count an acquisition as contended. */
static inline bool spin_try_raw(struct spinlock *l, uint32_t me)
{
    uint32_t free = 0;
    return atomic_compare_exchange_strong_explicit(&l->holder, &free, me, memory_order_acquire,
                                                   memory_order_relaxed);
}

/* Takes l with interrupts already off; true when it had to wait. */
static inline bool spin_lock_raw(struct spinlock *l)
{
    const uint32_t me = plat_cpu_index() + 1;
    if (likely(spin_try_raw(l, me)))
        return false;
    unsigned backoff = 1;
    do {
        do {
            for (unsigned i = 0; i < backoff; i++)
                plat_pause();
            if (backoff < SPIN_BACKOFF_MAX)
                backoff <<= 1;
        } while (atomic_load_explicit(&l->holder, memory_order_relaxed) != 0);
    } while (!spin_try_raw(l, me));
    return true;
}

static inline void spin_unlock_raw(struct spinlock *l)
{
    /* Release: publishes the critical section to the next acquirer. */
    atomic_store_explicit(&l->holder, 0, memory_order_release);
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
    return atomic_load_explicit(&((struct spinlock *)l)->holder, memory_order_relaxed) ==
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
