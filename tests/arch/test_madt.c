/*
 * test_madt.c - host tests of arch/x86_64/madt.c on crafted MADTs: every
 * record type it reads, the CPU rules (disabled, online-capable, duplicate,
 * placeholder ids, overflow) and malformed records, through the real table
 * scan (tests/lib/acpi_builder.h) like the kernel's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/check.h"
#include "tests/lib/acpi_builder.h"
#include "arch/x86_64/madt.h"
#include "lib/acpi_tables.h"

CHECK_SUITE("arch");

static void madt_lapic(struct tb *t, uint8_t uid, uint8_t id, uint32_t flags)
{
    uint8_t *r = tb_record(t, MADT_LAPIC, 8);
    r[2] = uid;
    r[3] = id;
    put32(r + 4, flags);
}

static void madt_x2apic(struct tb *t, uint32_t uid, uint32_t id, uint32_t flags)
{
    uint8_t *r = tb_record(t, MADT_X2APIC, 16);
    put32(r + 4, id);
    put32(r + 8, flags);
    put32(r + 12, uid);
}

static void madt_ioapic(struct tb *t)
{
    uint8_t *r = tb_record(t, MADT_IOAPIC, 12);
    put32(r + 4, 0xfec00000u);
}

static struct tb madt_begin(void)
{
    struct tb t = tb_begin("APIC", MADT_HEADER_LEN);
    put32(at(t.pa) + 36, 0xfee00000u);
    put32(at(t.pa) + 40, 1);
    return t;
}

static uint64_t madt_simple(unsigned n)
{
    struct tb t = madt_begin();
    for (unsigned i = 0; i < n; i++)
        madt_lapic(&t, (uint8_t)i, (uint8_t)i, MADT_ENABLED);
    madt_ioapic(&t);
    return tb_end(&t);
}

static struct acpi_tables tabs;
static struct madt madt;
static char msg[4096];

/* Scans an RSDT listing FACP, the given MADT and HPET; parses the MADT found. */
static bool scan_and_parse(uint64_t madt_pa)
{
    uint64_t list[3] = {other_table("FACP"), madt_pa, other_table("HPET")};
    size_t n = make_rsdp(rsdt_of(list, 3), 0);
    msg[0] = '\0';
    if (!acpi_scan(rsdp, n, acpi_map, NULL, &tabs))
        return false;
    const struct acpi_table *t = acpi_find(&tabs, "APIC");
    if (!t)
        return false;
    return madt_parse(acpi_map(NULL, t->pa, t->len), t->len, &madt, msg, sizeof msg);
}

/* The MADT at madt_pa, found through an RSDT, is refused with a message
 * containing text.  A macro so that a failure names the test's line. */
#define CHECK_REFUSED(madt_pa, text)                                         \
    do {                                                                     \
        CHECK(!scan_and_parse(madt_pa));                                     \
        CHECKF(strstr(msg, (text)) != NULL, "message: %s", msg);             \
    } while (0)

/* ---- tests ---------------------------------------------------------------- */

CHECK_TEST(valid_rsdt_madt)
{
    reset();
    CHECK(scan_and_parse(madt_simple(4)));
    CHECK(!tabs.xsdt);
    CHECK_EQ_U(tabs.count, 3);
    CHECK_EQ_U(tabs.invalid, 0);
    CHECK(acpi_find(&tabs, "HPET") != NULL);
    CHECK(acpi_find(&tabs, "SRAT") == NULL);
    CHECK_STR_EQ(tabs.oem_id, "CRAFTD");
    CHECK_EQ_U(madt.cpu_count, 4);
    CHECK_EQ_U(madt.enabled, 4);
    CHECK_EQ_U(madt.records, 5);
    CHECK_EQ_U(madt.lapic_pa, 0xfee00000u);
    CHECK(!madt.lapic_overridden);
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ_U(madt.cpu[i].apic_id, i);
        CHECK(!madt.cpu[i].x2apic_entry);
    }
    CHECKF(msg[0] == '\0', "unexpected messages: %s", msg);
}

