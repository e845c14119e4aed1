/*
 * acpi_tables.c - RSDP/RSDT/XSDT scan and the record walk the table parsers
 * share (see acpi_tables.h for the rules).
 *
 * Every multi-byte field is read with a byte copy: tables are packed and
 * records are not aligned, so no structure is ever overlaid on them.
 */
#include "lib/acpi_tables.h"

#include <stdarg.h>

#include "lib/str.h"
#include "plat/platform.h"

/* RSDP layout (ACPI 6.5 section 5.2.5.3). */
#define RSDP_SIG "RSD PTR "
#define RSDP_SIG_LEN 8
#define RSDP_OFF_OEM 9
#define RSDP_OFF_REVISION 15
#define RSDP_OFF_RSDT 16
#define RSDP_OFF_LENGTH 20
#define RSDP_OFF_XSDT 24
#define RSDP_REVISION_XSDT 2 /* first revision with a length and an XSDT */

/* System Description Table header (section 5.2.6). */
#define SDT_OFF_LENGTH 4
#define SDT_OFF_REVISION 8
#define SDT_OFF_OEM 10

/* Records after a table's fixed part: type, length, body (the MADT's and
 * the SRAT's shape, sections 5.2.12 and 5.2.16). */
#define SUBTABLE_OFF_TYPE 0
#define SUBTABLE_OFF_LEN 1
#define SUBTABLE_MIN_LEN 2

/* Appends one line; a full buffer keeps what fits (messages are advisory). */
void acpi_msg_add(char *msg, size_t msglen, const char *fmt, ...)
{
    if (!msg || msglen == 0)
        return;
    size_t used = str_len(msg);
    if (used + 1 >= msglen)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = plat_vsnprintf(msg + used, msglen - used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    used = used + (size_t)n < msglen - 1 ? used + (size_t)n : msglen - 2;
    msg[used] = '\n';
    msg[used + 1] = '\0';
}

/* A printable copy of a 4-byte signature, for messages. */
static void sig_copy(char out[ACPI_SIG_LEN + 1], const uint8_t *p)
{
    for (unsigned i = 0; i < ACPI_SIG_LEN; i++)
        out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[ACPI_SIG_LEN] = '\0';
}

/* The 6-byte OEM id, NUL-terminated, without its space padding. */
static void oem_copy(char out[7], const uint8_t *p)
{
    unsigned n = 6;
    __builtin_memcpy(out, p, n);
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
        n--;
    out[n] = '\0';
}

static bool sig_eq(const uint8_t *p, const char *sig)
{
    for (unsigned i = 0; i < ACPI_SIG_LEN; i++)
        if (p[i] != (uint8_t)sig[i])
            return false;
    return true;
}

uint8_t acpi_checksum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + b[i]);
    return sum;
}

uint32_t acpi_table_check(const void *table, size_t avail, const char *sig, size_t min_len,
                          char *msg, size_t msglen)
{
    const uint8_t *t = table;
    if (min_len < ACPI_HEADER_LEN)
        min_len = ACPI_HEADER_LEN;
    if (avail < ACPI_HEADER_LEN) {
        acpi_msg_add(msg, msglen, "acpi: %s: only %zu bytes, shorter than its %u-byte header",
                sig, avail, ACPI_HEADER_LEN);
        return 0;
    }
    if (!sig_eq(t, sig)) {
        char found[ACPI_SIG_LEN + 1];
        sig_copy(found, t);
        acpi_msg_add(msg, msglen, "acpi: expected table %s, found signature '%s'", sig, found);
        return 0;
    }
    uint32_t len = acpi_rd32(t + SDT_OFF_LENGTH);
    if (len < min_len || len > avail) {
        acpi_msg_add(msg, msglen, "acpi: %s: length %u outside %zu..%zu; ignored", sig, len,
                min_len, avail);
        return 0;
    }
    uint8_t sum = acpi_checksum(t, len);
    if (sum != 0) {
        acpi_msg_add(msg, msglen,
                "acpi: %s: bad checksum (bytes sum to 0x%02x over %u bytes, must be 0); ignored",
                sig, sum, len);
        return 0;
    }
    return len;
}

