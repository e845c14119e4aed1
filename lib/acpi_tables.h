/*
 * acpi_tables.h - validating reader for the ACPI tables the kernel needs: the
 * RSDP, the root table (RSDT/XSDT), every table's header and checksum, and
 * the record walk the table parsers share (arch/x86_64/madt.c, srat.c);
 * portable so the host tests feed it crafted tables.
 *
 * ACPI tables are input, not truth.  acpi_scan() starts from the RSDP copy
 * the boot loader handed over (Multiboot2 tag 14 = ACPI 1.0 RSDP -> RSDT,
 * tag 15 = ACPI 2.0+ RSDP -> XSDT), checks the RSDP checksum(s), the root
 * table, then every table the root lists: signature, a length between the
 * header size and ACPI_MAX_TABLE_LEN, and the byte checksum.  A table that
 * fails is listed as invalid with one message line and never handed out by
 * acpi_find(); a broken XSDT falls back to the RSDT.
 *
 * Physical memory is reached only through the caller's map callback, which
 * returns a readable pointer for [pa, pa + len) or NULL (the kernel maps the
 * tables, the host tests point into a buffer).  Nothing is written.
 *
 * Tables with type/length records after a fixed header (the MADT and the
 * SRAT, parsed in arch/x86_64/) are walked with
 * acpi_next_subtable(), which checks each record's length against the
 * remaining bytes and refuses lengths below 2 (a zero-length record would
 * otherwise loop forever); acpi_next_record() adds the minimum length of
 * each record type a parser reads, from the parser's table of record kinds
 * (which also names them in messages).  Fixed-layout tables (HPET) need
 * only acpi_find() and acpi_table_check() with their size.
 *
 * Messages: every problem appends one line "acpi: ..." to the caller's
 * message buffer; functions return false only when the result is unusable.
 */
#ifndef LIB_ACPI_TABLES_H
#define LIB_ACPI_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_SIG_LEN 4
#define ACPI_HEADER_LEN 36          /* common System Description Table header */
#define ACPI_RSDP_V1_LEN 20
#define ACPI_RSDP_V2_LEN 36
#define ACPI_MAX_TABLES 64          /* tables listed by the root table that we keep */
#define ACPI_MAX_TABLE_LEN (1u << 20) /* larger is treated as corrupt */
#define ACPI_MSG_LEN 2048

/* Returns a readable pointer to [pa, pa + len), or NULL when it cannot. */
typedef const void *(*acpi_map_fn)(void *ctx, uint64_t pa, size_t len);

struct acpi_table {
    char sig[ACPI_SIG_LEN + 1];
    uint64_t pa;
    uint32_t len;
    uint8_t revision;
    bool valid; /* signature, length and checksum checked */
};

struct acpi_tables {
    uint8_t rsdp_revision;
    char oem_id[7];
    bool xsdt;        /* the root table in use is the XSDT */
    uint64_t root_pa;
    struct acpi_table table[ACPI_MAX_TABLES];
    unsigned count;   /* entries in table[] (valid or not) */
    unsigned invalid; /* of which failed validation */
    unsigned dropped; /* listed by the root table beyond ACPI_MAX_TABLES */
    acpi_map_fn map;
    void *map_ctx;
    char msg[ACPI_MSG_LEN]; /* one "acpi: ..." line per problem */
};

/* rsdp: the RSDP bytes (rsdp_len of them, from the boot loader's tag).
 * False when the RSDP or every root table is unusable (reason in out->msg);
 * true otherwise, even if some tables were invalid (listed in out->msg). */
bool acpi_scan(const void *rsdp, size_t rsdp_len, acpi_map_fn map, void *ctx,
               struct acpi_tables *out);

/* The first valid table with signature sig ("APIC", "SRAT", "HPET"...), or NULL. */
const struct acpi_table *acpi_find(const struct acpi_tables *t, const char *sig);

/* Byte sum of p[0..len): zero for a valid table. */
uint8_t acpi_checksum(const void *p, size_t len);

/* Checks one table held in memory: avail readable bytes at table, signature
 * sig, min_len <= length <= avail, checksum.  Returns the length from its
 * header, the one bound a parser may read to; on any failure appends a
 * message and returns 0 (no table is shorter than its header). */
uint32_t acpi_table_check(const void *table, size_t avail, const char *sig, size_t min_len,
                          char *msg, size_t msglen);

/* Walks the records of a table whose records start at byte offset *off:
 * returns 1 with *rec set and *off advanced, 0 at the end, -1 (message
 * appended) for a record shorter than 2 bytes or running past len. */
int acpi_next_subtable(const void *table, size_t len, size_t *off, const uint8_t **rec,
                       const char *sig, char *msg, size_t msglen);

/* The record types a parser reads: each one's name in messages and the
 * fewest bytes the parser reads of it.  Types not listed are skipped by the
 * parser and need only the 2-byte type/length header. */
struct acpi_record_kind {
    uint8_t type;
    uint8_t min_len;
    const char *name;
};

struct acpi_record_kinds {
    const char *sig; /* the table's signature, for messages */
    const struct acpi_record_kind *kind;
    unsigned count;
};

/* A parser's struct acpi_record_kinds from its array of kinds. */
#define ACPI_RECORD_KINDS(sig, kinds) {(sig), (kinds), sizeof(kinds) / sizeof((kinds)[0])}

/* The name of a record type ("record" for one not listed). */
const char *acpi_record_name(const struct acpi_record_kinds *kinds, uint8_t type);

/* acpi_next_subtable() for a parser's table: also returns -1 (message
 * appended) for a record of a listed type shorter than its min_len. */
int acpi_next_record(const void *table, size_t len, size_t *off, const uint8_t **rec,
                     const struct acpi_record_kinds *kinds, char *msg, size_t msglen);

/* ---- helpers for the table parsers ---------------------------------------- */

/* Little-endian reads of unaligned table fields: tables are packed, so no
 * structure is ever overlaid on them. */
static inline uint16_t acpi_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t acpi_rd32(const uint8_t *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t acpi_rd64(const uint8_t *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

/* Appends one line (fmt + '\n') to msg; a full buffer keeps what fits
 * (messages are advisory, verdicts are return values). */
void acpi_msg_add(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* LIB_ACPI_TABLES_H */
