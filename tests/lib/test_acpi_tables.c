/*
 * test_acpi_tables.c - host tests of lib/acpi_tables.c on crafted tables.
 *
 * A small array stands in for physical memory (tables live at MEM_BASE and
 * up); the map callback refuses anything outside it, like an unmapped
 * address.  Each test builds an RSDP, a root table and a MADT with the
 * builder below, then breaks one thing and checks both the verdict and that
 * the message names the problem.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/check.h"
#include "lib/acpi_tables.h"

CHECK_SUITE("lib");

#define MEM_BASE 0x000e0000u
#define MEM_SIZE (1u << 18)
static uint8_t mem[MEM_SIZE];
static uint64_t next_pa;

static const void *map(void *ctx, uint64_t pa, size_t len)
{
    (void)ctx;
    if (pa < MEM_BASE || pa - MEM_BASE > MEM_SIZE || len > MEM_SIZE - (pa - MEM_BASE))
        return NULL;
    return mem + (pa - MEM_BASE);
}

static uint8_t *at(uint64_t pa) { return mem + (pa - MEM_BASE); }

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* ---- table builder -------------------------------------------------------- */

struct tb {
    uint64_t pa;
    size_t len;
};

static struct tb tb_begin(const char *sig, size_t fixed)
{
    struct tb t = {.pa = next_pa, .len = fixed};
    memset(at(t.pa), 0, fixed);
    memcpy(at(t.pa), sig, 4);
    at(t.pa)[8] = 1;                 /* revision */
    memcpy(at(t.pa) + 10, "CRAFTD", 6); /* OEM id */
    return t;
}

static uint8_t *tb_add(struct tb *t, size_t n)
{
    uint8_t *p = at(t->pa) + t->len;
    memset(p, 0, n);
    t->len += n;
    return p;
}

/* Sets the length, fixes the checksum, advances the allocation cursor. */
static uint64_t tb_end(struct tb *t)
{
    uint8_t *h = at(t->pa);
    put32(h + 4, (uint32_t)t->len);
    h[9] = 0;
    h[9] = (uint8_t)(0x100 - acpi_checksum(h, t->len));
    next_pa = (t->pa + t->len + 15) & ~(uint64_t)15;
    return t->pa;
}

static void madt_lapic(struct tb *t, uint8_t uid, uint8_t id, uint32_t flags)
{
    uint8_t *r = tb_add(t, 8);
    r[0] = ACPI_MADT_LAPIC;
    r[1] = 8;
    r[2] = uid;
    r[3] = id;
    put32(r + 4, flags);
}

static void madt_x2apic(struct tb *t, uint32_t uid, uint32_t id, uint32_t flags)
{
    uint8_t *r = tb_add(t, 16);
    r[0] = ACPI_MADT_X2APIC;
    r[1] = 16;
    put32(r + 4, id);
    put32(r + 8, flags);
    put32(r + 12, uid);
}

static void madt_ioapic(struct tb *t)
{
    uint8_t *r = tb_add(t, 12);
    r[0] = ACPI_MADT_IOAPIC;
    r[1] = 12;
    put32(r + 4, 0xfec00000u);
}

static struct tb madt_begin(void)
{
    struct tb t = tb_begin("APIC", ACPI_MADT_HEADER_LEN);
    put32(at(t.pa) + 36, 0xfee00000u);
    put32(at(t.pa) + 40, 1);
    return t;
}

/* A MADT like QEMU's: n enabled CPUs with ids 0..n-1 and an I/O APIC. */
static uint64_t madt_simple(unsigned n)
{
    struct tb t = madt_begin();
    for (unsigned i = 0; i < n; i++)
        madt_lapic(&t, (uint8_t)i, (uint8_t)i, ACPI_MADT_ENABLED);
    madt_ioapic(&t);
    return tb_end(&t);
}

static uint64_t other_table(const char *sig)
{
    struct tb t = tb_begin(sig, ACPI_HEADER_LEN);
    tb_add(&t, 20);
    return tb_end(&t);
}

static uint64_t rsdt_of(const uint64_t *tables, unsigned n)
{
    struct tb t = tb_begin("RSDT", ACPI_HEADER_LEN);
    for (unsigned i = 0; i < n; i++)
        put32(tb_add(&t, 4), (uint32_t)tables[i]);
    return tb_end(&t);
}

