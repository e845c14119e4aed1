/*
 * console.c - kprintf and the line lock over the architecture's serial port.
 *
 * Lock: `owner` holds the CPU index + 1 of the CPU printing, 0 when free.
 * Taken with an acquire CAS, released with a release store, so one CPU's
 * characters reach the serial port before the next CPU's.  Interrupts are
 * disabled while it is held so a handler on the same CPU cannot spin on it.  Re-entry
 * by the owner (a fault inside kprintf reporting itself) proceeds unlocked.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/arch.h"
#include "kernel/console.h"
#include "lib/fmt.h"
#include "plat/platform.h"

static atomic_uint owner;

/* Serial terminals want CR LF; the host strips the CR. */
static void serial_write(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            arch_serial_putc('\r');
        arch_serial_putc(s[i]);
    }
}

/* Returns false when this CPU already holds the lock (re-entry from a fault). */
static bool console_lock(void)
{
    unsigned me = plat_cpu_index() + 1;
    if (atomic_load_explicit(&owner, memory_order_relaxed) == me)
        return false;
    for (;;) {
        unsigned expected = 0;
        if (atomic_compare_exchange_weak_explicit(&owner, &expected, me, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
        while (atomic_load_explicit(&owner, memory_order_relaxed) != 0)
            plat_pause();
    }
}

static void console_unlock(void)
{
    atomic_store_explicit(&owner, 0, memory_order_release);
}

void console_release_if_owner(void)
{
    unsigned me = plat_cpu_index() + 1;
    if (atomic_load_explicit(&owner, memory_order_relaxed) == me)
        console_unlock();
}

void console_write(const char *buf, size_t len)
{
    plat_irqstate_t irq = plat_irq_save();
    bool locked = console_lock();
    serial_write(NULL, buf, len);
    if (locked)
        console_unlock();
    plat_irq_restore(irq);
}

void kvprintf(const char *fmt, va_list ap)
{
    plat_irqstate_t irq = plat_irq_save();
    bool locked = console_lock();
    fmt_vformat(serial_write, NULL, fmt, ap);
    if (locked)
        console_unlock();
    plat_irq_restore(irq);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

void console_flush(void)
{
    arch_serial_flush();
}
