/*
 * panic.h - fatal errors: a report on the console, then the panic exit code.
 *
 * The first CPU to panic prints "PANIC on cpu N at file:line: message" and a
 * backtrace, then exits QEMU (EXIT_PANIC); a CPU that panics while another
 * one is reporting halts silently (the reporter ends the run); a fault inside
 * the report exits at once.  plat_panic() and CPU exceptions take this path.
 */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <stdarg.h>

_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void panic_vat(const char *file, int line, const char *fmt, va_list ap);

#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* Claims the report for this CPU: returns only on the first CPU to panic;
 * others halt, and a nested panic on this CPU exits immediately. */
void panic_begin(void);

/* Ends the report and the run. */
_Noreturn void panic_end(void);

#endif /* KERNEL_PANIC_H */
