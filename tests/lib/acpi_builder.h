/*
 * acpi_builder.h - crafted ACPI tables for the host tests of the table walk
 * (tests/lib/test_acpi_tables.c) and of the parsers built on it
 * (tests/arch/test_madt.c, test_srat.c).
 *
 * A small array stands in for physical memory (tables live at MEM_BASE and
 * up); acpi_map() refuses anything outside it, like an unmapped address.  A
 * table is begun with its signature and fixed-part size, grown record by
 * record, and ended, which sets its length and checksum; tests then break
 * one thing and check both the verdict and that the message names it.
 * Everything here is static inline: each test program includes it once.
 */
#ifndef TESTS_LIB_ACPI_BUILDER_H
#define TESTS_LIB_ACPI_BUILDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/acpi_tables.h"

#define MEM_BASE 0x000e0000u
#define MEM_SIZE (1u << 18)
static uint8_t mem[MEM_SIZE];
static uint64_t next_pa;

static inline const void *acpi_map(void *ctx, uint64_t pa, size_t len)
{
    (void)ctx;
    if (pa < MEM_BASE || pa - MEM_BASE > MEM_SIZE || len > MEM_SIZE - (pa - MEM_BASE))
        return NULL;
    return mem + (pa - MEM_BASE);
}

static inline uint8_t *at(uint64_t pa) { return mem + (pa - MEM_BASE); }

static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Garbage where nothing was built; the allocation cursor back to the start. */
static inline void reset(void)
{
    memset(mem, 0xa5, sizeof mem);
    next_pa = MEM_BASE + 0x100;
}

struct tb {
    uint64_t pa;
    size_t len;
};

static inline struct tb tb_begin(const char *sig, size_t fixed)
{
    struct tb t = {.pa = next_pa, .len = fixed};
    memset(at(t.pa), 0, fixed);
    memcpy(at(t.pa), sig, 4);
    at(t.pa)[8] = 1;                 /* revision */
    memcpy(at(t.pa) + 10, "CRAFTD", 6); /* OEM id */
    return t;
}

static inline uint8_t *tb_add(struct tb *t, size_t n)
{
    uint8_t *p = at(t->pa) + t->len;
    memset(p, 0, n);
    t->len += n;
    return p;
}

/* A record of the type/length shape (MADT, SRAT): zeroed body of len bytes. */
static inline uint8_t *tb_record(struct tb *t, uint8_t type, uint8_t len)
{
    uint8_t *r = tb_add(t, len);
    r[0] = type;
    r[1] = len;
    return r;
}

/* Sets the length, fixes the checksum, advances the allocation cursor. */
static inline uint64_t tb_end(struct tb *t)
{
    uint8_t *h = at(t->pa);
    put32(h + 4, (uint32_t)t->len);
    h[9] = 0;
    h[9] = (uint8_t)(0x100 - acpi_checksum(h, t->len));
    next_pa = (t->pa + t->len + 15) & ~(uint64_t)15;
    return t->pa;
}

/* Recomputes the checksum of a table changed after tb_end(). */
static inline void tb_fix_checksum(uint64_t pa)
{
    uint8_t *h = at(pa);
    uint32_t len;
    memcpy(&len, h + 4, 4);
    h[9] = 0;
    h[9] = (uint8_t)(0x100 - acpi_checksum(h, len));
}

static inline uint64_t other_table(const char *sig)
{
    struct tb t = tb_begin(sig, ACPI_HEADER_LEN);
    tb_add(&t, 20);
    return tb_end(&t);
}

static inline uint64_t rsdt_of(const uint64_t *tables, unsigned n)
{
    struct tb t = tb_begin("RSDT", ACPI_HEADER_LEN);
    for (unsigned i = 0; i < n; i++)
        put32(tb_add(&t, 4), (uint32_t)tables[i]);
    return tb_end(&t);
}

static inline uint64_t xsdt_of(const uint64_t *tables, unsigned n)
{
    struct tb t = tb_begin("XSDT", ACPI_HEADER_LEN);
    for (unsigned i = 0; i < n; i++)
        put64(tb_add(&t, 8), tables[i]);
    return tb_end(&t);
}

/* RSDP v1 (20 bytes) or v2 (36 bytes) with valid checksums, in rsdp[]. */
static uint8_t rsdp[ACPI_RSDP_V2_LEN];

static inline size_t make_rsdp(uint64_t rsdt, uint64_t xsdt)
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

/* copy = orig (a table of len bytes) with 1..4 random bytes at or after
 * offset first overwritten, and the checksum fixed up, so that a parser's
 * record walk, not its checksum test, meets the damage. */
static inline void tb_mutate(uint8_t *copy, const uint8_t *orig, size_t len, size_t first)
{
    memcpy(copy, orig, len);
    unsigned flips = 1 + (unsigned)rand() % 4;
    for (unsigned k = 0; k < flips; k++)
        copy[first + (size_t)rand() % (len - first)] = (uint8_t)rand();
    copy[9] = 0;
    copy[9] = (uint8_t)(0x100 - acpi_checksum(copy, len));
}

/* What tb_fuzz() saw: copies the parser accepted, and copies it refused
 * without a message (a refusal must say why: always 0 when the parser is
 * right). */
struct tb_fuzz_result {
    unsigned accepted;
    unsigned silent_refusals;
};

/* A parser under fuzzing: parses table[0..len) and returns whether it
 * accepted it; on acceptance it checks what it produced. */
typedef bool (*tb_parse_fn)(const uint8_t *table, size_t len, char *msg, size_t msglen);

/* Feeds `iters` mutations (tb_mutate, the header before `first` kept) of
 * the valid table orig to parse, from the fixed seed so that a failure
 * repeats. */
static inline struct tb_fuzz_result tb_fuzz(const uint8_t *orig, size_t len, size_t first,
                                            unsigned seed, unsigned iters, tb_parse_fn parse)
{
    static uint8_t copy[512];
    if (len > sizeof copy || len <= first)
        abort(); /* the test's table does not fit the fuzzer: a bug in the test */
    struct tb_fuzz_result r = {0, 0};
    char msg[4096];
    srand(seed);
    for (unsigned iter = 0; iter < iters; iter++) {
        tb_mutate(copy, orig, len, first);
        msg[0] = '\0';
        if (parse(copy, len, msg, sizeof msg))
            r.accepted++;
        else if (msg[0] == '\0')
            r.silent_refusals++;
    }
    return r;
}

#endif /* TESTS_LIB_ACPI_BUILDER_H */