static uint64_t xsdt_of(const uint64_t *tables, unsigned n)
{
    struct tb t = tb_begin("XSDT", ACPI_HEADER_LEN);
    for (unsigned i = 0; i < n; i++)
        put64(tb_add(&t, 8), tables[i]);
    return tb_end(&t);
}

/* RSDP v1 (20 bytes) or v2 (36 bytes) with valid checksums, in rsdp[]. */
static uint8_t rsdp[ACPI_RSDP_V2_LEN];

static size_t make_rsdp(uint64_t rsdt, uint64_t xsdt)
{
    memset(rsdp, 0, sizeof rsdp);
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "CRAFTD", 6);
    rsdp[15] = xsdt ? 2 : 0;
    put32(rsdp + 16, (uint32_t)rsdt);
    rsdp[8] = (uint8_t)(0x100 - acpi_checksum(rsdp, ACPI_RSDP_V1_LEN));
    if (!xsdt)
        return ACPI_RSDP_V1_LEN;
    put32(rsdp + 20, ACPI_RSDP_V2_LEN);
    put64(rsdp + 24, xsdt);
    rsdp[32] = (uint8_t)(0x100 - acpi_checksum(rsdp, ACPI_RSDP_V2_LEN));
    return ACPI_RSDP_V2_LEN;
}

static void reset(void)
{
    memset(mem, 0xa5, sizeof mem); /* garbage where nothing was built */
    next_pa = MEM_BASE + 0x100;
}

static struct acpi_tables tabs;
static struct acpi_madt madt;
static char msg[4096];

/* Scans an RSDT listing FACP, the given MADT and HPET; parses the MADT found. */
static bool scan_and_parse(uint64_t madt_pa)
{
    uint64_t list[3] = {other_table("FACP"), madt_pa, other_table("HPET")};
    size_t n = make_rsdp(rsdt_of(list, 3), 0);
    msg[0] = '\0';
    if (!acpi_scan(rsdp, n, map, NULL, &tabs))
        return false;
    const struct acpi_table *t = acpi_find(&tabs, "APIC");
    if (!t)
        return false;
    return acpi_parse_madt(map(NULL, t->pa, t->len), t->len, &madt, msg, sizeof msg);
}

/* ---- tests ---------------------------------------------------------------- */

static void valid_rsdt_madt(void)
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

static void bad_checksum_table_ignored(void)
{
    reset();
    uint64_t m = madt_simple(2);
    at(m)[ACPI_MADT_HEADER_LEN + 3] ^= 0x40; /* flip a bit in the first APIC id */
    uint64_t list[2] = {other_table("FACP"), m};
    size_t n = make_rsdp(rsdt_of(list, 2), 0);
    CHECK(acpi_scan(rsdp, n, map, NULL, &tabs)); /* the scan survives */
    CHECK_EQ_U(tabs.invalid, 1);
    CHECK(acpi_find(&tabs, "APIC") == NULL);
    CHECK(acpi_find(&tabs, "FACP") != NULL);
    CHECKF(strstr(tabs.msg, "APIC") && strstr(tabs.msg, "bad checksum") &&
               strstr(tabs.msg, "ignored"),
           "message: %s", tabs.msg);
    /* The parser checks the checksum itself too (the kernel parses a copy). */
    msg[0] = '\0';
    CHECK(!acpi_parse_madt(at(m), ACPI_MADT_HEADER_LEN + 2 * 8 + 12, &madt, msg, sizeof msg));
    CHECKF(strstr(msg, "bad checksum") != NULL, "message: %s", msg);
}

static void truncated_record(void)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, ACPI_MADT_ENABLED);
    madt_x2apic(&t, 1, 1, ACPI_MADT_ENABLED);
    t.len -= 6; /* the table now ends inside the x2APIC record */
    uint64_t m = tb_end(&t);
    CHECK(!scan_and_parse(m));
    CHECKF(strstr(msg, "offset 52") && strstr(msg, "length 16 but only 10 bytes remain"),
           "message: %s", msg);
}

static void zero_length_record(void)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, ACPI_MADT_ENABLED);
    uint8_t *r = tb_add(&t, 8);
    r[0] = ACPI_MADT_IOAPIC; /* r[1] = 0: would loop forever if trusted */
    uint64_t m = tb_end(&t);
    CHECK(!scan_and_parse(m));
    CHECKF(strstr(msg, "type 1 at offset 52 has length 0") != NULL, "message: %s", msg);
}