int acpi_next_subtable(const void *table, size_t len, size_t *off, const uint8_t **rec,
                       const char *sig, char *msg, size_t msglen)
{
    const uint8_t *t = table;
    if (*off >= len)
        return 0;
    size_t left = len - *off;
    if (left < SUBTABLE_MIN_LEN) {
        acpi_msg_add(msg, msglen, "acpi: %s: %zu stray byte(s) at offset %zu after the last record",
                sig, left, *off);
        return -1;
    }
    uint8_t type = t[*off + SUBTABLE_OFF_TYPE];
    uint8_t rlen = t[*off + SUBTABLE_OFF_LEN];
    if (rlen < SUBTABLE_MIN_LEN) {
        acpi_msg_add(msg, msglen, "acpi: %s: record type %u at offset %zu has length %u (< %u)",
                sig, type, *off, rlen, SUBTABLE_MIN_LEN);
        return -1;
    }
    if (rlen > left) {
        acpi_msg_add(msg, msglen,
                "acpi: %s: record type %u at offset %zu has length %u but only %zu bytes remain",
                sig, type, *off, rlen, left);
        return -1;
    }
    *rec = t + *off;
    *off += rlen;
    return 1;
}

static const struct acpi_record_kind *find_kind(const struct acpi_record_kinds *kinds,
                                                uint8_t type)
{
    for (unsigned i = 0; i < kinds->count; i++)
        if (kinds->kind[i].type == type)
            return &kinds->kind[i];
    return NULL;
}

const char *acpi_record_name(const struct acpi_record_kinds *kinds, uint8_t type)
{
    const struct acpi_record_kind *k = find_kind(kinds, type);
    return k != NULL ? k->name : "record";
}

int acpi_next_record(const void *table, size_t len, size_t *off, const uint8_t **rec,
                     const struct acpi_record_kinds *kinds, char *msg, size_t msglen)
{
    int r = acpi_next_subtable(table, len, off, rec, kinds->sig, msg, msglen);
    if (r <= 0)
        return r;
    uint8_t type = (*rec)[SUBTABLE_OFF_TYPE], rlen = (*rec)[SUBTABLE_OFF_LEN];
    const struct acpi_record_kind *k = find_kind(kinds, type);
    if (k != NULL && rlen < k->min_len) {
        acpi_msg_add(msg, msglen,
                "acpi: %s: %s record (type %u) at offset %zu has length %u, needs %u",
                kinds->sig, k->name, type, (size_t)(*rec - (const uint8_t *)table), rlen,
                k->min_len);
        return -1;
    }
    return 1;
}

/* ---- RSDP and root table ---------------------------------------------------- */

/* Maps and validates the table at pa; fills *out.  False with a message when
 * it cannot be read or fails the checks. */
static bool load_table(struct acpi_tables *t, uint64_t pa, const char *expect, struct acpi_table *out)
{
    out->pa = pa;
    out->len = 0;
    out->valid = false;
    __builtin_memcpy(out->sig, "????", ACPI_SIG_LEN + 1);
    if (pa == 0) {
        acpi_msg_add(t->msg, sizeof t->msg, "acpi: null table address%s%s", expect ? " for " : "",
                expect ? expect : "");
        return false;
    }
    const uint8_t *h = t->map(t->map_ctx, pa, ACPI_HEADER_LEN);
    if (!h) {
        acpi_msg_add(t->msg, sizeof t->msg, "acpi: cannot map the table header at 0x%llx",
                (unsigned long long)pa);
        return false;
    }
    sig_copy(out->sig, h);
    out->len = acpi_rd32(h + SDT_OFF_LENGTH);
    out->revision = h[SDT_OFF_REVISION];
    if (expect && !sig_eq(h, expect)) {
        acpi_msg_add(t->msg, sizeof t->msg, "acpi: table at 0x%llx: expected %s, found '%s'",
                (unsigned long long)pa, expect, out->sig);
        return false;
    }
    if (out->len < ACPI_HEADER_LEN || out->len > ACPI_MAX_TABLE_LEN) {
        acpi_msg_add(t->msg, sizeof t->msg,
                "acpi: table %s at 0x%llx: length %u outside %u..%u; ignored", out->sig,
                (unsigned long long)pa, out->len, ACPI_HEADER_LEN, ACPI_MAX_TABLE_LEN);
        return false;
    }
    const uint8_t *full = t->map(t->map_ctx, pa, out->len);
    if (!full) {
        acpi_msg_add(t->msg, sizeof t->msg, "acpi: table %s at 0x%llx: cannot map %u bytes",
                out->sig, (unsigned long long)pa, out->len);
        return false;
    }
    uint8_t sum = acpi_checksum(full, out->len);
    if (sum != 0) {
        acpi_msg_add(t->msg, sizeof t->msg,
                "acpi: table %s at 0x%llx: bad checksum (bytes sum to 0x%02x over %u bytes, "
                "must be 0); ignored",
                out->sig, (unsigned long long)pa, sum, out->len);
        return false;
    }
    out->valid = true;
    return true;
}

