/*
 * console.c - 16550 UART driver for COM1 and kprintf.
 *
 * Lock: `owner` holds the CPU index + 1 of the CPU printing, 0 when free.
 * Taken with an acquire CAS, released with a release store, so one CPU's
 * characters reach the UART before the next CPU's.  Interrupts are disabled
 * while it is held so a handler on the same CPU cannot spin on it.  Re-entry
 * by the owner (a fault inside kprintf reporting itself) proceeds unlocked.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/console.h"
#include "lib/fmt.h"
#include "plat/platform.h"
#include "arch/x86_64/x86.h"

#define COM1 0x3f8
#define UART_DATA 0      /* THR (write) / RBR (read); DLL when DLAB=1 */
#define UART_IER 1       /* interrupt enable; DLM when DLAB=1 */
#define UART_FCR 2       /* FIFO control */
#define UART_LCR 3       /* line control */
#define UART_MCR 4       /* modem control */
#define UART_LSR 5       /* line status */

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR 0x07 /* enable FIFOs, clear RX and TX */
#define MCR_DTR_RTS 0x03
#define LSR_THR_EMPTY 0x20    /* room for a byte */
#define LSR_TX_IDLE 0x40      /* holding and shift registers empty */

#define UART_CLOCK_DIVISOR 1  /* 115200 baud from the 1.8432 MHz clock */
/* Bound on status polls per byte so a missing or wedged UART cannot hang us. */
#define UART_POLL_LIMIT 1000000

static atomic_uint owner;

static void uart_wait(uint8_t lsr_bits)
{
    for (unsigned i = 0; i < UART_POLL_LIMIT; i++) {
        if ((inb(COM1 + UART_LSR) & lsr_bits) == lsr_bits)
            return;
        plat_pause();
    }
}

static void uart_putc(char c)
{
    uart_wait(LSR_THR_EMPTY);
    outb(COM1 + UART_DATA, (uint8_t)c);
}

void console_init(void)
{
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DATA, UART_CLOCK_DIVISOR & 0xff);
    outb(COM1 + UART_IER, UART_CLOCK_DIVISOR >> 8);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

static void uart_write(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            uart_putc('\r');
        uart_putc(s[i]);
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
    uart_write(NULL, buf, len);
    if (locked)
        console_unlock();
    plat_irq_restore(irq);
}

void kvprintf(const char *fmt, va_list ap)
{
    plat_irqstate_t irq = plat_irq_save();
    bool locked = console_lock();
    fmt_vformat(uart_write, NULL, fmt, ap);
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
    uart_wait(LSR_THR_EMPTY | LSR_TX_IDLE);
}
