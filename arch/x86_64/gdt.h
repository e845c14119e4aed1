/*
 * gdt.h - segment descriptors and the per-CPU TSS.
 *
 * Long mode ignores segment bases and limits; the GDT exists for the code
 * and data selectors and for each CPU's TSS, whose IST1 stack gives the
 * double-fault handler a known-good stack even when the kernel stack is
 * exhausted.  One GDT serves every CPU, with one TSS descriptor per CPU.
 */
#ifndef ARCH_GDT_H
#define ARCH_GDT_H

#define GDT_SEL_CODE 0x08
#define GDT_SEL_DATA 0x10
#define IST_DOUBLE_FAULT 1

/* Descriptor bits (Intel SDM vol. 3A, 3.4.5), usable from C and from the
 * assembly that builds the boot and trampoline GDTs, so that every
 * descriptor in the kernel is spelled from the same named fields. */
#ifdef __ASSEMBLER__
#define DESC_BIT(n) (1 << (n))
#else
#define DESC_BIT(n) ((uint64_t)1 << (n))
#endif
#define DESC_LIMIT_FLAT (0xffff | (0xf * DESC_BIT(48))) /* limit 0xfffff */
#define DESC_ACCESSED DESC_BIT(40)
#define DESC_RW DESC_BIT(41)         /* readable code / writable data */
#define DESC_EXEC DESC_BIT(43)
#define DESC_CODE_DATA DESC_BIT(44)  /* S: code/data rather than system */
#define DESC_PRESENT DESC_BIT(47)
#define DESC_LONG DESC_BIT(53)       /* L: 64-bit code */
#define DESC_DB DESC_BIT(54)         /* D/B: 32-bit segment */
#define DESC_GRAN_4K DESC_BIT(55)    /* G: limit in 4 KiB units */
#define DESC_TSS_AVAILABLE (0x9 * DESC_BIT(40))

/* Flat 4 GiB segments for the stages before long mode is fully on: the
 * boot GDT (boot.S) and the AP trampoline's (smp.c). */
#define DESC_FLAT (DESC_LIMIT_FLAT | DESC_GRAN_4K | DESC_PRESENT | DESC_CODE_DATA)
#define DESC_FLAT_CODE32 (DESC_FLAT | DESC_DB | DESC_EXEC | DESC_RW)
#define DESC_FLAT_DATA32 (DESC_FLAT | DESC_DB | DESC_RW)
#define DESC_FLAT_CODE64 (DESC_FLAT | DESC_LONG | DESC_EXEC | DESC_RW)

#ifdef __ASSEMBLER__
/* After a far jump into a new mode: data selector `sel` (an immediate such
 * as $SEL_DATA) into DS, ES and SS, the null selector into FS and GS.  boot.S
 * does it on entering long mode, the AP trampoline on entering protected
 * mode.  Clobbers %ax. */
.macro LOAD_DATA_SEGMENTS sel
    movw \sel, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
.endm
#endif

#ifndef __ASSEMBLER__
#include <stdint.h>

/* The operand of lgdt and lidt: a descriptor table's limit and base. */
struct desc_table_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

/* Loads the GDT, reloads CS/DS/ES/SS and this CPU's task register.  Leaves
 * FS/GS alone (reloading GS would clear the per-CPU base).  The BSP calls it
 * at boot, each AP once on entry, with its CPU index. */
void gdt_init_cpu(unsigned cpu_index);
#endif

#endif /* ARCH_GDT_H */
