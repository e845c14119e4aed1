/*
 * smp_madt.c - from the ACPI tables (arch/x86_64/acpi.c) to the list of CPUs to start.
 *
 * The MADT is copied before it is parsed, so the checksum and every record
 * are checked on bytes that cannot change underneath (and test_madt_corrupt
 * can damage the copy, not the firmware's table).
 */
#include "lib/acpi_tables.h"
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/madt.h"
#include "arch/x86_64/apic.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "plat/platform.h"
#include "arch/x86_64/smp/smp.h"
#include "arch/x86_64/smp/smp_int.h"

#define MADT_COPY_MAX 0x10000 /* 64 KiB: 4000 x2APIC records */
#define CORRUPT_XOR 0x5a      /* any non-zero value breaks the checksum */

static uint8_t madt_copy[MADT_COPY_MAX];
static char madt_msg[ACPI_MSG_LEN];

static _Noreturn void no_madt(const char *why)
{
    kprintf("smp: %s: cannot enumerate the CPUs; stopping (exit check-failed)\n", why);
    kernel_exit(EXIT_CHECK_FAILED);
}

void smp_read_madt(const struct mb2_info *mi, struct madt *madt)
{
    const struct acpi_tables *tables = acpi_tables_of(mi);
    if (!tables)
        no_madt(mi->rsdp ? "no usable ACPI root table"
                         : "the boot loader passed no ACPI RSDP (Multiboot2 tag 14/15)");
    const struct acpi_table *t = acpi_find(tables, "APIC");
    if (!t)
        no_madt("no valid MADT (APIC table)");
    if (t->len > MADT_COPY_MAX) {
        kprintf("acpi: APIC: %u bytes, more than the %u this kernel copies\n", t->len,
                MADT_COPY_MAX);
        no_madt("MADT too large");
    }
    const void *src = acpi_map_phys(t->pa, t->len);
    if (!src)
        no_madt("cannot map the MADT");
    __builtin_memcpy(madt_copy, src, t->len);
    if (smp_cfg.test_madt_corrupt) {
        /* Damage the last byte (a record byte, or the header's end when
         * there are none): the checksum must catch it. */
        madt_copy[t->len - 1] ^= CORRUPT_XOR;
        kprintf("smp: test_madt_corrupt: flipped bits of byte %u of the MADT copy\n",
                t->len - 1);
    }
    madt_msg[0] = '\0';
    bool ok = madt_parse(madt_copy, t->len, madt, madt_msg, sizeof madt_msg);
    acpi_print_lines(madt_msg);
    if (!ok)
        no_madt("the MADT is invalid");
    unsigned x2apic_entries = 0;
    for (unsigned i = 0; i < madt->cpu_count; i++)
        x2apic_entries += madt->cpu[i].x2apic_entry;
    kprintf("smp: MADT at 0x%llx: %u CPUs listed (%u enabled, %u online-capable, %u ignored; "
            "%u in x2APIC entries), local APIC at 0x%llx%s\n",
            (unsigned long long)t->pa, madt->cpu_count, madt->enabled,
            madt->cpu_count - madt->enabled, madt->disabled + madt->dropped, x2apic_entries,
            (unsigned long long)madt->lapic_pa, madt->lapic_overridden ? " (override)" : "");
}

unsigned smp_build_slots(const struct madt *madt, uint32_t bsp_apic_id,
                         struct smp_slot *slots)
{
    unsigned n = 1, unaddressable = 0, beyond = 0, hotplug = 0;
    bool bsp_listed = false;
    slots[0].apic_id = bsp_apic_id;
    slots[0].slot = 0;
    for (unsigned i = 0; i < madt->cpu_count; i++) {
        const struct madt_cpu *c = &madt->cpu[i];
        if (c->apic_id == bsp_apic_id) {
            bsp_listed = true;
            continue;
        }
        if (!c->enabled) {
            hotplug++; /* online-capable: a hot-plug slot with no CPU in it now */
            continue;
        }
        if (!apic_id_addressable(c->apic_id)) {
            if (unaddressable++ == 0)
                kprintf("smp: APIC id %u cannot be addressed in %s mode; skipped\n",
                        c->apic_id, apic_mode_name());
            continue;
        }
        if (n == PLAT_MAX_CPUS) {
            if (beyond++ == 0)
                kprintf("smp: more than PLAT_MAX_CPUS=%u CPUs; APIC id %u and later skipped\n",
                        PLAT_MAX_CPUS, c->apic_id);
            continue;
        }
        slots[n].apic_id = c->apic_id;
        slots[n].slot = n;
        n++;
    }
    if (!bsp_listed)
        kprintf("smp: the BSP's APIC id %u is not in the MADT; running it as CPU 0 anyway\n",
                bsp_apic_id);
    if (hotplug)
        kprintf("smp: %u online-capable (hot-plug) CPU(s) not started\n", hotplug);
    if (unaddressable)
        kprintf("smp: %u CPU(s) skipped: APIC id not addressable\n", unaddressable);
    if (beyond)
        kprintf("smp: %u CPU(s) skipped: beyond PLAT_MAX_CPUS\n", beyond);
    return n;
}
