/*
 * madt.c - the MADT's CPUs and local APIC address (see madt.h for the rules).
 */
#include "arch/x86_64/madt.h"

#include "lib/acpi_tables.h"

/* MADT fixed part and records (ACPI 6.5 section 5.2.12). */
#define MADT_OFF_LAPIC_ADDR 36
#define MADT_OFF_FLAGS 40
#define REC_OFF_TYPE 0
#define LAPIC_REC_LEN 8   /* type, len, uid8, id8, flags32 */
#define LAPIC_OFF_UID 2
#define LAPIC_OFF_ID 3
#define LAPIC_OFF_FLAGS 4
#define X2APIC_REC_LEN 16 /* type, len, rsvd16, id32, flags32, uid32 */
#define X2APIC_OFF_ID 4
#define X2APIC_OFF_FLAGS 8
#define X2APIC_OFF_UID 12
#define LAPIC_ADDR_REC_LEN 12 /* type, len, rsvd16, addr64 */
#define LAPIC_ADDR_OFF_ADDR 4

static const struct acpi_record_kind madt_kind[] = {
    {MADT_LAPIC, LAPIC_REC_LEN, "Local APIC"},
    {MADT_LAPIC_ADDR, LAPIC_ADDR_REC_LEN, "Local APIC Address Override"},
    {MADT_X2APIC, X2APIC_REC_LEN, "Local x2APIC"},
};
static const struct acpi_record_kinds madt_kinds = ACPI_RECORD_KINDS("APIC", madt_kind);

static bool madt_has_cpu(const struct madt *m, uint32_t apic_id)
{
    for (unsigned i = 0; i < m->cpu_count; i++)
        if (m->cpu[i].apic_id == apic_id)
            return true;
    return false;
}

static void madt_add_cpu(struct madt *m, uint32_t apic_id, uint32_t uid, uint32_t flags,
                         bool x2apic, size_t off, char *msg, size_t msglen)
{
    bool enabled = flags & MADT_ENABLED;
    if (!enabled && !(flags & MADT_ONLINE_CAPABLE)) {
        m->disabled++;
        return;
    }
    if (madt_has_cpu(m, apic_id)) {
        acpi_msg_add(msg, msglen, "acpi: APIC: APIC id %u listed again at offset %zu; ignored",
                apic_id, off);
        m->dropped++;
        return;
    }
    if (m->cpu_count == MADT_MAX_CPUS) {
        if (m->overflow++ == 0)
            acpi_msg_add(msg, msglen, "acpi: APIC: more than %u CPUs listed; the rest are ignored",
                    MADT_MAX_CPUS);
        m->dropped++;
        return;
    }
    struct madt_cpu *c = &m->cpu[m->cpu_count++];
    c->apic_id = apic_id;
    c->uid = uid;
    c->x2apic_entry = x2apic;
    c->enabled = enabled;
    if (enabled)
        m->enabled++;
}

bool madt_parse(const void *table, size_t avail, struct madt *out, char *msg, size_t msglen)
{
    const uint8_t *t = table;
    __builtin_memset(out, 0, sizeof *out);
    uint32_t len = acpi_table_check(table, avail, "APIC", MADT_HEADER_LEN, msg, msglen);
    if (len == 0)
        return false;
    out->lapic_pa = acpi_rd32(t + MADT_OFF_LAPIC_ADDR);
    out->flags = acpi_rd32(t + MADT_OFF_FLAGS);

    size_t off = MADT_HEADER_LEN;
    const uint8_t *rec;
    int r;
    while ((r = acpi_next_record(t, len, &off, &rec, &madt_kinds, msg, msglen)) > 0) {
        uint8_t type = rec[REC_OFF_TYPE];
        size_t roff = (size_t)(rec - t);
        out->records++;
        switch (type) {
        case MADT_LAPIC: {
            uint8_t id = rec[LAPIC_OFF_ID];
            uint32_t flags = acpi_rd32(rec + LAPIC_OFF_FLAGS);
            if (id == MADT_XAPIC_ID_NONE) {
                if (flags & (MADT_ENABLED | MADT_ONLINE_CAPABLE)) {
                    acpi_msg_add(msg, msglen,
                            "acpi: APIC: Local APIC record at offset %zu has id 0xff; ignored",
                            roff);
                    out->dropped++;
                }
                break;
            }
            madt_add_cpu(out, id, rec[LAPIC_OFF_UID], flags, false, roff, msg, msglen);
            break;
        }
        case MADT_X2APIC:
            madt_add_cpu(out, acpi_rd32(rec + X2APIC_OFF_ID), acpi_rd32(rec + X2APIC_OFF_UID),
                         acpi_rd32(rec + X2APIC_OFF_FLAGS), true, roff, msg, msglen);
            break;
        case MADT_LAPIC_ADDR:
            out->lapic_pa = acpi_rd64(rec + LAPIC_ADDR_OFF_ADDR);
            out->lapic_overridden = true;
            break;
        default:
            break; /* I/O APICs, overrides, NMI routing: not used (no interrupts) */
        }
    }
    return r == 0;
}
