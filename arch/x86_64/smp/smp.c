/*
 * smp.c - AP bring-up: trampoline page, INIT-SIPI-SIPI, per-CPU areas.
 *
 * Sequence (Intel SDM Vol. 3A 8.4.4.1, with the delays configurable):
 *   1. INIT IPI to every AP to be started, then wait smp_init_delay_us (the
 *      SDM's 10 ms only where the processor may need it: cpu.h);
 *   2. a STARTUP IPI to each, wait smp_sipi_delay_us, a second STARTUP IPI
 *      to each one not yet online (a running CPU ignores it anyway);
 *   3. wait until every AP is online or smp_ap_timeout_ms has passed since
 *      its STARTUP IPI;
 *   4. the stragglers get the whole sequence once more (retry); those still
 *      silent are abandoned (slot CAS, see smp_int.h), sent an INIT to keep
 *      them quiet, reported, and the run goes on without them.
 * All APs are started together: each finds its own stack through the slot
 * table, so nothing in the trampoline is shared but read-only data.  Times
 * come from the TSC: per AP from its first STARTUP IPI to the moment the
 * BSP saw it online, in total from the first INIT to the last AP online.
 */
#include "arch/x86_64/smp/smp.h"

#include <stddef.h>

#include "arch/x86_64/apic.h"
#include "arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/smp/smp_int.h"
#include "arch/x86_64/trap.h"
#include "arch/x86_64/x86.h"

#define KIB 1024u
#define TRAMP_LOW_LIMIT (640 * KIB) /* conventional memory ends; EBDA/VGA above */
#define TRAMP_LOWEST PAGE_SIZE      /* page 0 stays unmapped (NULL faults) */
#define IPI_SEND_TIMEOUT_US 1000    /* xAPIC delivery status; MP spec asks 20 us */
#define SDM_INIT_DELAY_US 10000     /* SDM Vol. 3A 8.4.4.1: 10 ms after INIT */
#define SDM_SIPI_DELAY_US 200       /* ... and 200 us after each STARTUP */
#define MODERN_SIPI_DELAY_US 10     /* Linux's wait after a STARTUP when no INIT wait */
#define SMP_BARRIER_SAMPLES 16      /* empty jobs timed at bring-up */
#define CR4_OSXSAVE X86_BIT(18) /* XSAVE enabled: XCR0 must match the BSP's */
#define EFER_LMA X86_BIT(10)    /* read-only "long mode active": not written back */

struct smp_config smp_cfg;