static void record_shorter_than_its_type(void)
{
    reset();
    struct tb t = madt_begin();
    uint8_t *r = tb_add(&t, 6);
    r[0] = ACPI_MADT_LAPIC;
    r[1] = 6;
    uint64_t m = tb_end(&t);
    CHECK(!scan_and_parse(m));
    CHECKF(strstr(msg, "Local APIC record (type 0) at offset 44 has length 6, needs 8") != NULL,
           "message: %s", msg);
}

static void stray_tail_byte(void)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, ACPI_MADT_ENABLED);
    tb_add(&t, 1);
    uint64_t m = tb_end(&t);
    CHECK(!scan_and_parse(m));
    CHECKF(strstr(msg, "stray byte") != NULL, "message: %s", msg);
}

static void x2apic_entries_via_xsdt(void)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, ACPI_MADT_ENABLED);
    madt_x2apic(&t, 1, 300, ACPI_MADT_ENABLED);
    madt_x2apic(&t, 2, 0x12345678u, ACPI_MADT_ENABLED);
    uint64_t m = tb_end(&t);
    uint64_t list[2] = {other_table("FACP"), m};
    uint64_t rsdt = rsdt_of(list, 1); /* an RSDT without the MADT: must not be used */
    size_t n = make_rsdp(rsdt, xsdt_of(list, 2));
    CHECK(acpi_scan(rsdp, n, map, NULL, &tabs));
    CHECK(tabs.xsdt);
    CHECK_EQ_U(tabs.rsdp_revision, 2);
    const struct acpi_table *a = acpi_find(&tabs, "APIC");
    CHECK(a != NULL);
    if (!a)
        return;
    msg[0] = '\0';
    CHECK(acpi_parse_madt(at(a->pa), a->len, &madt, msg, sizeof msg));
    CHECK_EQ_U(madt.cpu_count, 3);
    CHECK_EQ_U(madt.cpu[1].apic_id, 300);
    CHECK(madt.cpu[1].x2apic_entry);
    CHECK_EQ_U(madt.cpu[2].apic_id, 0x12345678u);
    CHECK_EQ_U(madt.cpu[2].uid, 2);
}

static void bad_xsdt_falls_back_to_rsdt(void)
{
    reset();
    uint64_t list[1] = {madt_simple(2)};
    uint64_t rsdt = rsdt_of(list, 1);
    uint64_t xsdt = xsdt_of(list, 1);
    at(xsdt)[ACPI_HEADER_LEN] ^= 1;
    size_t n = make_rsdp(rsdt, xsdt);
    CHECK(acpi_scan(rsdp, n, map, NULL, &tabs));
    CHECK(!tabs.xsdt);
    CHECK_EQ_U(tabs.root_pa, rsdt);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
    CHECKF(strstr(tabs.msg, "XSDT") && strstr(tabs.msg, "falling back"), "message: %s",
           tabs.msg);
}

static void disabled_and_online_capable(void)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, ACPI_MADT_ENABLED);
    madt_lapic(&t, 1, 1, 0);                         /* absent: ignored */
    madt_lapic(&t, 2, 2, ACPI_MADT_ONLINE_CAPABLE);  /* hot-plug slot */
    madt_x2apic(&t, 3, 3, 0);
    madt_x2apic(&t, 4, 4, ACPI_MADT_ENABLED);
    madt_lapic(&t, 5, ACPI_XAPIC_ID_NONE, 0);        /* placeholder, silently skipped */
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

static void duplicates_and_bad_ids(void)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, ACPI_MADT_ENABLED);
    madt_lapic(&t, 1, 1, ACPI_MADT_ENABLED);
    madt_x2apic(&t, 9, 1, ACPI_MADT_ENABLED);                 /* same CPU again */
    madt_lapic(&t, 2, ACPI_XAPIC_ID_NONE, ACPI_MADT_ENABLED); /* enabled but no id */
    CHECK(scan_and_parse(tb_end(&t)));
    CHECK_EQ_U(madt.cpu_count, 2);
    CHECK_EQ_U(madt.dropped, 2);
    CHECKF(strstr(msg, "APIC id 1 listed again at offset 60"), "message: %s", msg);
    CHECKF(strstr(msg, "id 0xff"), "message: %s", msg);
}

