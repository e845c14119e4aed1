/*
 * test_acpi_tables.c - host tests of lib/acpi_tables.c on crafted tables:
 * the RSDP, the root tables, every table's header and checksum, and the
 * record walk the parsers share.  The MADT and SRAT parsers built on it are
 * tested in tests/arch/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/check.h"
#include "tests/lib/acpi_builder.h"
#include "lib/acpi_tables.h"

CHECK_SUITE("lib");

static struct acpi_tables tabs;
static char msg[4096];

/* Any table will do as the one to find: this one is shaped like a MADT. */
static uint64_t some_apic(unsigned records)
{
    struct tb t = tb_begin("APIC", 44);
    for (unsigned i = 0; i < records; i++)
        tb_record(&t, 0, 8);
    return tb_end(&t);
}

/* Walks every record of the table at pa; returns the walker's last result
 * and the number of records it handed out in *n. */
static int walk(uint64_t pa, size_t len, size_t first, unsigned *n)
{
    size_t off = first;
    const uint8_t *rec;
    int r;
    *n = 0;
    msg[0] = '\0';
    while ((r = acpi_next_subtable(at(pa), len, &off, &rec, "TEST", msg, sizeof msg)) > 0)
        (*n)++;
    return r;
}

/* ---- tests ---------------------------------------------------------------- */

