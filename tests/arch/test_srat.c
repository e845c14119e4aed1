/*
 * test_srat.c - host tests of arch/x86_64/srat.c on crafted SRATs and SLITs:
 * a table shaped like QEMU's (-numa: types 0 and 2 for CPUs, type 1 for
 * memory, an all-zero padding entry), disabled entries, and the malformed
 * tables the parser must refuse with a message: short records, proximity
 * domains out of range, overlapping or wrapping ranges, duplicate CPUs,
 * SLITs of the wrong size, with a bad diagonal or too few localities.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/check.h"
#include "tests/lib/acpi_builder.h"
#include "arch/x86_64/srat.h"
#include "lib/acpi_tables.h"

CHECK_SUITE("arch");

static struct numa_topology topo;
static char msg[4096];

static struct tb srat_begin(void)
{
    struct tb t = tb_begin("SRAT", SRAT_HEADER_LEN);
    put32(at(t.pa) + 36, 1); /* table revision (reserved, 1) */
    return t;
}

static void srat_apic(struct tb *t, uint8_t apic_id, uint32_t domain, uint32_t flags)
{
    uint8_t *r = tb_record(t, SRAT_CPU_APIC, 16);
    r[2] = (uint8_t)domain;
    r[3] = apic_id;
    put32(r + 4, flags);
    r[9] = (uint8_t)(domain >> 8);
    r[10] = (uint8_t)(domain >> 16);
    r[11] = (uint8_t)(domain >> 24);
}

static void srat_x2apic(struct tb *t, uint32_t apic_id, uint32_t domain, uint32_t flags)
{
    uint8_t *r = tb_record(t, SRAT_CPU_X2APIC, 24);
    put32(r + 4, domain);
    put32(r + 8, apic_id);
    put32(r + 12, flags);
}

static void srat_mem(struct tb *t, uint64_t base, uint64_t len, uint32_t domain, uint32_t flags)
{
    uint8_t *r = tb_record(t, SRAT_MEMORY, 40);
    put32(r + 2, domain);
    put64(r + 8, base);
    put64(r + 16, len);
    put32(r + 28, flags);
}

static uint64_t slit_of(unsigned n, const uint8_t *dist)
{
    struct tb t = tb_begin("SLIT", SLIT_HEADER_LEN);
    put64(at(t.pa) + 36, n);
    memcpy(tb_add(&t, (size_t)n * n), dist, (size_t)n * n);
    return tb_end(&t);
}

static bool parse(uint64_t pa)
{
    msg[0] = '\0';
    uint32_t len;
    memcpy(&len, at(pa) + 4, 4);
    return srat_parse(at(pa), len, &topo, msg, sizeof msg);
}

static bool parse_slit(uint64_t pa)
{
    msg[0] = '\0';
    uint32_t len;
    memcpy(&len, at(pa) + 4, 4);
    return srat_parse_slit(at(pa), len, &topo, msg, sizeof msg);
}

#define MIB (1ull << 20)

/* Like QEMU's -numa with two nodes of 2 CPUs and 512 MiB each. */
static uint64_t qemu_like(void)
{
    struct tb t = srat_begin();
    srat_apic(&t, 0, 0, SRAT_ENABLED);
    srat_apic(&t, 1, 0, SRAT_ENABLED);
    srat_x2apic(&t, 300, 1, SRAT_ENABLED);
    srat_x2apic(&t, 301, 1, SRAT_ENABLED);
    srat_mem(&t, 0, 640 * 1024, 0, SRAT_ENABLED);
    srat_mem(&t, 1 * MIB, 511 * MIB, 0, SRAT_ENABLED);
    srat_mem(&t, 512 * MIB, 512 * MIB, 1, SRAT_ENABLED);
    srat_mem(&t, 0, 0, 0, 0); /* QEMU's padding entry */
    return tb_end(&t);
}