static void lapic_address_override(void)
{
    reset();
    struct tb t = madt_begin();
    madt_lapic(&t, 0, 0, ACPI_MADT_ENABLED);
    uint8_t *r = tb_add(&t, 12);
    r[0] = ACPI_MADT_LAPIC_ADDR;
    r[1] = 12;
    put64(r + 4, 0x1234fee00000ull);
    CHECK(scan_and_parse(tb_end(&t)));
    CHECK(madt.lapic_overridden);
    CHECK_EQ_U(madt.lapic_pa, 0x1234fee00000ull);

    reset(); /* an override record too short for its 64-bit address */
    t = madt_begin();
    r = tb_add(&t, 8);
    r[0] = ACPI_MADT_LAPIC_ADDR;
    r[1] = 8;
    CHECK(!scan_and_parse(tb_end(&t)));
    CHECKF(strstr(msg, "Local APIC Address Override record (type 5)"), "message: %s", msg);
}

static void too_many_cpus(void)
{
    reset();
    struct tb t = madt_begin();
    for (uint32_t i = 0; i < ACPI_MADT_MAX_CPUS + 10; i++)
        madt_x2apic(&t, i, i, ACPI_MADT_ENABLED);
    CHECK(scan_and_parse(tb_end(&t)));
    CHECK_EQ_U(madt.cpu_count, ACPI_MADT_MAX_CPUS);
    CHECK_EQ_U(madt.overflow, 10);
    CHECKF(strstr(msg, "more than 1024 CPUs"), "message: %s", msg);
}

static void bad_rsdp(void)
{
    reset();
    uint64_t list[1] = {madt_simple(1)};
    size_t n = make_rsdp(rsdt_of(list, 1), 0);
    rsdp[16] ^= 0x10;
    CHECK(!acpi_scan(rsdp, n, map, NULL, &tabs));
    CHECKF(strstr(tabs.msg, "RSDP: bad checksum"), "message: %s", tabs.msg);

    CHECK(!acpi_scan(rsdp, 12, map, NULL, &tabs));
    CHECKF(strstr(tabs.msg, "no RSDP"), "message: %s", tabs.msg);
    CHECK(!acpi_scan(NULL, 0, map, NULL, &tabs));

    n = make_rsdp(rsdt_of(list, 1), 0);
    rsdp[0] = 'X';
    CHECK(!acpi_scan(rsdp, n, map, NULL, &tabs));
    CHECKF(strstr(tabs.msg, "signature"), "message: %s", tabs.msg);
}

static void unmappable_and_oversized_tables(void)
{
    reset();
    uint64_t big = other_table("BIGT");
    put32(at(big) + 4, ACPI_MAX_TABLE_LEN + 1);
    uint64_t list[4] = {madt_simple(1), 0x10000000u /* outside memory */, big, 0};
    size_t n = make_rsdp(rsdt_of(list, 4), 0);
    CHECK(acpi_scan(rsdp, n, map, NULL, &tabs));
    CHECK_EQ_U(tabs.count, 4);
    CHECK_EQ_U(tabs.invalid, 3);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
    CHECKF(strstr(tabs.msg, "cannot map the table header at 0x10000000"), "message: %s",
           tabs.msg);
    CHECKF(strstr(tabs.msg, "BIGT") && strstr(tabs.msg, "outside"), "message: %s", tabs.msg);
    CHECKF(strstr(tabs.msg, "null table address"), "message: %s", tabs.msg);

    reset(); /* the root table itself unusable */
    n = make_rsdp(0x10000000u, 0);
    CHECK(!acpi_scan(rsdp, n, map, NULL, &tabs));
    CHECKF(strstr(tabs.msg, "no usable root table"), "message: %s", tabs.msg);
}

