/*
 * gdt.c - the GDT (null, kernel code, kernel data, one TSS per CPU).
 */
#include <stdint.h>

#include "arch/x86_64/gdt.h"
#include "plat/platform.h"

#define IST_STACK_SIZE 4096
#define GDT_FIXED_ENTRIES 3 /* null, code, data */
#define GDT_SEL_TSS(cpu) ((GDT_FIXED_ENTRIES + 2 * (cpu)) * 8)
#define GDT_ENTRIES (GDT_FIXED_ENTRIES + 2 * PLAT_MAX_CPUS) /* a TSS descriptor takes two */

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "TSS layout");

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16))) = {
    [0] = 0,
    [GDT_SEL_CODE / 8] = DESC_PRESENT | DESC_CODE_DATA | DESC_EXEC | DESC_RW | DESC_ACCESSED |
                         DESC_LONG,
    [GDT_SEL_DATA / 8] = DESC_PRESENT | DESC_CODE_DATA | DESC_RW | DESC_ACCESSED,
};

static struct tss tss[PLAT_MAX_CPUS];
static uint8_t ist_stack[PLAT_MAX_CPUS][IST_STACK_SIZE] __attribute__((aligned(16)));

static void gdt_set_tss(unsigned cpu_index)
{
    uint64_t base = (uint64_t)&tss[cpu_index];
    uint64_t limit = sizeof(struct tss) - 1;
    unsigned slot = GDT_SEL_TSS(cpu_index) / 8;
    gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) | DESC_TSS_AVAILABLE | DESC_PRESENT |
                (((base >> 24) & 0xff) << 56);
    gdt[slot + 1] = base >> 32;
}

void gdt_init_cpu(unsigned cpu_index)
{
    if (cpu_index >= PLAT_MAX_CPUS)
        PANIC("gdt_init_cpu: cpu index %u >= PLAT_MAX_CPUS %u", cpu_index, PLAT_MAX_CPUS);
    struct tss *t = &tss[cpu_index];
    t->ist[IST_DOUBLE_FAULT - 1] = (uint64_t)&ist_stack[cpu_index][IST_STACK_SIZE];
    t->iomap_base = sizeof(struct tss); /* no I/O permission bitmap */
    gdt_set_tss(cpu_index);

    struct desc_table_ptr ptr = {.limit = sizeof gdt - 1, .base = (uint64_t)gdt};
    __asm__ volatile("lgdt %0" : : "m"(ptr));
    /* Reload CS with a far return, then the data selectors. */
    __asm__ volatile("pushq %0\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw %w1, %%ds\n\t"
                     "movw %w1, %%es\n\t"
                     "movw %w1, %%ss"
                     :
                     : "i"(GDT_SEL_CODE), "r"(GDT_SEL_DATA)
                     : "rax", "memory");
    __asm__ volatile("ltr %w0" : : "r"(GDT_SEL_TSS(cpu_index)));
}