static inline uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static inline void xsetbv0(uint64_t v)
{
    __asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static struct smp_slot slots[PLAT_MAX_CPUS];
static unsigned slot_count;
static struct percpu ap_percpu[PLAT_MAX_CPUS];
static uint8_t ap_stack[PLAT_MAX_CPUS][SMP_AP_STACK_SIZE] __attribute__((aligned(16)));
static struct madt madt;
static uint64_t tramp_pa; /* 0 = none reserved */
static uint64_t bsp_xcr0;

extern const uint8_t smp_tramp_start[], smp_tramp_protected[], smp_tramp_long[], smp_tramp_end[];

_Noreturn void smp_ap_entry(struct smp_slot *s);

struct smp_tramp_data {
    uint64_t gdt[TRAMP_GDT_ENTRIES];
    uint16_t pad0[3];
    uint16_t gdtr32_limit;
    uint32_t gdtr32_base;
    uint32_t far32_offset;
    uint16_t far32_selector;
    uint16_t pad1;
    uint32_t far64_offset;
    uint16_t far64_selector;
    uint16_t pad2[3];
    uint64_t cr3, efer, cr0, cr4;
    uint64_t slots;
    uint32_t nslots;
    uint32_t id_leaf;
    uint64_t entry;
};
/* trampoline.S reaches each field at its TD_* offset (trampoline.h). */
#define TRAMP_DATA_AT(field, off)                                            \
    _Static_assert(offsetof(struct smp_tramp_data, field) == (off), #off)
TRAMP_DATA_AT(gdt, TD_GDT);
TRAMP_DATA_AT(gdtr32_limit, TD_GDTR32);
TRAMP_DATA_AT(far32_offset, TD_FAR32);
TRAMP_DATA_AT(far64_offset, TD_FAR64);
TRAMP_DATA_AT(cr3, TD_CR3);
TRAMP_DATA_AT(efer, TD_EFER);
TRAMP_DATA_AT(cr0, TD_CR0);
TRAMP_DATA_AT(cr4, TD_CR4);
TRAMP_DATA_AT(slots, TD_SLOTS);
TRAMP_DATA_AT(nslots, TD_NSLOTS);
TRAMP_DATA_AT(id_leaf, TD_ID_LEAF);
TRAMP_DATA_AT(entry, TD_ENTRY);
#undef TRAMP_DATA_AT
_Static_assert(sizeof(struct smp_tramp_data) == TD_SIZE, "TD_SIZE");
_Static_assert(TRAMP_DATA + TD_SIZE <= TRAMP_SIZE, "the data block must fit the page");
_Static_assert(offsetof(struct smp_slot, apic_id) == SLOT_APIC_ID, "SLOT_APIC_ID");
_Static_assert(offsetof(struct smp_slot, stack_top) == SLOT_STACK_TOP, "SLOT_STACK_TOP");
_Static_assert(offsetof(struct smp_slot, entry) == SLOT_ENTRY, "SLOT_ENTRY");
_Static_assert(sizeof(struct smp_slot) == SLOT_SIZE, "SLOT_SIZE");

void smp_configure(struct cmdline *cl)
{
    uint64_t fail = 0;
    /* The SDM's delays where the processor may need them; Linux's shorter
     * ones (no INIT wait, 10 us after a STARTUP) where it does not. */
    bool legacy = cpu_needs_init_delay();
    cmdline_u64(cl, "smp_init_delay_us", legacy ? SDM_INIT_DELAY_US : 0, 0, 1000000,
                &smp_cfg.init_delay_us);
    cmdline_u64(cl, "smp_sipi_delay_us", legacy ? SDM_SIPI_DELAY_US : MODERN_SIPI_DELAY_US, 0,
                1000000, &smp_cfg.sipi_delay_us);
    cmdline_u64(cl, "smp_ap_timeout_ms", 1000, 1, 60000, &smp_cfg.ap_timeout_ms);
    cmdline_u64(cl, "smp_dispatch_timeout_ms", 10000, 1, 3600000, &smp_cfg.dispatch_timeout_ms);
    cmdline_bool(cl, "smp_xapic", false, &smp_cfg.force_xapic);
    cmdline_bool(cl, "test_smp_dispatch", false, &smp_cfg.test_dispatch);
    cmdline_u64(cl, "test_ap_fail", 0, 1, PLAT_MAX_CPUS - 1, &fail);
    smp_cfg.test_ap_fail = fail;
    cmdline_bool(cl, "test_madt_corrupt", false, &smp_cfg.test_madt_corrupt);
    cmdline_bool(cl, "test_firmware_x2apic", false, &smp_cfg.test_firmware_x2apic);
    static const char *const idle_modes[] = {"pause", "halt"};
    unsigned idle = 1; /* halt: idle vCPUs must not steal the host's cores (smp_dispatch.c) */
    cmdline_enum(cl, "smp_idle", idle_modes, 2, 1, &idle);
    smp_cfg.idle_halt = idle == 1;
}

/* ---- trampoline page ----------------------------------------------------- */

static bool overlaps(uint64_t base, uint64_t end, const struct phys_range *r)
{
    return base < r->end && r->base < end;
}

static bool page_usable(const struct mb2_info *mi, uint64_t p)
{
    for (unsigned i = 0; i < mi->region_count; i++) {
        const struct mb2_region *r = &mi->region[i];
        if (r->type == MB2_MEM_USABLE && r->base <= p && p + PAGE_SIZE <= r->base + r->len)
            return true;
    }
    return false;
}

static bool page_reserved_elsewhere(const struct mb2_info *mi, uint64_t p)
{
    /* Overlapping regions: any non-usable claim on the page wins. */
    for (unsigned i = 0; i < mi->region_count; i++) {
        const struct mb2_region *r = &mi->region[i];
        if (r->type != MB2_MEM_USABLE && r->base < p + PAGE_SIZE && p < r->base + r->len)
            return true;
    }
    return false;
}

bool smp_reserve_trampoline(const struct mb2_info *mi, const struct phys_range *avoid,
                            unsigned n_avoid, struct phys_range *out)
{
    for (uint64_t p = TRAMP_LOW_LIMIT - PAGE_SIZE; p >= TRAMP_LOWEST; p -= PAGE_SIZE) {
        if (!page_usable(mi, p) || page_reserved_elsewhere(mi, p))
            continue;
        bool clash = false;
        for (unsigned i = 0; i < n_avoid && !clash; i++)
            clash = overlaps(p, p + PAGE_SIZE, &avoid[i]);
        if (clash)
            continue;
        tramp_pa = p;
        out->base = p;
        out->end = p + PAGE_SIZE;
        return true;
    }
    kprintf("smp: no usable 4 KiB page in [0x%llx, 0x%llx) for the AP trampoline; "
            "APs cannot be started\n",
            (unsigned long long)TRAMP_LOWEST, (unsigned long long)TRAMP_LOW_LIMIT);
    return false;
}

static void install_trampoline(void)
{
    uint8_t *page = plat_phys_to_virt(tramp_pa);
    size_t code = (size_t)(smp_tramp_end - smp_tramp_start);
    __builtin_memcpy(page, smp_tramp_start, code);
    struct smp_tramp_data *d = (struct smp_tramp_data *)(page + TRAMP_DATA);
    __builtin_memset(d, 0, sizeof *d);
    /* Flat code/data for the 32-bit stage, long-mode code for the jump to
     * 64-bit. */
    d->gdt[TRAMP_SEL_CODE32 / 8] = DESC_FLAT_CODE32;
    d->gdt[TRAMP_SEL_DATA32 / 8] = DESC_FLAT_DATA32;
    d->gdt[TRAMP_SEL_CODE64 / 8] = DESC_FLAT_CODE64;
    d->gdtr32_limit = sizeof d->gdt - 1;
    d->gdtr32_base = (uint32_t)(tramp_pa + TRAMP_DATA + TD_GDT);
    d->far32_offset = (uint32_t)tramp_pa + (uint32_t)(smp_tramp_protected - smp_tramp_start);
    d->far32_selector = TRAMP_SEL_CODE32;
    d->far64_offset = (uint32_t)tramp_pa + (uint32_t)(smp_tramp_long - smp_tramp_start);
    d->far64_selector = TRAMP_SEL_CODE64;
    uint64_t cr3 = read_cr3();
    if (cr3 >= ((uint64_t)1 << 32))
        PANIC("smp: the kernel page tables (CR3 0x%lx) must lie below 4 GiB for the trampoline",
              cr3);
    d->cr3 = cr3;
    d->efer = rdmsr(MSR_EFER) & ~EFER_LMA;
    d->cr0 = read_cr0();
    d->cr4 = read_cr4();
    d->slots = (uint64_t)slots;
    d->nslots = slot_count;
    /* x2APIC ids come from leaf 0xb; without it only 8-bit ids can match. */
    bool leaf_b = cpuid(0, 0).eax >= CPUID_TOPOLOGY;
    d->id_leaf = apic_mode() == APIC_MODE_X2APIC && leaf_b ? CPUID_TOPOLOGY : CPUID_FEATURES;
    d->entry = (uint64_t)smp_ap_entry;
    if (d->cr4 & CR4_OSXSAVE)
        bsp_xcr0 = xgetbv0();
}

/* ---- the AP side ------------------------------------------------------------- */

/* Called by the trampoline on the AP's own stack, interrupts off, still on
 * the trampoline's GDT. */
_Noreturn void smp_ap_entry(struct smp_slot *s)
{
    percpu_install(s->percpu); /* first: exception reports read the per-CPU area */
    gdt_init_cpu(s->slot);     /* TSS per slot: unique even if indices are renumbered */
    idt_load();                /* after the GDT: the gates name the kernel's selectors */
    if (read_cr4() & CR4_OSXSAVE)
        xsetbv0(bsp_xcr0);
    __asm__ volatile("fninit");
    apic_init_ap();
    /* Stamped here, not when the BSP notices: on an oversubscribed host the
     * BSP's vCPU may be descheduled for many milliseconds. */
    s->online_tsc = plat_tsc();
    unsigned expected = SLOT_STARTING;
    if (!atomic_compare_exchange_strong_explicit(&s->state, &expected, SLOT_ONLINE,
                                                 memory_order_acq_rel, memory_order_acquire))
        cpu_halt_forever(); /* the BSP counted us out: stay out */
    smp_idle_loop(s);
}

/* test_ap_fail: the slot's entry points here instead of smp_ap_entry. */
static _Noreturn void smp_ap_fail_injected(struct smp_slot *s)
{
    (void)s;
    cpu_halt_forever();
}

/* ---- the BSP side ------------------------------------------------------------ */

static void delay_us(uint64_t us)
{
    uint64_t cycles = smp_us_to_cycles(us), t0 = plat_tsc();
    while (plat_tsc() - t0 < cycles)
        plat_pause();
}

static void prepare_slot(struct smp_slot *s)
{
    struct percpu *pc = &ap_percpu[s->slot];
    pc->self = pc;
    pc->cpu_index = s->slot; /* provisional: renumbered if an earlier AP fails */
    pc->apic_id = s->apic_id;
    s->percpu = pc;
    s->stack_top = (uint64_t)&ap_stack[s->slot][SMP_AP_STACK_SIZE];
    s->stack_bottom = (uint64_t *)ap_stack[s->slot];
    for (unsigned i = 0; i < SMP_STACK_CANARY_WORDS; i++)
        s->stack_bottom[i] = SMP_STACK_CANARY;
    s->entry = s->slot == smp_cfg.test_ap_fail ? (uint64_t)smp_ap_fail_injected : 0;
    s->attempts = 0;
    s->online_tsc = 0;
    s->seen_tsc = 0;
    atomic_store_explicit(&s->state, SLOT_UNUSED, memory_order_relaxed);
}

/* One INIT-SIPI-SIPI sequence to every slot in list[], in parallel. */
static void start_attempt(struct smp_slot **list, unsigned n)
{
    uint64_t ipi_timeout = smp_us_to_cycles(IPI_SEND_TIMEOUT_US);
    uint8_t page = (uint8_t)(tramp_pa >> 12);
    for (unsigned i = 0; i < n; i++) {
        list[i]->attempts++;
        atomic_store_explicit(&list[i]->state, SLOT_STARTING, memory_order_relaxed);
    }
    /* Everything the APs will read (slots, per-CPU areas, trampoline) must be
     * visible before the first IPI: an IPI is not a memory access that
     * orders earlier stores, and a WRMSR to the x2APIC ICR is not serialising. */
    atomic_thread_fence(memory_order_seq_cst);
    for (unsigned i = 0; i < n; i++)
        apic_send_init(list[i]->apic_id, ipi_timeout);
    delay_us(smp_cfg.init_delay_us);
    for (unsigned i = 0; i < n; i++) {
        list[i]->sipi_tsc = plat_tsc();
        apic_send_startup(list[i]->apic_id, page, ipi_timeout);
    }
    delay_us(smp_cfg.sipi_delay_us);
    for (unsigned i = 0; i < n; i++)
        if (atomic_load_explicit(&list[i]->state, memory_order_acquire) != SLOT_ONLINE)
            apic_send_startup(list[i]->apic_id, page, ipi_timeout);
}

/* Waits until every slot in list[] is online or timed out; moves the ones
 * that did not answer to the front of list[] and returns their number. */
static unsigned wait_online(struct smp_slot **list, unsigned n)
{
    uint64_t timeout = smp_us_to_cycles(smp_cfg.ap_timeout_ms * 1000);
    unsigned pending;
    do {
        uint64_t now = plat_tsc();
        pending = 0;
        for (unsigned i = 0; i < n; i++) {
            struct smp_slot *s = list[i];
            if (s->seen_tsc)
                continue;
            if (atomic_load_explicit(&s->state, memory_order_acquire) == SLOT_ONLINE)
                s->seen_tsc = now;
            else if (now - s->sipi_tsc < timeout)
                pending++;
        }
        plat_pause();
    } while (pending);
    unsigned silent = 0;
    for (unsigned i = 0; i < n; i++)
        if (!list[i]->seen_tsc)
            list[silent++] = list[i];
    return silent;
}

/* Counts the slot out and resets its CPU, unless it came online at the very
 * last moment (then false, and it is counted online). */
static bool abandon(struct smp_slot *s)
{
    unsigned expected = SLOT_STARTING;
    if (!atomic_compare_exchange_strong_explicit(&s->state, &expected, SLOT_ABANDONED,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        s->seen_tsc = plat_tsc(); /* it won the race: it is online */
        return false;
    }
    apic_send_init(s->apic_id, smp_us_to_cycles(IPI_SEND_TIMEOUT_US));
    return true;
}

/* The slots in list[] that did not answer get one more attempt; returns how
 * many are still silent after it, at the front of list[]. */
static unsigned retry(struct smp_slot **list, unsigned n)
{
    unsigned again = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!abandon(list[i]))
            continue;
        kprintf("smp: cpu %u (APIC id %u) did not answer within %llu ms; retrying\n",
                list[i]->slot, list[i]->apic_id, (unsigned long long)smp_cfg.ap_timeout_ms);
        list[again++] = list[i];
    }
    if (again == 0)
        return 0;
    delay_us(smp_cfg.init_delay_us); /* the first attempt's APs are reset before STARTING */
    start_attempt(list, again);
    return wait_online(list, again);
}

/* Starts slots 1..slot_count-1; returns the TSC of the first INIT and, in
 * *end, the TSC when the last AP answered or was given up on. */
static uint64_t start_aps(uint64_t *end)
{
    static struct smp_slot *list[PLAT_MAX_CPUS];
    unsigned n = 0;
    for (unsigned i = 1; i < slot_count; i++) {
        prepare_slot(&slots[i]);
        list[n++] = &slots[i];
    }
    install_trampoline();
    kprintf("smp: starting %u AP(s) in parallel (%s, trampoline at 0x%llx, INIT delay %llu us, "
            "SIPI delay %llu us, timeout %llu ms)\n",
            n, apic_mode_name(), (unsigned long long)tramp_pa,
            (unsigned long long)smp_cfg.init_delay_us, (unsigned long long)smp_cfg.sipi_delay_us,
            (unsigned long long)smp_cfg.ap_timeout_ms);
    uint64_t t0 = plat_tsc();
    start_attempt(list, n);
    unsigned silent = retry(list, wait_online(list, n));
    for (unsigned i = 0; i < silent; i++)
        if (abandon(list[i]))
            kprintf("smp: cpu %u (APIC id %u) did not answer after %u attempts; continuing "
                    "without it\n", list[i]->slot, list[i]->apic_id, list[i]->attempts);
    *end = plat_tsc();
    return t0;
}

/* Dense indices over the CPUs that came up, in slot order; then publishes
 * the count (release: pairs with plat_cpu_count's acquire). */
static unsigned publish_cpus(uint64_t t0)
{
    unsigned n = 1;
    uint64_t last = t0;
    slots[0].percpu = &percpu_bsp;
    smp_cpu_slot[0] = &slots[0];
    smp_info.apic_id[0] = slots[0].apic_id;
    smp_info.ap_start_ns[0] = 0;
    for (unsigned i = 1; i < slot_count; i++) {
        struct smp_slot *s = &slots[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_ONLINE)
            continue;
        percpu_set_index(s->percpu, n);
        smp_cpu_slot[n] = s;
        smp_info.apic_id[n] = s->apic_id;
        /* An AP TSC behind the BSP's (unsynchronised TSCs: see the skew
         * check) would make its own stamp precede the IPI: use the BSP's. */
        uint64_t online = s->online_tsc > s->sipi_tsc ? s->online_tsc : s->seen_tsc;
        smp_info.ap_start_ns[n] = smp_cycles_to_ns(online - s->sipi_tsc);
        if (online > last)
            last = online;
        uint64_t ns = smp_info.ap_start_ns[n];
        kprintf("smp: cpu %u (APIC id %u) online %llu.%llu us after its STARTUP IPI "
                "(attempt %u)%s\n",
                n, s->apic_id, (unsigned long long)(ns / 1000),
                (unsigned long long)(ns % 1000 / 100), s->attempts,
                n != s->slot ? " (renumbered)" : "");
        n++;
    }
    smp_info.cpus_online = n;
    smp_info.bringup_total_ns = slot_count > 1 ? smp_cycles_to_ns(last - t0) : 0;
    atomic_store_explicit(&smp_cpus_online, n, memory_order_release);
    return n;
}

void smp_init(const struct mb2_info *mi)
{
    smp_read_madt(mi, &madt);
    if (smp_cfg.test_firmware_x2apic) {
        if (!apic_test_preenable_x2apic()) {
            kprintf("smp: test_firmware_x2apic=1: this CPU has no x2APIC to enable\n");
            kernel_exit(EXIT_CONFIG_ERROR);
        }
        kprintf("smp: test_firmware_x2apic: x2APIC mode switched on before the kernel looks, "
                "as firmware may leave it\n");
    }
    if (!apic_init_bsp(madt.lapic_pa, smp_cfg.force_xapic)) {
        kprintf("smp: no usable local APIC: cannot start other CPUs; stopping (exit check-failed)\n");
        kernel_exit(EXIT_CHECK_FAILED);
    }
    uint32_t bsp_id = apic_id();
    percpu_bsp.apic_id = bsp_id;
    slot_count = smp_build_slots(&madt, bsp_id, slots);
    smp_info.cpus_in_madt = madt.cpu_count;
    if (smp_cfg.test_ap_fail >= slot_count) {
        kprintf("smp: test_ap_fail=%llu: no such AP (CPUs are 0..%u, 0 is the BSP)\n",
                (unsigned long long)smp_cfg.test_ap_fail, slot_count - 1);
        kernel_exit(EXIT_CONFIG_ERROR);
    }
    uint64_t t0 = plat_tsc(), end = t0;
    if (slot_count > 1) {
        if (!tramp_pa) {
            kprintf("smp: %u AP(s) to start but no trampoline page was reserved "
                    "(smp_reserve_trampoline); stopping (exit check-failed)\n",
                    slot_count - 1);
            kernel_exit(EXIT_CHECK_FAILED);
        }
        smp_idle_setup(smp_cfg.idle_halt);
        t0 = start_aps(&end);
    }
    unsigned online = publish_cpus(t0);
    uint64_t total = smp_info.bringup_total_ns;
    kprintf("smp: %u of %u CPUs online (MADT lists %u), bring-up %llu.%03llu ms from the first "
            "INIT to the last AP online\n",
            online, slot_count, madt.cpu_count, (unsigned long long)(total / 1000000),
            (unsigned long long)(total % 1000000 / 1000));
    if (online < slot_count) {
        uint64_t spent = smp_cycles_to_ns(end - t0);
        kprintf("smp: running with %u CPUs: %u AP(s) did not start (bring-up including the "
                "timeouts and retry: %llu ms)\n",
                online, slot_count - online, (unsigned long long)(spent / 1000000));
    }
    if (online > 1) {
        smp_check_tsc();
        smp_measure_barrier(SMP_BARRIER_SAMPLES);
    }
    if (smp_cfg.test_dispatch && !smp_test_dispatch())
        kernel_exit(EXIT_CHECK_FAILED);
}
