/*
 * boot.S - Multiboot2 header and the 32-bit entry: checks for long mode,
 * builds the boot page tables, enables SSE and long mode, and calls kmain().
 *
 * GRUB enters _start32 in 32-bit protected mode, paging off, with
 * EAX = Multiboot2 magic and EBX = physical address of the boot information.
 * This code runs at its load address (section .boot is linked at 1 MiB);
 * everything else is linked at KERNEL_VMA, so absolute references to it from
 * here subtract KERNEL_VMA.
 *
 * Boot page tables (in .bss, 2 MiB pages): the first EARLY_MAP_GIB GiB mapped
 * at 0 (identity, to survive enabling paging), at DIRECT_MAP_BASE (so kmain
 * can read the boot information wherever GRUB put it below 4 GiB) and the
 * first 2 GiB at KERNEL_VMA.  paging_init() replaces them.
 */
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/x86.h"

#define MB2_HEADER_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0
#define MB2_HEADER_LEN (mb2_header_end - mb2_header)
#define MB2_HEADER_TAG_FRAMEBUFFER 5
#define MB2_HEADER_TAG_OPTIONAL 1

#define COM1 0x3f8
#define COM_LSR 5
#define LSR_THR_EMPTY 0x20
#define DEBUG_EXIT_PORT 0xf4
#define EXIT_PANIC 0x12 /* kernel/exit.h */

#define PHYS(sym) ((sym) - KERNEL_VMA)
#define SEL_CODE64 0x08
#define SEL_DATA 0x10

    .section .multiboot, "a"
    .balign 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long MB2_ARCH_I386
    .long MB2_HEADER_LEN
    .long 0x100000000 - (MB2_HEADER_MAGIC + MB2_ARCH_I386 + MB2_HEADER_LEN)
    /* Framebuffer tag, optional, no preferred mode.  The console is the
     * serial port; the tag tells GRUB that the kernel copes without VGA
     * text, which UEFI machines do not have (GRUB would otherwise warn that
     * "no console will be available to OS").  The framebuffer GRUB may set
     * up is not used. */
    .balign 8
    .word MB2_HEADER_TAG_FRAMEBUFFER, MB2_HEADER_TAG_OPTIONAL
    .long 20
    .long 0, 0, 0                   /* width, height, depth: any */
    /* end tag: type 0, flags 0, size 8 */
    .balign 8
    .word 0, 0
    .long 8
mb2_header_end:

    .section .boot.text, "ax"
    .code32
    .globl _start32
_start32:
    cli
    cld
    movl %eax, %edi                 /* Multiboot2 magic, kmain's 1st argument */
    movl %ebx, %esi                 /* boot information, kmain's 2nd argument */

    /* Zero .bss ourselves rather than trust the loader to have done it. */
    movl $PHYS(__bss_start), %ebx
    movl $PHYS(__bss_end), %ecx
1:  cmpl %ecx, %ebx
    jae 2f
    movl $0, (%ebx)
    addl $4, %ebx
    jmp 1b
2:  movl $PHYS(boot_stack_top), %esp

    call check_long_mode

    /* PD entries: 2 MiB pages covering 0 .. EARLY_MAP_GIB GiB. */
    movl $PHYS(boot_pd), %ebx
    xorl %ecx, %ecx
3:  movl %ecx, %eax
    shll $21, %eax
    orl $(PTE_P | PTE_W | PTE_PS), %eax
    movl %eax, (%ebx, %ecx, 8)
    movl %ecx, %eax
    shrl $11, %eax                  /* high half of (index << 21) */
    movl %eax, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $(EARLY_MAP_GIB * 512), %ecx
    jb 3b

    /* PDPT for the low mapping: entry i -> PD i. */
    movl $PHYS(boot_pdpt_low), %ebx
    movl $PHYS(boot_pd), %eax
    orl $(PTE_P | PTE_W), %eax
    xorl %ecx, %ecx
