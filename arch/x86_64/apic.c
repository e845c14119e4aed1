/*
 * apic.c - local APIC access in xAPIC or x2APIC mode (see apic.h).
 *
 * Only the BSP writes the mode and the MMIO pointer, before any AP runs; the
 * APs read them after the release/acquire handshake of the SMP start, so
 * plain variables suffice.
 */
#include "arch/x86_64/apic.h"

#include "kernel/console.h"
#include "arch/x86_64/paging.h"
#include "plat/platform.h"
#include "arch/x86_64/x86.h"

static enum apic_mode mode;
static volatile uint32_t *mmio; /* xAPIC register page (device memory: volatile is right) */

static uint32_t xapic_read(uint32_t reg)
{
    return mmio[reg / sizeof(uint32_t)];
}

static void xapic_write(uint32_t reg, uint32_t v)
{
    mmio[reg / sizeof(uint32_t)] = v;
}

static void reg_write(uint32_t reg, uint32_t v)
{
    if (mode == APIC_MODE_X2APIC)
        wrmsr(APIC_X2APIC_MSR(reg), v);
    else
        xapic_write(reg, v);
}

enum apic_mode apic_mode(void)
{
    return mode;
}

const char *apic_mode_name(void)
{
    switch (mode) {
    case APIC_MODE_XAPIC: return "xAPIC";
    case APIC_MODE_X2APIC: return "x2APIC";
    default: return "none";
    }
}

uint32_t apic_id(void)
{
    if (mode == APIC_MODE_X2APIC)
        return (uint32_t)rdmsr(APIC_X2APIC_MSR(APIC_REG_ID));
    return xapic_read(APIC_REG_ID) >> APIC_XAPIC_ID_SHIFT;
}

bool apic_id_addressable(uint32_t id)
{
    if (mode == APIC_MODE_X2APIC)
        return id != UINT32_MAX; /* all-ones is the broadcast id */
    return id <= APIC_XAPIC_MAX_ID;
}

/* Software-enables the APIC with a spurious vector; LVT entries stay masked
 * (their reset state), so nothing is ever delivered. */
static void enable_local(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    uint64_t want = base | APIC_BASE_ENABLE;
    if (mode == APIC_MODE_X2APIC)
        want |= APIC_BASE_EXTD;
    if (want != base) {
        /* xAPIC -> x2APIC must pass through "enabled, xAPIC" (SDM 11.12.5). */
        if (mode == APIC_MODE_X2APIC && !(base & APIC_BASE_ENABLE))
            wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
        wrmsr(MSR_APIC_BASE, want);
    }
    reg_write(APIC_REG_SVR, APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR);
}

bool apic_init_bsp(uint64_t madt_lapic_pa, bool force_xapic)
{
    struct cpuid_regs r = cpuid(CPUID_FEATURES, 0);
    if (!(r.edx & CPUID_1_EDX_APIC)) {
        kprintf("apic: CPUID reports no local APIC; cannot start other CPUs\n");
        return false;
    }
    uint64_t base = rdmsr(MSR_APIC_BASE);
    uint64_t pa = base & APIC_BASE_ADDR_MASK;
    if (madt_lapic_pa && madt_lapic_pa != pa)
        kprintf("apic: MADT says the local APIC is at 0x%llx, IA32_APIC_BASE says 0x%llx; "
                "using the MSR\n",
                (unsigned long long)madt_lapic_pa, (unsigned long long)pa);
    bool x2 = (r.ecx & CPUID_1_ECX_X2APIC) && !force_xapic;
    if (!x2 && (base & APIC_BASE_EXTD)) {
        /* Firmware left x2APIC on; leaving it needs a full disable first. */
        kprintf("apic: firmware enabled x2APIC mode; staying in it\n");
        x2 = true;
    }
    if (x2) {
        mode = APIC_MODE_X2APIC;
    } else {
        mmio = paging_map_mmio(pa, APIC_MMIO_SIZE);
        if (!mmio) {
            kprintf("apic: cannot map the xAPIC registers at 0x%llx\n", (unsigned long long)pa);
            return false;
        }
        mode = APIC_MODE_XAPIC;
    }
    enable_local();
    return true;
}

bool apic_test_preenable_x2apic(void)
{
    if (!(cpuid(CPUID_FEATURES, 0).ecx & CPUID_1_ECX_X2APIC))
        return false;
    uint64_t base = rdmsr(MSR_APIC_BASE);
    /* xAPIC -> x2APIC passes through "enabled, xAPIC" (SDM 11.12.5). */
    wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_EXTD);
    return true;
}

void apic_init_ap(void)
{
    enable_local();
}

/* Writes the ICR and, in xAPIC mode, waits for the delivery status to clear
 * (x2APIC has no such bit: the MSR write completes the send). */
static bool send_ipi(uint32_t dest, uint32_t low, uint64_t timeout_cycles, const char *what)
{
    if (mode == APIC_MODE_X2APIC) {
        /* A WRMSR to an x2APIC register is not serialising: it may send the
         * IPI before earlier stores (the job the IPI announces) are globally
         * visible.  The SDM's remedy (Vol. 3A, x2APIC register access):
         * MFENCE; LFENCE first. */
        __asm__ volatile("mfence; lfence" : : : "memory");
        wrmsr(APIC_X2APIC_ICR_MSR, ((uint64_t)dest << APIC_ICR_DEST_SHIFT_X2APIC) | low);
        return true;
    }
    xapic_write(APIC_REG_ESR, 0); /* clear stale errors: ESR is write-then-read */
    xapic_write(APIC_REG_ICR_HIGH, dest << (APIC_ICR_DEST_SHIFT_XAPIC - 32));
    xapic_write(APIC_REG_ICR_LOW, low); /* this write sends */
    uint64_t start = plat_tsc();
    while (xapic_read(APIC_REG_ICR_LOW) & APIC_ICR_SEND_PENDING) {
        if (plat_tsc() - start > timeout_cycles) {
            xapic_write(APIC_REG_ESR, 0);
            kprintf("apic: %s IPI to APIC id %u still pending after %llu cycles (ESR 0x%x)\n",
                    what, dest, (unsigned long long)timeout_cycles, xapic_read(APIC_REG_ESR));
            return false;
        }
        plat_pause();
    }
    return true;
}

bool apic_send_init(uint32_t id, uint64_t timeout_cycles)
{
    return send_ipi(id, APIC_ICR_DM_INIT | APIC_ICR_LEVEL_ASSERT | APIC_ICR_TRIGGER_LEVEL,
                    timeout_cycles, "INIT");
}

bool apic_send_startup(uint32_t id, uint8_t page, uint64_t timeout_cycles)
{
    return send_ipi(id, APIC_ICR_DM_STARTUP | APIC_ICR_LEVEL_ASSERT | page, timeout_cycles,
                    "STARTUP");
}

bool apic_send_nmi(uint32_t id, uint64_t timeout_cycles)
{
    return send_ipi(id, APIC_ICR_DM_NMI | APIC_ICR_LEVEL_ASSERT, timeout_cycles, "NMI");
}
