/*
 * trap.c - the IDT, trap dispatch and the fatal exception report.
 */
#include <stdbool.h>
#include <stdint.h>

#include "kernel/console.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "kernel/panic.h"
#include "plat/platform.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/x86.h"

#define IDT_VECTORS 256
#define IDT_INTERRUPT_GATE 0x8e /* present, DPL 0, 64-bit interrupt gate */
#define VECTOR_DOUBLE_FAULT 8
#define VECTOR_PAGE_FAULT 14
#define BACKTRACE_MAX 16

/* Page-fault error code bits. */
#define PF_PRESENT X86_BIT(0)
#define PF_WRITE X86_BIT(1)
#define PF_USER X86_BIT(2)
#define PF_RESERVED X86_BIT(3)
#define PF_FETCH X86_BIT(4)

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate layout");

extern const uint64_t isr_stub_table[IDT_VECTORS];

static struct idt_gate idt[IDT_VECTORS];
/* Written before the vector can fire (SMP setup), read by trap_dispatch. */
static trap_handler_fn handlers[IDT_VECTORS];

static const char *const exception_names[32] = {
    [0] = "#DE divide error",
    [1] = "#DB debug",
    [2] = "NMI",
    [3] = "#BP breakpoint",
    [4] = "#OF overflow",
    [5] = "#BR bound range exceeded",
    [6] = "#UD invalid opcode",
    [7] = "#NM device not available",
    [8] = "#DF double fault",
    [9] = "coprocessor segment overrun",
    [10] = "#TS invalid TSS",
    [11] = "#NP segment not present",
    [12] = "#SS stack-segment fault",
    [13] = "#GP general protection",
    [14] = "#PF page fault",
    [16] = "#MF x87 floating-point error",
    [17] = "#AC alignment check",
    [18] = "#MC machine check",
    [19] = "#XM SIMD floating-point exception",
    [20] = "#VE virtualization exception",
    [21] = "#CP control protection",
    [28] = "#HV hypervisor injection",
    [29] = "#VC VMM communication",
    [30] = "#SX security exception",
};

