/*
 * trampoline.S - where an AP starts: 16-bit real mode -> 32-bit protected
 * mode -> 64-bit long mode -> smp_ap_entry() in C.
 *
 * This code is never run where it is linked.  smp.c copies
 * [smp_tramp_start, smp_tramp_end) to a page P below 1 MiB and fills in the
 * data block at P + TRAMP_DATA (trampoline.h).  The STARTUP IPI starts the AP
 * at CS:IP = (P >> 4):0, so the code is position-independent: real mode
 * addresses relative to CS, the later stages relative to %esi/%rsi = P.
 *
 *   real mode   CS base = P; load the temporary GDT (base filled in by the
 *               BSP), set CR0.PE, far-jump through TD_FAR32
 *   32-bit      flat data segments; CR4.PAE, CR3 = kernel page tables (the
 *               low 1 GiB is identity mapped, so this page stays reachable),
 *               EFER = the BSP's (LME, and NXE before any NX bit is seen),
 *               CR0 = the BSP's (PG enables long mode); far-jump TD_FAR64
 *   64-bit      CR4 = the BSP's; find this CPU's slot by its APIC id from
 *               CPUID, take its stack, call the slot's entry (or TD_ENTRY)
 *               with the slot as argument.  The C entry installs the per-CPU
 *               area, the kernel IDT and GDT.
 * An AP whose APIC id is in no slot halts with interrupts off; the BSP
 * reports it when its wait times out.
 */
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/smp/trampoline.h"
#include "arch/x86_64/x86.h"

#define DATA(field) (TRAMP_DATA + (field))

    .section .rodata.smp_trampoline, "a"
    .balign 16
    .globl smp_tramp_start, smp_tramp_protected, smp_tramp_long, smp_tramp_end

    .code16
smp_tramp_start:
    cli
    cld
    xorl %esi, %esi
    movw %cs, %si
    shll $4, %esi                   /* %esi = P, the page's physical address */
    movw %cs, %ax
    movw %ax, %ds
    lgdtl DATA(TD_GDTR32)
    movl %cr0, %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl *DATA(TD_FAR32)

    .code32
smp_tramp_protected:
    LOAD_DATA_SEGMENTS $TRAMP_SEL_DATA32
    movl $CR4_PAE, %eax
    movl %eax, %cr4
    movl DATA(TD_CR3)(%esi), %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    movl DATA(TD_EFER)(%esi), %eax
    movl DATA(TD_EFER) + 4(%esi), %edx
    wrmsr
    movl DATA(TD_CR0)(%esi), %eax
    movl %eax, %cr0                 /* paging on: long mode (compatibility) */
    ljmpl *DATA(TD_FAR64)(%esi)

    .code64
smp_tramp_long:
    movl %esi, %esi                 /* upper halves are undefined after the switch */
    movq DATA(TD_CR4)(%rsi), %rax
    movq %rax, %cr4

    /* This CPU's APIC id: CPUID.0BH:EDX (x2APIC) or CPUID.01H:EBX[31:24]. */
    movl DATA(TD_ID_LEAF)(%rsi), %eax
    xorl %ecx, %ecx
    cpuid
    cmpl $1, DATA(TD_ID_LEAF)(%rsi)
    jne 1f
    movl %ebx, %edx
    shrl $24, %edx
1:
    /* Find the slot with that id. */
    movq DATA(TD_SLOTS)(%rsi), %rdi
    movl DATA(TD_NSLOTS)(%rsi), %ecx
2:  testl %ecx, %ecx
    jz tramp_no_slot
    cmpl %edx, SLOT_APIC_ID(%rdi)
    je 3f
    addq $SLOT_SIZE, %rdi
    decl %ecx
    jmp 2b
3:
    movq SLOT_STACK_TOP(%rdi), %rsp
    xorl %ebp, %ebp                 /* terminates backtraces */
    movq SLOT_ENTRY(%rdi), %rax
    testq %rax, %rax
    jnz 4f
    movq DATA(TD_ENTRY)(%rsi), %rax
4:  call *%rax                      /* %rdi = the slot; does not return */
tramp_no_slot:
    cli
    hlt
    jmp tramp_no_slot

    .org TRAMP_DATA                 /* fails to assemble if the code outgrew it */
smp_tramp_end:

    .section .note.GNU-stack, "", @progbits