/* Reads the root table's entries (4-byte for the RSDT, 8-byte for the XSDT). */
static void read_root(struct acpi_tables *t, const struct acpi_table *root)
{
    const uint8_t *r = t->map(t->map_ctx, root->pa, root->len);
    if (!r) /* mapped a moment ago by load_table(); a callback may still refuse */
        return;
    size_t esize = t->xsdt ? sizeof(uint64_t) : sizeof(uint32_t);
    size_t body = root->len - ACPI_HEADER_LEN;
    if (body % esize)
        acpi_msg_add(t->msg, sizeof t->msg, "acpi: %s: length %u leaves %zu stray byte(s); ignored",
                root->sig, root->len, body % esize);
    oem_copy(t->oem_id, r + SDT_OFF_OEM);
    for (size_t i = 0; i < body / esize; i++) {
        const uint8_t *e = r + ACPI_HEADER_LEN + i * esize;
        uint64_t pa = t->xsdt ? acpi_rd64(e) : acpi_rd32(e);
        if (t->count == ACPI_MAX_TABLES) {
            t->dropped++;
            continue;
        }
        struct acpi_table *tab = &t->table[t->count++];
        if (!load_table(t, pa, NULL, tab))
            t->invalid++;
    }
    if (t->dropped)
        acpi_msg_add(t->msg, sizeof t->msg, "acpi: %s lists %u table(s) beyond the %u kept; ignored",
                root->sig, t->dropped, ACPI_MAX_TABLES);
}

bool acpi_scan(const void *rsdp, size_t rsdp_len, acpi_map_fn map, void *ctx,
               struct acpi_tables *out)
{
    const uint8_t *p = rsdp;
    __builtin_memset(out, 0, sizeof *out);
    out->map = map;
    out->map_ctx = ctx;
    if (!p || rsdp_len < ACPI_RSDP_V1_LEN) {
        acpi_msg_add(out->msg, sizeof out->msg, "acpi: no RSDP (boot loader gave %zu bytes, need %u)",
                p ? rsdp_len : 0, ACPI_RSDP_V1_LEN);
        return false;
    }
    for (unsigned i = 0; i < RSDP_SIG_LEN; i++) {
        if (p[i] != (uint8_t)RSDP_SIG[i]) {
            acpi_msg_add(out->msg, sizeof out->msg, "acpi: RSDP signature is not \"%s\"", RSDP_SIG);
            return false;
        }
    }
    uint8_t sum = acpi_checksum(p, ACPI_RSDP_V1_LEN);
    if (sum != 0) {
        acpi_msg_add(out->msg, sizeof out->msg,
                "acpi: RSDP: bad checksum (first %u bytes sum to 0x%02x, must be 0)",
                ACPI_RSDP_V1_LEN, sum);
        return false;
    }
    out->rsdp_revision = p[RSDP_OFF_REVISION];
    oem_copy(out->oem_id, p + RSDP_OFF_OEM);
    uint64_t rsdt_pa = acpi_rd32(p + RSDP_OFF_RSDT);
    uint64_t xsdt_pa = 0;
    if (out->rsdp_revision >= RSDP_REVISION_XSDT && rsdp_len >= ACPI_RSDP_V2_LEN) {
        uint32_t len = acpi_rd32(p + RSDP_OFF_LENGTH);
        if (len < ACPI_RSDP_V2_LEN || len > rsdp_len)
            acpi_msg_add(out->msg, sizeof out->msg,
                    "acpi: RSDP: length %u outside %u..%zu; using the RSDT", len,
                    ACPI_RSDP_V2_LEN, rsdp_len);
        else if ((sum = acpi_checksum(p, len)) != 0)
            acpi_msg_add(out->msg, sizeof out->msg,
                    "acpi: RSDP: bad extended checksum (0x%02x); using the RSDT", sum);
        else
            xsdt_pa = acpi_rd64(p + RSDP_OFF_XSDT);
    }

    struct acpi_table root;
    if (xsdt_pa) {
        out->xsdt = true;
        if (load_table(out, xsdt_pa, "XSDT", &root)) {
            out->root_pa = xsdt_pa;
            read_root(out, &root);
            return true;
        }
        acpi_msg_add(out->msg, sizeof out->msg, "acpi: XSDT unusable; falling back to the RSDT");
        out->xsdt = false;
    }
    if (!load_table(out, rsdt_pa, "RSDT", &root)) {
        acpi_msg_add(out->msg, sizeof out->msg, "acpi: no usable root table (RSDT/XSDT)");
        return false;
    }
    out->root_pa = rsdt_pa;
    read_root(out, &root);
    return true;
}

const struct acpi_table *acpi_find(const struct acpi_tables *t, const char *sig)
{
    for (unsigned i = 0; i < t->count; i++)
        if (t->table[i].valid && sig_eq((const uint8_t *)t->table[i].sig, sig))
            return &t->table[i];
    return NULL;
}