void idt_load(void)
{
    struct desc_table_ptr ptr = {.limit = sizeof idt - 1, .base = (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(ptr));
}

void idt_init(void)
{
    for (unsigned v = 0; v < IDT_VECTORS; v++) {
        uint64_t addr = isr_stub_table[v];
        idt[v] = (struct idt_gate){
            .offset_low = addr & 0xffff,
            .selector = GDT_SEL_CODE,
            .ist = v == VECTOR_DOUBLE_FAULT ? IST_DOUBLE_FAULT : 0,
            .type_attr = IDT_INTERRUPT_GATE,
            .offset_mid = (addr >> 16) & 0xffff,
            .offset_high = addr >> 32,
        };
    }
    idt_load();
}

void trap_set_handler(uint8_t vector, trap_handler_fn fn)
{
    handlers[vector] = fn;
}

static const char *vector_name(uint64_t vector)
{
    if (vector < 32)
        return exception_names[vector] ? exception_names[vector] : "reserved exception";
    return "interrupt (no handler registered)";
}

/* A frame pointer is followed only if it lies in mapped kernel memory. */
static bool frame_pointer_ok(uint64_t rbp)
{
    return rbp != 0 && (rbp & 7) == 0 && rbp >= DIRECT_MAP_BASE && paging_is_mapped(rbp) &&
           paging_is_mapped(rbp + 15);
}

void trap_print_backtrace(uint64_t rbp)
{
    uint64_t pcs[BACKTRACE_MAX];
    unsigned n = 0;
    while (n < BACKTRACE_MAX && frame_pointer_ok(rbp)) {
        const uint64_t *fp = (const uint64_t *)rbp;
        if (fp[1] == 0)
            break;
        pcs[n++] = fp[1];
        if (fp[0] <= rbp) /* the stack grows down: callers' frames are higher */
            break;
        rbp = fp[0];
    }
    if (n == 0) {
        kprintf("  backtrace: none (no valid frame pointer)\n");
        return;
    }
    kprintf("  backtrace (return addresses, innermost first):\n");
    for (unsigned i = 0; i < n;) {
        unsigned same = 1; /* recursion: one line per run of equal addresses */
        while (i + same < n && pcs[i + same] == pcs[i])
            same++;
        if (same > 1)
            kprintf("    #%u-%u 0x%016lx (%u frames)\n", i, i + same - 1, pcs[i], same);
        else
            kprintf("    #%u 0x%016lx\n", i, pcs[i]);
        i += same;
    }
    kprintf("  symbolise: addr2line -f -i -e build/kernel.elf");
    for (unsigned i = 0; i < n; i++)
        if (i == 0 || pcs[i] != pcs[i - 1])
            kprintf(" 0x%lx", pcs[i]);
    kprintf("\n");
}

static void print_page_fault(uint64_t err, uint64_t cr2)
{
    kprintf("  page fault: %s %s at 0x%016lx%s%s\n", err & PF_PRESENT ? "protection violation" : "page not present",
            err & PF_FETCH ? "on instruction fetch" : err & PF_WRITE ? "on write" : "on read", cr2,
            err & PF_RESERVED ? ", reserved bit set in a page-table entry" : "",
            err & PF_USER ? ", user mode" : "");
}

static bool in_guard_page(uint64_t addr)
{
    return addr >= (uint64_t)boot_stack_guard && addr < (uint64_t)boot_stack_bottom;
}

_Noreturn void trap_report(const struct trap_frame *f)
{
    uint64_t cr2 = read_cr2(); /* before anything else can fault */
    panic_begin();
    kprintf("PANIC on cpu %u: exception vector %lu (%s), error code 0x%lx\n", plat_cpu_index(),
            f->vector, vector_name(f->vector), f->error_code);
    kprintf("  RIP 0x%016lx  CS  0x%04lx  RFLAGS 0x%016lx\n", f->rip, f->cs, f->rflags);
    kprintf("  RSP 0x%016lx  SS  0x%04lx  CR2    0x%016lx\n", f->rsp, f->ss, cr2);
    kprintf("  CR0 0x%016lx  CR3 0x%016lx  CR4 0x%016lx\n", read_cr0(), read_cr3(), read_cr4());
    kprintf("  RAX 0x%016lx  RBX 0x%016lx  RCX 0x%016lx\n", f->rax, f->rbx, f->rcx);
    kprintf("  RDX 0x%016lx  RSI 0x%016lx  RDI 0x%016lx\n", f->rdx, f->rsi, f->rdi);
    kprintf("  RBP 0x%016lx  R8  0x%016lx  R9  0x%016lx\n", f->rbp, f->r8, f->r9);
    kprintf("  R10 0x%016lx  R11 0x%016lx  R12 0x%016lx\n", f->r10, f->r11, f->r12);
    kprintf("  R13 0x%016lx  R14 0x%016lx  R15 0x%016lx\n", f->r13, f->r14, f->r15);
    if (f->vector == VECTOR_PAGE_FAULT)
        print_page_fault(f->error_code, cr2);
    /* A push into the guard page faults with CR2 there; the double fault it
     * becomes may report RSP still at the bottom of the stack, just above. */
    bool pf_or_df = f->vector == VECTOR_PAGE_FAULT || f->vector == VECTOR_DOUBLE_FAULT;
    if (in_guard_page(f->rsp) || (pf_or_df && in_guard_page(cr2)))
        kprintf("  kernel stack overflow: RSP/CR2 in the guard page below the boot stack\n");
    kprintf("  fault at 0x%016lx\n", f->rip);
    trap_print_backtrace(f->rbp);
    panic_end();
}

void trap_dispatch(struct trap_frame *frame)
{
    trap_handler_fn fn = handlers[frame->vector & (IDT_VECTORS - 1)];
    if (fn) {
        fn(frame);
        return;
    }
    trap_report(frame);
}
