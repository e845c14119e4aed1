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
