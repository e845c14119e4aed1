/*
 * spinlock.h - a test-and-test-and-set lock that disables interrupts while
 * held (kernel-wide short critical sections: page-table updates and such).
 * Acquire on lock, release on unlock; waiters spin on a plain load so the
 * line stays shared until the holder lets go.
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "plat/platform.h"

struct spinlock {
    atomic_bool locked;
};

#define SPINLOCK_INIT {false}

static inline plat_irqstate_t spin_lock_irqsave(struct spinlock *l)
{
    plat_irqstate_t irq = plat_irq_save();
    while (atomic_exchange_explicit(&l->locked, true, memory_order_acquire)) {
        while (atomic_load_explicit(&l->locked, memory_order_relaxed))
            plat_pause();
    }
    return irq;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, plat_irqstate_t irq)
{
    atomic_store_explicit(&l->locked, false, memory_order_release);
    plat_irq_restore(irq);
}

#endif /* KERNEL_SPINLOCK_H */