CHECK_TEST(qemu_shaped_table)
{
    reset();
    CHECK(parse(qemu_like()));
    CHECKF(msg[0] == '\0', "unexpected messages: %s", msg);
    CHECK_EQ_U(topo.nodes, 2);
    CHECK_EQ_U(topo.cpu_count, 4);
    CHECK_EQ_U(topo.mem_count, 3);
    CHECK_EQ_U(topo.disabled, 1);
    CHECK_EQ_U(srat_cpu_node(&topo, 1), 0);
    CHECK_EQ_U(srat_cpu_node(&topo, 301), 1);
    CHECK(srat_cpu_node(&topo, 2) == -1);
    CHECK_EQ_U(srat_node_bytes(&topo, 0), 640 * 1024 + 511 * MIB);
    CHECK_EQ_U(srat_node_bytes(&topo, 1), 512 * MIB);
    CHECK(!topo.slit);
    CHECK_EQ_U(topo.distance[0][1], SLIT_REMOTE_DEFAULT);
    CHECK_EQ_U(topo.distance[1][1], SLIT_LOCAL);
    const uint8_t d[4] = {10, 21, 21, 10};
    CHECK(parse_slit(slit_of(2, d)));
    CHECK(topo.slit);
    CHECK_EQ_U(topo.distance[0][1], 21);
    CHECK_EQ_U(topo.distance[1][0], 21);
}

CHECK_TEST(domains_become_dense_nodes)
{
    reset();
    struct tb t = srat_begin();
    srat_x2apic(&t, 0, 7, SRAT_ENABLED);
    srat_x2apic(&t, 1, 3, SRAT_ENABLED);
    srat_x2apic(&t, 2, 5, 0); /* disabled: domain 5 never becomes a node */
    srat_mem(&t, 0, 64 * MIB, 3, SRAT_ENABLED);
    srat_mem(&t, 64 * MIB, 64 * MIB, 7, SRAT_ENABLED | SRAT_MEM_HOTPLUG);
    CHECK(parse(tb_end(&t)));
    CHECK_EQ_U(topo.nodes, 2);
    CHECK_EQ_U(topo.domain[0], 3);
    CHECK_EQ_U(topo.domain[1], 7);
    CHECK_EQ_U(srat_cpu_node(&topo, 0), 1);
    CHECK_EQ_U(srat_cpu_node(&topo, 1), 0);
    CHECK(srat_cpu_node(&topo, 2) == -1);
    CHECK_EQ_U(srat_node_bytes(&topo, 1), 0); /* hot-pluggable: not there now */
    uint8_t d[64];
    for (unsigned i = 0; i < 8; i++)
        for (unsigned j = 0; j < 8; j++)
            d[i * 8 + j] = i == j ? 10 : (uint8_t)(10 + i + j);
    CHECK(parse_slit(slit_of(8, d)));
    CHECK_EQ_U(topo.distance[0][1], 20); /* domains 3 and 7 */
}

