/*
 * trap.h - the IDT and what happens on an interrupt or exception.
 *
 * Every vector has a stub (isr.S) that saves the registers, the SSE state and
 * calls trap_dispatch().  A vector with a registered handler returns to the
 * interrupted code; every other vector is fatal: a report with the vector,
 * its name, the error code, RIP, CR2, all registers and a backtrace, then
 * the panic exit.  Interrupts stay disabled in the kernel, so only
 * exceptions (and whatever the SMP code sends itself) arrive here.
 */
#ifndef ARCH_TRAP_H
#define ARCH_TRAP_H

#include <stdint.h>

/* Saved by isr.S, lowest address first. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code; /* error_code 0 for vectors without one */
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

typedef void (*trap_handler_fn)(struct trap_frame *frame);

/* Fills the IDT (BSP, once) and loads it; APs call idt_load(). */
void idt_init(void);
void idt_load(void);

/* Makes `vector` non-fatal: fn runs on it and the interrupted code resumes.
 * Used by the SMP code for the wake-up NMI (vector 2); NULL restores the
 * fatal report. */
void trap_set_handler(uint8_t vector, trap_handler_fn fn);

/* The fatal report of an exception (vector, error code, registers,
 * backtrace), then the panic exit; for handlers that find the event is not
 * theirs. */
_Noreturn void trap_report(const struct trap_frame *f);

/* Prints the frame-pointer chain starting at rbp, with an addr2line hint. */
void trap_print_backtrace(uint64_t rbp);

/* Called by isr.S. */
void trap_dispatch(struct trap_frame *frame);

#endif /* ARCH_TRAP_H */