4:  movl %eax, (%ebx, %ecx, 8)
    addl $0x1000, %eax
    incl %ecx
    cmpl $EARLY_MAP_GIB, %ecx
    jb 4b

    /* PDPT for KERNEL_VMA (entries 510, 511 = the first 2 GiB). */
    movl $PHYS(boot_pdpt_high), %ebx
    movl $(PHYS(boot_pd) + (PTE_P | PTE_W)), 510 * 8(%ebx)
    movl $(PHYS(boot_pd) + 0x1000 + (PTE_P | PTE_W)), 511 * 8(%ebx)

    /* PML4: identity (0), direct map (256), kernel (511). */
    movl $PHYS(boot_pml4), %ebx
    movl $(PHYS(boot_pdpt_low) + (PTE_P | PTE_W)), %eax
    movl %eax, 0(%ebx)
    movl %eax, 256 * 8(%ebx)
    movl $(PHYS(boot_pdpt_high) + (PTE_P | PTE_W)), 511 * 8(%ebx)

    movl %ebx, %cr3
    movl %cr4, %eax
    orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    movl %eax, %cr4
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    /* Paging + long mode; SSE: MP set, EM and TS clear; NE for x87 errors. */
    movl %cr0, %eax
    andl $~(CR0_EM | CR0_TS), %eax
    orl $(CR0_PG | CR0_PE | CR0_WP | CR0_MP | CR0_NE), %eax
    movl %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $SEL_CODE64, $long_mode_low

/* Returns when CPUID reports long mode; otherwise says so on COM1 and exits. */
check_long_mode:
    /* CPUID exists when EFLAGS.ID (bit 21) can be toggled. */
    pushfl
    popl %eax
    movl %eax, %ecx
    xorl $(1 << 21), %eax
    pushl %eax
    popfl
    pushfl
    popl %eax
    pushl %ecx
    popfl
    cmpl %eax, %ecx
    je no_long_mode
    movl $CPUID_EXT_MAX, %eax       /* CPUID leaves EDI/ESI alone */
    cpuid
    cmpl $CPUID_EXT_FEATURES, %eax
    jb no_long_mode
    movl $CPUID_EXT_FEATURES, %eax
    cpuid
    testl $CPUID_EXT_EDX_LM, %edx
    jz no_long_mode
    ret

no_long_mode:
    movl $no_long_mode_msg, %esi
1:  movb (%esi), %bl
    testb %bl, %bl
    jz 3f
    movw $(COM1 + COM_LSR), %dx
2:  inb %dx, %al
    testb $LSR_THR_EMPTY, %al
    jz 2b
    movw $COM1, %dx
    movb %bl, %al
    outb %al, %dx
    incl %esi
    jmp 1b
3:  movw $DEBUG_EXIT_PORT, %dx
    movl $EXIT_PANIC, %eax
    outl %eax, %dx
4:  hlt
    jmp 4b

    .code64
long_mode_low:
    LOAD_DATA_SEGMENTS $SEL_DATA
    movabsq $long_mode_high, %rax
    jmp *%rax

    .section .boot.rodata, "a"
no_long_mode_msg:
    .ascii "boot: this CPU does not support 64-bit long mode (CPUID 0x80000001 EDX bit 29 clear);"
    .asciz " this kernel needs an x86_64 CPU (QEMU: -cpu max)\r\n"

    .balign 8
boot_gdt:
    .quad 0
    .quad DESC_FLAT_CODE64 | DESC_ACCESSED   /* 0x08: 64-bit code */
    .quad DESC_FLAT_DATA32 | DESC_ACCESSED   /* 0x10: data, writable */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .text
long_mode_high:
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp                 /* terminates backtraces */
    movl %edi, %edi                 /* upper halves are undefined after the mode switch */
    movl %esi, %esi
    fninit
    call kmain
1:  cli
    hlt
    jmp 1b

    .bss
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt_low:
    .skip 4096
boot_pdpt_high:
    .skip 4096
boot_pd:
    .skip 4096 * EARLY_MAP_GIB
    /* paging_init() unmaps the guard page: overflowing the boot stack faults
     * (and the double-fault handler reports it on its own IST stack)
     * instead of silently overwriting .bss. */
    .balign 4096
    .globl boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard:
    .skip 4096
boot_stack_bottom:
    .skip BOOT_STACK_SIZE
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