CHECK_TEST(short_records_rejected)
{
    static const struct { uint8_t type, len; const char *name; } cases[] = {
        {SRAT_CPU_APIC, 12, "Processor Local APIC Affinity record (type 0) at offset 48 has length 12, needs 16"},
        {SRAT_MEMORY, 32, "Memory Affinity record (type 1) at offset 48 has length 32, needs 40"},
        {SRAT_CPU_X2APIC, 16, "Processor Local x2APIC Affinity record (type 2) at offset 48 has length 16, needs 24"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset();
        struct tb t = srat_begin();
        uint8_t *r = tb_record(&t, cases[i].type, cases[i].len);
        put32(r + 4, SRAT_ENABLED);
        CHECK(!parse(tb_end(&t)));
        CHECKF(strstr(msg, cases[i].name) != NULL, "message: %s", msg);
    }
    reset(); /* a record running past the table's end */
    struct tb t = srat_begin();
    srat_mem(&t, 0, 64 * MIB, 0, SRAT_ENABLED);
    t.len -= 8;
    CHECK(!parse(tb_end(&t)));
    CHECKF(strstr(msg, "SRAT: record type 1 at offset 48 has length 40 but only 32 bytes remain"),
           "message: %s", msg);
}

CHECK_TEST(out_of_range_domains_rejected)
{
    reset();
    struct tb t = srat_begin();
    srat_apic(&t, 0, 0, SRAT_ENABLED);
    srat_apic(&t, 1, 0x100, SRAT_ENABLED); /* domain from the high bytes */
    CHECK(!parse(tb_end(&t)));
    CHECKF(strstr(msg, "(type 0) at offset 64 names proximity domain 256, outside 0..63"),
           "message: %s", msg);

    reset();
    t = srat_begin();
    srat_mem(&t, 0, 64 * MIB, 64, SRAT_ENABLED);
    CHECK(!parse(tb_end(&t)));
    CHECKF(strstr(msg, "Memory Affinity record (type 1) at offset 48 names proximity domain 64"),
           "message: %s", msg);

    reset(); /* the same domain on a disabled entry is no problem */
    t = srat_begin();
    srat_x2apic(&t, 5, 1000, 0);
    CHECK(parse(tb_end(&t)));
    CHECK_EQ_U(topo.nodes, 0);
}

CHECK_TEST(overlapping_ranges_rejected)
{
    reset();
    struct tb t = srat_begin();
    srat_mem(&t, 0, 512 * MIB, 0, SRAT_ENABLED);
    srat_mem(&t, 256 * MIB, 512 * MIB, 1, SRAT_ENABLED);
    CHECK(!parse(tb_end(&t)));
    CHECKF(strstr(msg, "memory range 0x10000000-0x30000000 at offset 88 overlaps 0x0-0x20000000"),
           "message: %s", msg);

    reset();
    t = srat_begin();
    srat_mem(&t, UINT64_MAX - MIB, 2 * MIB, 0, SRAT_ENABLED);
    CHECK(!parse(tb_end(&t)));
    CHECKF(strstr(msg, "wraps around"), "message: %s", msg);

    reset(); /* touching ranges are fine */
    t = srat_begin();
    srat_mem(&t, 0, 512 * MIB, 0, SRAT_ENABLED);
    srat_mem(&t, 512 * MIB, 512 * MIB, 1, SRAT_ENABLED);
    CHECK(parse(tb_end(&t)));
}

CHECK_TEST(duplicate_cpu_rejected)
{
    reset();
    struct tb t = srat_begin();
    srat_apic(&t, 4, 0, SRAT_ENABLED);
    srat_x2apic(&t, 4, 1, SRAT_ENABLED);
    CHECK(!parse(tb_end(&t)));
    CHECKF(strstr(msg, "APIC id 4 listed again at offset 64"), "message: %s", msg);
}

CHECK_TEST(bad_slits_rejected)
{
    reset();
    CHECK(parse(qemu_like()));
    const uint8_t bad_diag[4] = {10, 20, 20, 11};
    CHECK(!parse_slit(slit_of(2, bad_diag)));
    CHECKF(strstr(msg, "distance 11 from locality 1 to 1"), "message: %s", msg);
    const uint8_t too_close[4] = {10, 10, 20, 10};
    CHECK(!parse_slit(slit_of(2, too_close)));
    CHECKF(strstr(msg, "distance 10 from locality 0 to 1"), "message: %s", msg);
    const uint8_t one[1] = {10};
    CHECK(!parse_slit(slit_of(1, one)));
    CHECKF(strstr(msg, "1 localities, but the SRAT uses proximity domain 1"), "message: %s", msg);
    CHECK(!topo.slit);
    CHECK_EQ_U(topo.distance[0][1], SLIT_REMOTE_DEFAULT); /* defaults kept */

    const uint8_t ok[4] = {10, 20, 20, 10};
    uint64_t s = slit_of(2, ok);
    put64(at(s) + 36, 3); /* the count no longer matches the length */
    tb_fix_checksum(s);
    CHECK(!parse_slit(s));
    CHECKF(strstr(msg, "3 localities need 53 bytes, the table has 48"), "message: %s", msg);
    at(s)[40] ^= 1; /* and a bad checksum */
    CHECK(!parse_slit(s));
    CHECKF(strstr(msg, "bad checksum"), "message: %s", msg);
}

/* Whatever the parser accepts of a mutated SRAT must be consistent. */
static bool srat_accepts(const uint8_t *table, size_t len, char *m, size_t mlen)
{
    if (!srat_parse(table, len, &topo, m, mlen))
        return false;
    CHECK(topo.nodes <= SRAT_MAX_DOMAINS);
    for (unsigned i = 0; i < topo.cpu_count; i++)
        CHECK(topo.cpu[i].node < topo.nodes);
    for (unsigned i = 0; i < topo.mem_count; i++)
        CHECK(topo.mem[i].node < topo.nodes && topo.mem[i].base < topo.mem[i].end);
    return true;
}

/* Random corruption (checksum fixed up): never a crash or a read past the
 * table; what is accepted is consistent. */
CHECK_TEST(mutated_srats_never_crash)
{
    reset();
    uint64_t pa = qemu_like();
    uint32_t len;
    memcpy(&len, at(pa) + 4, 4);
    struct tb_fuzz_result r = tb_fuzz(at(pa), len, SRAT_HEADER_LEN, 4242, 20000, srat_accepts);
    CHECK(r.accepted > 0);
    CHECK_EQ_U(r.silent_refusals, 0);
}

CHECK_MAIN()
