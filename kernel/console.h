/*
 * console.h - the serial console (the architecture's serial port,
 * arch_serial_putc; on x86_64 the 16550 UART on COM1, 115200 8N1).
 *
 * Every call writes its whole text under one spinlock, so output from
 * different CPUs never interleaves within a kprintf call (callers print whole
 * lines).  "\n" goes out as "\r\n" (the host strips the "\r").  A CPU that
 * faults while holding the lock can still print its panic report: the lock
 * notices its owner re-entering and lets it through.
 */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

/* Usable once arch_early_init() has programmed the serial port; nothing
 * prints earlier. */
void console_write(const char *buf, size_t len);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);

/* Releases the lock if this CPU holds it: for a CPU that stops for good
 * (a second panicking CPU) so that the reporting one can still print. */
void console_release_if_owner(void);

/* Waits until the UART has sent everything (before exiting QEMU). */
void console_flush(void);

#endif /* KERNEL_CONSOLE_H */
