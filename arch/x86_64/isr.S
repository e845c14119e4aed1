/*
 * isr.S - one entry stub per IDT vector and the common save/restore path.
 *
 * The CPU pushes an error code for vectors 8, 10-14, 17, 21, 29 and 30; the
 * other stubs push 0 in its place so every frame has the same layout
 * (struct trap_frame).  The common path saves the general registers and the
 * SSE state (handlers are C code, which may use SSE), aligns the stack for
 * the call, and undoes it all if the handler returns.
 */
#include "arch/x86_64/gdt.h"

    .text

.macro ISR_STUB vector
    .balign 16
isr_stub_\vector:
    .if (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp isr_common
.endm

.macro ISR_TABLE_ENTRY vector
    .quad isr_stub_\vector
.endm

.altmacro
.set vec, 0
.rept 256
    ISR_STUB %vec
    .set vec, vec + 1
.endr

isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movq %rsp, %rbx                 /* struct trap_frame *; rbx survives the call */
    andq $-16, %rsp
    subq $512, %rsp
    fxsave (%rsp)
    movq %rbx, %rdi
    call trap_dispatch
    fxrstor (%rsp)
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp                  /* vector and error code */
    iretq

    .section .rodata
    .balign 8
    .globl isr_stub_table
isr_stub_table:
.set vec, 0
.rept 256
    ISR_TABLE_ENTRY %vec
    .set vec, vec + 1
.endr

    .section .note.GNU-stack, "", @progbits