/* The scan's checksum test is lib's (test_acpi_tables.c); the parser checks
 * again because the kernel parses a copy. */
CHECK_TEST(bad_checksum_rejected)
{
    reset();
    uint64_t m = madt_simple(2);
    at(m)[MADT_HEADER_LEN + 3] ^= 0x40; /* flip a bit in the first APIC id */
    msg[0] = '\0';
    CHECK(!madt_parse(at(m), MADT_HEADER_LEN + 2 * 8 + 12, &madt, msg, sizeof msg));
    CHECKF(strstr(msg, "APIC: bad checksum") != NULL, "message: %s", msg);
}

CHECK_TEST(truncated_record)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, MADT_ENABLED);
    madt_x2apic(&t, 1, 1, MADT_ENABLED);
    t.len -= 6; /* the table now ends inside the x2APIC record */
    CHECK_REFUSED(tb_end(&t), "at offset 52 has length 16 but only 10 bytes remain");
}

CHECK_TEST(zero_length_record)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, MADT_ENABLED);
    uint8_t *r = tb_add(&t, 8);
    r[0] = MADT_IOAPIC; /* r[1] = 0: would loop forever if trusted */
    CHECK_REFUSED(tb_end(&t), "type 1 at offset 52 has length 0");
}

CHECK_TEST(record_shorter_than_its_type)
{
    reset();
    struct tb t = madt_begin();
    tb_record(&t, MADT_LAPIC, 6);
    CHECK_REFUSED(tb_end(&t), "Local APIC record (type 0) at offset 44 has length 6, needs 8");
}

CHECK_TEST(stray_tail_byte)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, MADT_ENABLED);
    tb_add(&t, 1);
    CHECK_REFUSED(tb_end(&t), "stray byte");
}

CHECK_TEST(x2apic_entries_via_xsdt)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, MADT_ENABLED);
    madt_x2apic(&t, 1, 300, MADT_ENABLED);
    madt_x2apic(&t, 2, 0x12345678u, MADT_ENABLED);
    uint64_t m = tb_end(&t);
    uint64_t list[2] = {other_table("FACP"), m};
    uint64_t rsdt = rsdt_of(list, 1); /* an RSDT without the MADT: must not be used */
    size_t n = make_rsdp(rsdt, xsdt_of(list, 2));
    CHECK(acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECK(tabs.xsdt);
    CHECK_EQ_U(tabs.rsdp_revision, 2);
    const struct acpi_table *a = acpi_find(&tabs, "APIC");
    CHECK(a != NULL);
    if (!a)
        return;
    msg[0] = '\0';
    CHECK(madt_parse(at(a->pa), a->len, &madt, msg, sizeof msg));
    CHECK_EQ_U(madt.cpu_count, 3);
    CHECK_EQ_U(madt.cpu[1].apic_id, 300);
    CHECK(madt.cpu[1].x2apic_entry);
    CHECK_EQ_U(madt.cpu[2].apic_id, 0x12345678u);
    CHECK_EQ_U(madt.cpu[2].uid, 2);
}

CHECK_TEST(disabled_and_online_capable)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, MADT_ENABLED);
    madt_lapic(&t, 1, 1, 0);                         /* absent: ignored */
    madt_lapic(&t, 2, 2, MADT_ONLINE_CAPABLE);  /* hot-plug slot */
    madt_x2apic(&t, 3, 3, 0);
    madt_x2apic(&t, 4, 4, MADT_ENABLED);
    madt_lapic(&t, 5, MADT_XAPIC_ID_NONE, 0);        /* placeholder, silently skipped */
    CHECK(scan_and_parse(tb_end(&t)));
    CHECK_EQ_U(madt.cpu_count, 3);
    CHECK_EQ_U(madt.enabled, 2);
    CHECK_EQ_U(madt.disabled, 2);
    CHECK_EQ_U(madt.dropped, 0);
    CHECK(madt.cpu[0].enabled);
    CHECK_EQ_U(madt.cpu[1].apic_id, 2);
    CHECK(!madt.cpu[1].enabled);
    CHECK_EQ_U(madt.cpu[2].apic_id, 4);
    CHECKF(msg[0] == '\0', "unexpected messages: %s", msg);
}