CHECK_TEST(valid_rsdt)
{
    reset();
    uint64_t list[3] = {other_table("FACP"), some_apic(4), other_table("HPET")};
    size_t n = make_rsdp(rsdt_of(list, 3), 0);
    CHECK(acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECK(!tabs.xsdt);
    CHECK_EQ_U(tabs.count, 3);
    CHECK_EQ_U(tabs.invalid, 0);
    const struct acpi_table *a = acpi_find(&tabs, "APIC");
    CHECK(a != NULL && a->pa == list[1] && a->len == 44 + 4 * 8);
    CHECK(acpi_find(&tabs, "HPET") != NULL);
    CHECK(acpi_find(&tabs, "SRAT") == NULL);
    CHECK_STR_EQ(tabs.oem_id, "CRAFTD");
    CHECKF(tabs.msg[0] == '\0', "unexpected messages: %s", tabs.msg);
}

CHECK_TEST(bad_checksum_table_ignored)
{
    reset();
    uint64_t m = some_apic(2);
    at(m)[44 + 3] ^= 0x40; /* flip a bit in a record */
    uint64_t list[2] = {other_table("FACP"), m};
    size_t n = make_rsdp(rsdt_of(list, 2), 0);
    CHECK(acpi_scan(rsdp, n, acpi_map, NULL, &tabs)); /* the scan survives */
    CHECK_EQ_U(tabs.invalid, 1);
    CHECK(acpi_find(&tabs, "APIC") == NULL);
    CHECK(acpi_find(&tabs, "FACP") != NULL);
    CHECKF(strstr(tabs.msg, "APIC") && strstr(tabs.msg, "bad checksum") &&
               strstr(tabs.msg, "ignored"),
           "message: %s", tabs.msg);
    /* acpi_table_check finds it too, on a table held in memory. */
    msg[0] = '\0';
    CHECK(!acpi_table_check(at(m), 44 + 2 * 8, "APIC", 44, msg, sizeof msg));
    CHECKF(strstr(msg, "bad checksum") != NULL, "message: %s", msg);
}

CHECK_TEST(table_check_rejects)
{
    reset();
    uint64_t f = other_table("FACP");
    msg[0] = '\0';
    CHECK(!acpi_table_check(at(f), 56, "APIC", 44, msg, sizeof msg));
    CHECKF(strstr(msg, "expected table APIC, found signature 'FACP'"), "message: %s", msg);
    /* A table whose length claims more than the caller can read. */
    uint64_t m = some_apic(2);
    msg[0] = '\0';
    CHECK(!acpi_table_check(at(m), 44, "APIC", 44, msg, sizeof msg));
    CHECKF(strstr(msg, "length 60 outside 44..44"), "message: %s", msg);
    msg[0] = '\0';
    CHECK(!acpi_table_check(at(m), 20, "APIC", 44, msg, sizeof msg));
    CHECKF(strstr(msg, "shorter than its 36-byte header"), "message: %s", msg);
    /* Accepted: the length from the header, not the bytes available. */
    CHECK_EQ_U(acpi_table_check(at(m), 60, "APIC", 44, msg, sizeof msg), 60);
    CHECK_EQ_U(acpi_table_check(at(m), 4096, "APIC", 44, msg, sizeof msg), 60);
}

CHECK_TEST(walk_hands_out_every_record)
{
    reset();
    struct tb t = tb_begin("TEST", 40);
    tb_record(&t, 0, 8);
    tb_record(&t, 9, 16);
    tb_record(&t, 1, 2);
    uint64_t pa = tb_end(&t);
    unsigned n;
    CHECK_EQ_U(walk(pa, t.len, 40, &n), 0);
    CHECK_EQ_U(n, 3);
    CHECKF(msg[0] == '\0', "unexpected messages: %s", msg);
}

CHECK_TEST(truncated_record)
{
    reset();
    struct tb t = tb_begin("TEST", 44);
    tb_record(&t, 0, 8);
    tb_record(&t, 9, 16);
    t.len -= 6; /* the table now ends inside the second record */
    uint64_t pa = tb_end(&t);
    unsigned n;
    CHECK(walk(pa, t.len, 44, &n) == -1);
    CHECK_EQ_U(n, 1);
    CHECKF(strstr(msg, "TEST: record type 9 at offset 52 has length 16 but only 10 bytes remain"),
           "message: %s", msg);
}

CHECK_TEST(zero_length_record)
{
    reset();
    struct tb t = tb_begin("TEST", 44);
    tb_record(&t, 0, 8);
    uint8_t *r = tb_add(&t, 8);
    r[0] = 1; /* r[1] = 0: would loop forever if trusted */
    uint64_t pa = tb_end(&t);
    unsigned n;
    CHECK(walk(pa, t.len, 44, &n) == -1);
    CHECKF(strstr(msg, "type 1 at offset 52 has length 0") != NULL, "message: %s", msg);
}

CHECK_TEST(stray_tail_byte)
{
    reset();
    struct tb t = tb_begin("TEST", 44);
    tb_record(&t, 0, 8);
    tb_add(&t, 1);
    uint64_t pa = tb_end(&t);
    unsigned n;
    CHECK(walk(pa, t.len, 44, &n) == -1);
    CHECKF(strstr(msg, "1 stray byte(s) at offset 52") != NULL, "message: %s", msg);
}

/* A parser's record kinds: a listed type shorter than it needs stops the
 * walk with its name in the message; an unlisted type needs only 2 bytes. */
CHECK_TEST(record_kinds_bound_each_listed_type)
{
    static const struct acpi_record_kind kind[] = {{0, 8, "Eight"}, {3, 12, "Twelve"}};
    static const struct acpi_record_kinds kinds = ACPI_RECORD_KINDS("TEST", kind);
    /* After a header's worth of zeros: type 7 (not listed) in 2 bytes, type 3 in 10. */
    uint8_t table[ACPI_HEADER_LEN + 2 + 10] = {[ACPI_HEADER_LEN] = 7, 2, 3, 10};
    size_t off = ACPI_HEADER_LEN;
    const uint8_t *rec;
    msg[0] = '\0';
    CHECK(acpi_next_record(table, sizeof table, &off, &rec, &kinds, msg, sizeof msg) == 1);
    CHECK(rec == table + ACPI_HEADER_LEN);
    CHECK(acpi_next_record(table, sizeof table, &off, &rec, &kinds, msg, sizeof msg) == -1);
    CHECKF(strstr(msg, "acpi: TEST: Twelve record (type 3) at offset 38 has length 10, needs 12"),
           "message: %s", msg);
    CHECK_STR_EQ(acpi_record_name(&kinds, 3), "Twelve");
    CHECK_STR_EQ(acpi_record_name(&kinds, 7), "record");
}

CHECK_TEST(messages_fill_without_overflow)
{
    char small[32];
    small[0] = '\0';
    for (unsigned i = 0; i < 10; i++)
        acpi_msg_add(small, sizeof small, "acpi: line %u is long enough", i);
    CHECK(strlen(small) < sizeof small);
    CHECK(small[strlen(small) - 1] == '\n');
    CHECK(strncmp(small, "acpi: line 0", 12) == 0);
}

CHECK_TEST(bad_xsdt_falls_back_to_rsdt)
{
    reset();
    uint64_t list[1] = {some_apic(2)};
    uint64_t rsdt = rsdt_of(list, 1);
    uint64_t xsdt = xsdt_of(list, 1);
    at(xsdt)[ACPI_HEADER_LEN] ^= 1;
    size_t n = make_rsdp(rsdt, xsdt);
    CHECK(acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECK(!tabs.xsdt);
    CHECK_EQ_U(tabs.root_pa, rsdt);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
    CHECKF(strstr(tabs.msg, "XSDT") && strstr(tabs.msg, "falling back"), "message: %s",
           tabs.msg);
}

CHECK_TEST(bad_rsdp)
{
    reset();
    uint64_t list[1] = {some_apic(1)};
    size_t n = make_rsdp(rsdt_of(list, 1), 0);
    rsdp[16] ^= 0x10;
    CHECK(!acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECKF(strstr(tabs.msg, "RSDP: bad checksum"), "message: %s", tabs.msg);

    CHECK(!acpi_scan(rsdp, 12, acpi_map, NULL, &tabs));
    CHECKF(strstr(tabs.msg, "no RSDP"), "message: %s", tabs.msg);
    CHECK(!acpi_scan(NULL, 0, acpi_map, NULL, &tabs));

    n = make_rsdp(rsdt_of(list, 1), 0);
    rsdp[0] = 'X';
    CHECK(!acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECKF(strstr(tabs.msg, "signature"), "message: %s", tabs.msg);
}

CHECK_TEST(unmappable_and_oversized_tables)
{
    reset();
    uint64_t big = other_table("BIGT");
    put32(at(big) + 4, ACPI_MAX_TABLE_LEN + 1);
    uint64_t list[4] = {some_apic(1), 0x10000000u /* outside memory */, big, 0};
    size_t n = make_rsdp(rsdt_of(list, 4), 0);
    CHECK(acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECK_EQ_U(tabs.count, 4);
    CHECK_EQ_U(tabs.invalid, 3);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
    CHECKF(strstr(tabs.msg, "cannot map the table header at 0x10000000"), "message: %s",
           tabs.msg);
    CHECKF(strstr(tabs.msg, "BIGT") && strstr(tabs.msg, "outside"), "message: %s", tabs.msg);
    CHECKF(strstr(tabs.msg, "null table address"), "message: %s", tabs.msg);

    reset(); /* the root table itself unusable */
    n = make_rsdp(0x10000000u, 0);
    CHECK(!acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECKF(strstr(tabs.msg, "no usable root table"), "message: %s", tabs.msg);
}

CHECK_TEST(root_table_oddities)
{
    reset(); /* more tables than kept, and a length that splits an entry */
    uint64_t m = some_apic(1);
    uint64_t list[ACPI_MAX_TABLES + 6];
    list[0] = m;
    for (unsigned i = 1; i < ACPI_MAX_TABLES + 6; i++)
        list[i] = other_table("SSDT");
    struct tb t = tb_begin("RSDT", ACPI_HEADER_LEN);
    for (unsigned i = 0; i < ACPI_MAX_TABLES + 6; i++)
        put32(tb_add(&t, 4), (uint32_t)list[i]);
    tb_add(&t, 2);
    size_t n = make_rsdp(tb_end(&t), 0);
    CHECK(acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECK_EQ_U(tabs.count, ACPI_MAX_TABLES);
    CHECK_EQ_U(tabs.dropped, 6);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
    CHECKF(strstr(tabs.msg, "RSDT lists 6 table(s) beyond the 64 kept"), "message: %s", tabs.msg);
    CHECKF(strstr(tabs.msg, "leaves 2 stray byte(s)"), "message: %s", tabs.msg);

    reset(); /* RSDP v2 whose extended checksum is wrong: the RSDT is used */
    uint64_t one[1] = {some_apic(2)};
    n = make_rsdp(rsdt_of(one, 1), xsdt_of(one, 1));
    rsdp[32] ^= 1;
    CHECK(acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECK(!tabs.xsdt);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
    CHECKF(strstr(tabs.msg, "bad extended checksum"), "message: %s", tabs.msg);

    reset(); /* a v2 RSDP cut to 20 bytes (GRUB's tag 14 copy of a v2 RSDP) */
    one[0] = some_apic(2);
    n = make_rsdp(rsdt_of(one, 1), xsdt_of(one, 1));
    CHECK(acpi_scan(rsdp, ACPI_RSDP_V1_LEN, acpi_map, NULL, &tabs));
    CHECK(!tabs.xsdt);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
}

CHECK_TEST(xsdt_preferred_to_rsdt)
{
    reset();
    uint64_t list[2] = {other_table("FACP"), some_apic(1)};
    uint64_t rsdt = rsdt_of(list, 1); /* an RSDT without the APIC table: must not be used */
    size_t n = make_rsdp(rsdt, xsdt_of(list, 2));
    CHECK(acpi_scan(rsdp, n, acpi_map, NULL, &tabs));
    CHECK(tabs.xsdt);
    CHECK_EQ_U(tabs.rsdp_revision, 2);
    CHECK(acpi_find(&tabs, "APIC") != NULL);
}

CHECK_MAIN()
