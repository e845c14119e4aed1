/*
 * csv.c - framed CSV blocks for the serial contract (docs/design.md).
 *
 *   @@BEGIN <name>
 *   <header>
 *   <rows>
 *   @@END <name> rows=<N> crc32=<8 lowercase hex>
 *
 * N counts the records after the header; the CRC32 (IEEE 802.3, reflected
 * polynomial 0xedb88320, init and final xor 0xffffffff: zlib's crc32) covers
 * the header and the rows exactly as sent, each followed by "\n".  A block is
 * built in memory and written in one go, so that the host can reject a
 * truncated or garbled block and no other output can interleave with it.
 */
#include "bench/bench_int.h"
#include "lib/str.h"

static uint32_t crc_table[256];
static atomic_bool crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    atomic_store_explicit(&crc_ready, true, memory_order_release);
}

uint32_t bench_crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (!atomic_load_explicit(&crc_ready, memory_order_acquire))
        crc_init(); /* idempotent: every caller computes the same table */
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static bool needs_quotes(const char *s)
{
    for (; *s; s++)
        if (*s == ',' || *s == '"' || *s == '\n' || *s == '\r')
            return true;
    return false;
}

size_t csv_escape(char *out, size_t cap, const char *field)
{
    size_t n = 0;
#define PUT(c)             \
    do {                   \
        if (n < cap)       \
            out[n] = (c);  \
        n++;               \
    } while (0)
    if (!needs_quotes(field)) {
        for (; *field; field++)
            PUT(*field);
        return n;
    }
    PUT('"');
    for (; *field; field++) {
        if (*field == '"')
            PUT('"');
        PUT(*field);
    }
    PUT('"');
#undef PUT
    return n;
}

static bool block_append(struct csv_block *b, const char *s, size_t len)
{
    if (b->len + len > b->cap) {
        b->overflow = true;
        return false;
    }
    __builtin_memcpy(b->buf + b->len, s, len);
    b->len += len;
    return true;
}

void csv_block_init(struct csv_block *b, const char *name, char *buf, size_t cap,
                    const char *header)
{
    b->name = name;
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->rows = 0;
    b->overflow = false;
    block_append(b, header, str_len(header));
    block_append(b, "\n", 1);
}

bool csv_block_row(struct csv_block *b, const char *const *fields, unsigned n)
{
    size_t start = b->len;
    for (unsigned i = 0; i < n; i++) {
        if (i > 0 && !block_append(b, ",", 1))
            goto full;
        size_t need = csv_escape(b->buf + b->len, b->cap - b->len, fields[i]);
        if (need > b->cap - b->len) {
            b->overflow = true;
            goto full;
        }
        b->len += need;
    }
    if (!block_append(b, "\n", 1))
        goto full;
    b->rows++;
    return true;
full:
    b->len = start; /* never leave half a record behind */
    return false;
}

int csv_block_trailer(const struct csv_block *b, char *out, size_t cap)
{
    uint32_t crc = bench_crc32(0, b->buf, b->len);
    return plat_snprintf(out, cap, "@@END %s rows=%u crc32=%08x", b->name, b->rows,
                         (unsigned)crc);
}

void csv_block_emit(struct csv_block *b)
{
    char line[128];
    int n = plat_snprintf(line, sizeof line, "@@BEGIN %s\n", b->name);
    plat_write(line, (size_t)n);
    plat_write(b->buf, b->len);
    n = csv_block_trailer(b, line, sizeof line - 1);
    line[n++] = '\n';
    plat_write(line, (size_t)n);
    /* Keep the header for a possible next block of the same name. */
    size_t header_len = 0;
    while (header_len < b->len && b->buf[header_len] != '\n')
        header_len++;
    b->len = header_len + 1;
    b->rows = 0;
}