CHECK_TEST(duplicates_and_bad_ids)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, MADT_ENABLED);
    madt_lapic(&t, 1, 1, MADT_ENABLED);
    madt_x2apic(&t, 9, 1, MADT_ENABLED);                 /* same CPU again */
    madt_lapic(&t, 2, MADT_XAPIC_ID_NONE, MADT_ENABLED); /* enabled but no id */
    CHECK(scan_and_parse(tb_end(&t)));
    CHECK_EQ_U(madt.cpu_count, 2);
    CHECK_EQ_U(madt.dropped, 2);
    CHECKF(strstr(msg, "APIC id 1 listed again at offset 60"), "message: %s", msg);
    CHECKF(strstr(msg, "id 0xff"), "message: %s", msg);
}

CHECK_TEST(lapic_address_override)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, MADT_ENABLED);
    uint8_t *r = tb_record(&t, MADT_LAPIC_ADDR, 12);
    put64(r + 4, 0x1234fee00000ull);
    CHECK(scan_and_parse(tb_end(&t)));
    CHECK(madt.lapic_overridden);
    CHECK_EQ_U(madt.lapic_pa, 0x1234fee00000ull);

    reset(); /* an override record too short for its 64-bit address */
    t = madt_begin();
    r = tb_record(&t, MADT_LAPIC_ADDR, 8);
    CHECK_REFUSED(tb_end(&t), "Local APIC Address Override record (type 5)");
}

CHECK_TEST(too_many_cpus)
{
    reset();
    struct tb t = madt_begin();
    for (uint32_t i = 0; i < MADT_MAX_CPUS + 10; i++)
        madt_x2apic(&t, i, i, MADT_ENABLED);
    CHECK(scan_and_parse(tb_end(&t)));
    CHECK_EQ_U(madt.cpu_count, MADT_MAX_CPUS);
    CHECK_EQ_U(madt.overflow, 10);
    CHECKF(strstr(msg, "more than 1024 CPUs"), "message: %s", msg);
}

CHECK_TEST(wrong_signature_for_parser)
{
    reset();
    uint64_t f = other_table("FACP");
    msg[0] = '\0';
    CHECK(!madt_parse(at(f), 56, &madt, msg, sizeof msg));
    CHECKF(strstr(msg, "expected table APIC, found signature 'FACP'"), "message: %s", msg);
    /* A MADT whose length claims more than the caller can read. */
    uint64_t m = madt_simple(2);
    CHECK(!madt_parse(at(m), MADT_HEADER_LEN, &madt, msg, sizeof msg));
}

/* Whatever the parser accepts of a mutated MADT must be consistent. */
static bool madt_accepts(const uint8_t *table, size_t len, char *m, size_t mlen)
{
    if (!madt_parse(table, len, &madt, m, mlen))
        return false;
    CHECK(madt.cpu_count <= 8);
    CHECK(madt.records <= (len - MADT_HEADER_LEN) / 2);
    return true;
}

/* Random corruption of a valid MADT (checksum fixed up afterwards, so the
 * record walker is what gets exercised): must never crash or read past the
 * table, and whatever it accepts must be consistent. */
CHECK_TEST(mutated_madts_never_crash)
{
    reset();
    struct tb t = madt_begin();
    for (unsigned i = 0; i < 6; i++)
        madt_lapic(&t, (uint8_t)i, (uint8_t)i, MADT_ENABLED);
    madt_x2apic(&t, 6, 600, MADT_ENABLED);
    madt_ioapic(&t);
    uint64_t m = tb_end(&t);
    struct tb_fuzz_result r = tb_fuzz(at(m), t.len, MADT_HEADER_LEN, 12345, 20000, madt_accepts);
    CHECK(r.accepted > 0);
    CHECK_EQ_U(r.silent_refusals, 0);
}

CHECK_MAIN()