static void root_table_oddities(void)
{
    reset(); /* more tables than kept, and a length that splits an entry */
    uint64_t m = madt_simple(1);
    uint64_t list[ACPI_MAX_TABLES + 6];
    list[0] = m;
    for (unsigned i = 1; i < ACPI_MAX_TABLES + 6; i++)
        list[i] = other_table("SSDT");
    struct tb t = tb_begin("RSDT", ACPI_HEADER_LEN);
    for (unsigned i = 0; i < ACPI_MAX_TABLES + 6; i++)
        put32(tb_add(&t, 4), (uint32_t)list[i]);
    tb_add(&t, 2);
    size_t n = make_rsdp(tb_end(&t), 0);
    CHECK(acpi_scan(rsdp, n, map, NULL, &tabs));
    CHECK_EQ_U(tabs.count, ACPI_MAX_TABLES);
    CHECK_EQ_U(tabs.dropped, 6);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
    CHECKF(strstr(tabs.msg, "RSDT lists 6 table(s) beyond the 64 kept"), "message: %s", tabs.msg);
    CHECKF(strstr(tabs.msg, "leaves 2 stray byte(s)"), "message: %s", tabs.msg);

    reset(); /* RSDP v2 whose extended checksum is wrong: the RSDT is used */
    uint64_t one[1] = {madt_simple(2)};
    n = make_rsdp(rsdt_of(one, 1), xsdt_of(one, 1));
    rsdp[32] ^= 1;
    CHECK(acpi_scan(rsdp, n, map, NULL, &tabs));
    CHECK(!tabs.xsdt);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
    CHECKF(strstr(tabs.msg, "bad extended checksum"), "message: %s", tabs.msg);

    reset(); /* a v2 RSDP cut to 20 bytes (GRUB's tag 14 copy of a v2 RSDP) */
    one[0] = madt_simple(2);
    n = make_rsdp(rsdt_of(one, 1), xsdt_of(one, 1));
    CHECK(acpi_scan(rsdp, ACPI_RSDP_V1_LEN, map, NULL, &tabs));
    CHECK(!tabs.xsdt);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
}

static void wrong_signature_for_parser(void)
{
    reset();
    uint64_t f = other_table("FACP");
    msg[0] = '\0';
    CHECK(!acpi_parse_madt(at(f), 56, &madt, msg, sizeof msg));
    CHECKF(strstr(msg, "expected table APIC, found signature 'FACP'"), "message: %s", msg);
    /* A MADT whose length claims more than the caller can read. */
    uint64_t m = madt_simple(2);
    CHECK(!acpi_parse_madt(at(m), ACPI_MADT_HEADER_LEN, &madt, msg, sizeof msg));
}

/* Random corruption of a valid MADT (checksum fixed up afterwards, so the
 * record walker is what gets exercised): must never crash or read past the
 * table, and whatever it accepts must be consistent. */
static void mutated_madts_never_crash(void)
{
    reset();
    struct tb t = madt_begin();
    for (unsigned i = 0; i < 6; i++)
        madt_lapic(&t, (uint8_t)i, (uint8_t)i, ACPI_MADT_ENABLED);
    madt_x2apic(&t, 6, 600, ACPI_MADT_ENABLED);
    madt_ioapic(&t);
    uint64_t m = tb_end(&t);
    size_t len = t.len;
    static uint8_t orig[512], copy[512];
    memcpy(orig, at(m), len);
    srand(12345);
    unsigned accepted = 0;
    for (unsigned iter = 0; iter < 20000; iter++) {
        memcpy(copy, orig, len);
        unsigned flips = 1 + (unsigned)rand() % 4;
        for (unsigned k = 0; k < flips; k++) {
            size_t off = ACPI_MADT_HEADER_LEN + (size_t)rand() % (len - ACPI_MADT_HEADER_LEN);
            copy[off] = (uint8_t)rand();
        }
        copy[9] = 0;
        copy[9] = (uint8_t)(0x100 - acpi_checksum(copy, len));
        msg[0] = '\0';
        if (acpi_parse_madt(copy, len, &madt, msg, sizeof msg)) {
            accepted++;
            CHECK(madt.cpu_count <= 8);
            CHECK(madt.records <= (len - ACPI_MADT_HEADER_LEN) / 2);
        } else {
            CHECK(msg[0] != '\0');
        }
    }
    CHECK(accepted > 0);
}

int main(int argc, char **argv)
{
    if (argc > 1) /* "lib/san" for the sanitizer build */
        check_state.suite = argv[1];
    RUN(valid_rsdt_madt);
    RUN(bad_checksum_table_ignored);
    RUN(truncated_record);
    RUN(zero_length_record);
    RUN(record_shorter_than_its_type);
    RUN(stray_tail_byte);
    RUN(x2apic_entries_via_xsdt);
    RUN(bad_xsdt_falls_back_to_rsdt);
    RUN(disabled_and_online_capable);
    RUN(duplicates_and_bad_ids);
    RUN(lapic_address_override);
    RUN(too_many_cpus);
    RUN(bad_rsdp);
    RUN(unmappable_and_oversized_tables);
    RUN(root_table_oddities);
    RUN(wrong_signature_for_parser);
    RUN(mutated_madts_never_crash);
    return check_exit();
}
