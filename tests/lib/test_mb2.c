/*
 * test_mb2.c - lib/mb2.c on crafted Multiboot2 boot information.
 *
 * A small builder writes tags the way GRUB lays them out (8-byte aligned,
 * size excluding padding, end tag last).  Each malformed case checks the
 * exact message the boot log would show.  Every parse runs on an exact-size
 * heap copy of the structure, so under AddressSanitizer a single byte read
 * past `avail` fails the test; the truncation and corruption sweeps lean on
 * that to show the parser never reads outside what it was given.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/check.h"
#include "lib/mb2.h"

CHECK_SUITE("lib");

struct builder {
    _Alignas(8) uint8_t buf[8192 + (MB2_MAX_REGIONS + 1) * 24]; /* room for the longest map */
    uint32_t len;
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void b_init(struct builder *b)
{
    memset(b->buf, 0, sizeof(b->buf));
    b->len = 8;
}

/* Appends a tag; returns its offset. */
static uint32_t b_tag(struct builder *b, uint32_t type, const void *payload, uint32_t plen)
{
    uint32_t off = b->len;
    put32(b->buf + off, type);
    put32(b->buf + off + 4, 8 + plen);
    if (plen)
        memcpy(b->buf + off + 8, payload, plen);
    b->len = (off + 8 + plen + 7) & ~7u;
    return off;
}

static uint32_t b_string(struct builder *b, uint32_t type, const char *s)
{
    return b_tag(b, type, s, (uint32_t)strlen(s) + 1);
}

struct entry {
    uint64_t base, len;
    uint32_t type;
};

static uint32_t b_mmap(struct builder *b, uint32_t entry_size, uint32_t version,
                       const struct entry *e, unsigned n)
{
    static uint8_t payload[8 + (MB2_MAX_REGIONS + 1) * 24 + 256 * 64];
    put32(payload, entry_size);
    put32(payload + 4, version);
    memset(payload + 8, 0xee, (size_t)n * entry_size); /* unknown trailing fields */
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = payload + 8 + (size_t)i * entry_size;
        put64(p, e[i].base);
        put64(p + 8, e[i].len);
        put32(p + 16, e[i].type);
        put32(p + 20, 0);
    }
    return b_tag(b, 6, payload, 8 + n * entry_size);
}

static uint32_t b_module(struct builder *b, uint32_t start, uint32_t end, const char *cmd)
{
    uint8_t payload[64];
    put32(payload, start);
    put32(payload + 4, end);
    size_t n = strlen(cmd) + 1;
    memcpy(payload + 8, cmd, n);
    return b_tag(b, 3, payload, (uint32_t)(8 + n));
}

static uint8_t checksum_fix(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

/* A valid RSDP: 20 bytes for revision 0, 36 for revision >= 2. */
static size_t make_rsdp(uint8_t *r, unsigned revision)
{
    memset(r, 0, 36);
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, "BOCHS ", 6);
    r[15] = (uint8_t)revision;
    put32(r + 16, 0x7fe1234);
    r[8] = checksum_fix(r, 20);
    if (revision < 2)
        return 20;
    put32(r + 20, 36);
    put64(r + 24, 0x7fe5678);
    r[32] = checksum_fix(r, 36);
    return 36;
}

static uint32_t b_rsdp(struct builder *b, uint32_t tag, unsigned revision)
{
    uint8_t r[36];
    return b_tag(b, tag, r, (uint32_t)make_rsdp(r, revision));
}

static void b_end(struct builder *b)
{
    b_tag(b, 0, NULL, 0);
    put32(b->buf, b->len);
}

static struct mb2_info info;
static char err[MB2_ERR_LEN];

/* The same position in `to` as p has in `from` (len bytes), else p. */
static const void *rebase(const void *p, const uint8_t *from, size_t len, const uint8_t *to)
{
    uintptr_t at = (uintptr_t)p, lo = (uintptr_t)from;
    return at >= lo && at < lo + len ? to + (at - lo) : p;
}

/* Parses an exact-size heap copy of len bytes of buf (avail = len). */
static bool parse_bytes(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    bool ok = mb2_parse(copy, len, &info, err, sizeof(err));
    /* Strings and the RSDP point into the structure: re-aim them at the
     * caller's buffer so the checks can still read them after the free. */
    info.cmdline = rebase(info.cmdline, copy, len, buf);
    info.bootloader = rebase(info.bootloader, copy, len, buf);
    for (unsigned i = 0; i < info.module_count && i < MB2_MAX_MODULES; i++)
        info.module[i].cmdline = rebase(info.module[i].cmdline, copy, len, buf);
    info.rsdp = rebase(info.rsdp, copy, len, buf);
    free(copy);
    return ok;
}

static bool parse(const struct builder *b)
{
    return parse_bytes(b->buf, b->len);
}

#define CHECK_ERR(expect) CHECKF(strcmp(err, (expect)) == 0, "\n  got    \"%s\"\n  wanted \"%s\"", err, (expect))

/* The memory map QEMU's firmware reports for 128 MiB. */
static const struct entry qemu_map[] = {
    {0x0, 0x9fc00, 1},         {0x9fc00, 0x400, 2},        {0xf0000, 0x10000, 2},
    {0x100000, 0x7ee0000, 1},  {0x7fe0000, 0x20000, 2},    {0xfffc0000, 0x40000, 2},
};
#define QEMU_MAP_N (sizeof(qemu_map) / sizeof(qemu_map[0]))

static void build_full(struct builder *b)
{
    b_init(b);
    b_string(b, 1, "smp=8 bench=all runs=3");
    b_string(b, 2, "GRUB 2.06");
    b_module(b, 0x200000, 0x201000, "initrd extra");
    b_module(b, 0x300000, 0x300001, "");
    uint8_t meminfo[8] = {0};
    b_tag(b, 4, meminfo, sizeof(meminfo)); /* a tag the kernel does not use */
    b_tag(b, 99, "xyz", 3);                /* an unknown, future tag */
    b_mmap(b, 24, 0, qemu_map, QEMU_MAP_N);
    b_rsdp(b, 14, 0);
    b_end(b);
}

CHECK_TEST(mb2_well_formed)
{
    struct builder b;
    build_full(&b);
    CHECK(parse(&b));
    CHECK_STR_EQ(err, "");
    CHECK_EQ_U(info.total_size, b.len);
    CHECK_STR_EQ(info.cmdline, "smp=8 bench=all runs=3");
    CHECK_STR_EQ(info.bootloader, "GRUB 2.06");
    CHECK_EQ_U(info.module_count, 2);
    CHECK(info.module[0].start == 0x200000 && info.module[0].end == 0x201000);
    CHECK_STR_EQ(info.module[0].cmdline, "initrd extra");
    CHECK_STR_EQ(info.module[1].cmdline, "");
    CHECK_EQ_U(info.region_count, QEMU_MAP_N);
    for (unsigned i = 0; i < QEMU_MAP_N && i < info.region_count; i++)
        CHECKF(info.region[i].base == qemu_map[i].base && info.region[i].len == qemu_map[i].len &&
                   info.region[i].type == qemu_map[i].type, "region %u", i);
    CHECK_EQ_U(mb2_usable_bytes(&info), 0x9fc00 + 0x7ee0000);
    CHECK_EQ_U(mb2_max_usable_end(&info), 0x7fe0000);
    CHECK_EQ_U(info.rsdp_tag, 14);
    CHECK_EQ_U(info.rsdp_len, 20);
    CHECK(info.rsdp != NULL && memcmp(info.rsdp, "RSD PTR ", 8) == 0);

    /* The boot information may sit in a larger readable area. */
    CHECK(mb2_parse(b.buf, sizeof(b.buf), &info, err, sizeof(err)));
    /* Larger, versioned entries (entry_size 32, version 1) read the same. */
    b_init(&b);
    b_mmap(&b, 32, 1, qemu_map, QEMU_MAP_N);
    b_end(&b);
    CHECK(parse(&b));
    CHECK_EQ_U(info.region_count, QEMU_MAP_N);
    CHECK_EQ_U(mb2_usable_bytes(&info), 0x9fc00 + 0x7ee0000);
}

CHECK_TEST(mb2_absent_tags)
{
    struct builder b;
    b_init(&b);
    b_end(&b);
    CHECK(parse(&b));
    CHECK_EQ_U(info.total_size, 16);
    CHECK_STR_EQ(info.cmdline, "");
    CHECK_STR_EQ(info.bootloader, "");
    CHECK_EQ_U(info.region_count, 0);
    CHECK_EQ_U(info.module_count, 0);
    CHECK(info.rsdp == NULL && info.rsdp_len == 0 && info.rsdp_tag == 0);
    CHECK_EQ_U(mb2_usable_bytes(&info), 0);
    CHECK_EQ_U(mb2_max_usable_end(&info), 0);
    /* GRUB writes a cmdline tag holding "" when there are no arguments. */
    b_init(&b);
    b_string(&b, 1, "");
    b_end(&b);
    CHECK(parse(&b));
    CHECK_STR_EQ(info.cmdline, "");
}

CHECK_TEST(mb2_header_errors)
{
    struct builder b;
    build_full(&b);
    CHECK(!parse_bytes(b.buf, 7));
    CHECK_ERR("multiboot2: only 7 bytes readable, less than the 8-byte header");
    CHECK(!parse_bytes(b.buf, b.len - 1)); /* truncated: total_size says more */
    char want[MB2_ERR_LEN];
    snprintf(want, sizeof(want), "multiboot2: total_size %u exceeds the %u bytes readable", b.len,
             b.len - 1);
    CHECK_ERR(want);
    put32(b.buf, 12);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: total_size 12 is smaller than 16 (header and end tag)");
    put32(b.buf, 0);
    CHECK(!parse(&b));
    CHECK(!mb2_parse(NULL, 4096, &info, err, sizeof(err)));
    CHECK_ERR("multiboot2: no boot information (NULL pointer)");
    /* Misaligned start (the parser is given a pointer 4 bytes in). */
    build_full(&b);
    uint8_t *raw = malloc(b.len + 8);
    memcpy(raw + 4, b.buf, b.len);
    CHECK(!mb2_parse(raw + 4, b.len, &info, err, sizeof(err)));
    CHECK(strstr(err, "is not 8-byte aligned") != NULL && strncmp(err, "multiboot2: ", 12) == 0);
    free(raw);
}

CHECK_TEST(mb2_tag_errors)
{
    struct builder b;
    /* A tag whose size is below its own header. */
    b_init(&b);
    uint32_t off = b_string(&b, 1, "abc");
    b_end(&b);
    put32(b.buf + off + 4, 4);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 1 (cmdline) at offset 0x8: size 4 is smaller than the 8-byte tag header");
    /* A tag that runs past total_size. */
    b_init(&b);
    off = b_string(&b, 2, "GRUB");
    b_end(&b);
    put32(b.buf + off + 4, 200);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 2 (bootloader) at offset 0x8: size 200 runs past total_size 32");
    /* No end tag: the list simply stops at total_size. */
    b_init(&b);
    b_string(&b, 1, "abc");
    b_string(&b, 2, "GRUB");
    put32(b.buf, b.len);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: no end tag before total_size 40 (tags stop at offset 0x28)");
    /* The last tag's padding would cross total_size (misaligned end). */
    b_init(&b);
    b_tag(&b, 99, "abcd", 4);
    put32(b.buf, b.len - 4);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: no end tag before total_size 20 (tags stop at offset 0x18)");
    /* An end tag of the wrong size. */
    b_init(&b);
    b_tag(&b, 0, "12345678", 8);
    put32(b.buf, b.len);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 0 (end) at offset 0x8: size 16 is not 8");
    /* A zero type/size word where a tag should be (a hole of zeros). */
    b_init(&b);
    b.len += 8;
    b_end(&b);
    put32(b.buf + 8, 5); /* bootdev type, size 0 */
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 5 (bootdev) at offset 0x8: size 0 is smaller than the 8-byte tag header");
}

/* Places the mmap tag at offset 0x48 (after a 64-byte cmdline tag). */
static void b_padding_cmdline(struct builder *b)
{
    char s[56];
    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    b_tag(b, 1, s, sizeof(s));
}

CHECK_TEST(mb2_mmap_errors)
{
    struct builder b;
    b_init(&b);
    b_padding_cmdline(&b);
    uint32_t off = b_mmap(&b, 20, 0, qemu_map, 2);
    b_end(&b);
    CHECK_EQ_U(off, 0x48);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 6 (mmap) at offset 0x48: entry_size 20 is smaller than 24");

    b_init(&b);
    b_mmap(&b, 28, 0, qemu_map, 2);
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 6 (mmap) at offset 0x8: entry_size 28 is not a multiple of 8");

    b_init(&b);
    off = b_mmap(&b, 24, 0, qemu_map, 2);
    b_end(&b);
    put32(b.buf + off + 4, 16 + 24 + 8); /* one and a third entries */
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 6 (mmap) at offset 0x8: 32 bytes of entries are not a whole number "
              "of 24-byte entries");

    b_init(&b);
    off = b_tag(&b, 6, "\x18\0\0", 4); /* no room for entry_version */
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 6 (mmap) at offset 0x8: size 12 is smaller than 16 (entry_size and "
              "entry_version)");

    struct entry zero[] = {{0x100000, 0x1000, 1}, {0x200000, 0, 1}};
    b_init(&b);
    b_mmap(&b, 24, 0, zero, 2);
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 6 (mmap) at offset 0x8: entry 1 (type 1) at 0x200000 has length 0");

    struct entry wrap[] = {{0xfffffffffffff000ull, 0x1000, 2}};
    b_init(&b);
    b_mmap(&b, 24, 0, wrap, 1);
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 6 (mmap) at offset 0x8: entry 0: base 0xfffffffffffff000 + length "
              "0x1000 wraps past 2^64");
    wrap[0].len = 0xfff; /* ends at the last byte: representable */
    b_init(&b);
    b_mmap(&b, 24, 0, wrap, 1);
    b_end(&b);
    CHECK(parse(&b));

    struct entry overlap[] = {{0x0, 0x9fc00, 1}, {0x100000, 0x100000, 1}, {0x1ff000, 0x2000, 2}};
    b_init(&b);
    b_mmap(&b, 24, 0, overlap, 3);
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 6 (mmap) at offset 0x8: entry 1 [0x100000, 0x200000) type 1 "
              "overlaps entry 2 [0x1ff000, 0x201000) type 2");
    /* Reserved ranges may overlap each other: nothing is allocated there. */
    struct entry reserved[] = {{0x0, 0x2000, 2}, {0x1000, 0x2000, 4}, {0x3000, 0x1000, 1}};
    b_init(&b);
    b_mmap(&b, 24, 0, reserved, 3);
    b_end(&b);
    CHECK(parse(&b));
    CHECK_EQ_U(mb2_usable_bytes(&info), 0x1000);
    CHECK_EQ_U(mb2_max_usable_end(&info), 0x4000);
}

CHECK_TEST(mb2_too_many_regions)
{
    static struct entry many[MB2_MAX_REGIONS + 1];
    for (unsigned i = 0; i < MB2_MAX_REGIONS + 1; i++)
        many[i] = (struct entry){(uint64_t)i << 20, 1 << 20, i % 2 ? 1 : 2};
    struct builder b;
    b_init(&b);
    b_mmap(&b, 24, 0, many, MB2_MAX_REGIONS); /* exactly the limit */
    b_end(&b);
    CHECK(parse(&b));
    CHECK_EQ_U(info.region_count, MB2_MAX_REGIONS);
    CHECK_EQ_U(mb2_usable_bytes(&info), (uint64_t)(MB2_MAX_REGIONS / 2) << 20);
    CHECK_EQ_U(mb2_max_usable_end(&info), (uint64_t)MB2_MAX_REGIONS << 20);
    b_init(&b);
    b_mmap(&b, 24, 0, many, MB2_MAX_REGIONS + 1);
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 6 (mmap) at offset 0x8: entry 1024: more than 1024 regions "
              "(MB2_MAX_REGIONS)");
}

CHECK_TEST(mb2_string_errors)
{
    struct builder b;
    b_init(&b);
    b_tag(&b, 1, "smp=8", 5); /* no NUL inside the tag; padding holds zeros */
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 1 (cmdline) at offset 0x8: string at byte 8 is not NUL-terminated "
              "within the tag's 13 bytes");
    b_init(&b);
    b_tag(&b, 2, NULL, 0); /* not even the NUL */
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 2 (bootloader) at offset 0x8: string at byte 8 is not "
              "NUL-terminated within the tag's 8 bytes");
    b_init(&b);
    uint8_t mod[11] = {0};
    put32(mod, 0x1000);
    put32(mod + 4, 0x2000);
    memcpy(mod + 8, "abc", 3);
    b_tag(&b, 3, mod, sizeof(mod));
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 3 (module) at offset 0x8: string at byte 16 is not NUL-terminated "
              "within the tag's 19 bytes");
}

CHECK_TEST(mb2_modules)
{
    struct builder b;
    b_init(&b);
    b_module(&b, 0x2000, 0x2000, "empty");
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 3 (module) at offset 0x8: module [0x2000, 0x2000) is empty or "
              "inverted");
    b_init(&b);
    b_module(&b, 0x3000, 0x2000, "inverted");
    b_end(&b);
    CHECK(!parse(&b));
    b_init(&b);
    b_tag(&b, 3, "\0\0\0\0\1\0\0\0", 8); /* no string at all */
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 3 (module) at offset 0x8: size 16 is smaller than 17 (mod_start, "
              "mod_end and a string)");
    b_init(&b);
    for (unsigned i = 0; i < MB2_MAX_MODULES; i++)
        b_module(&b, 0x100000 * (i + 1), 0x100000 * (i + 1) + 10, "m");
    b_end(&b);
    CHECK(parse(&b));
    CHECK_EQ_U(info.module_count, MB2_MAX_MODULES);
    b.len -= 8; /* drop the end tag, add one module too many */
    b_module(&b, 0x7000000, 0x7000010, "m");
    b_end(&b);
    CHECK(!parse(&b));
    CHECK(strstr(err, "more than 16 modules (MB2_MAX_MODULES)") != NULL);
}

CHECK_TEST(mb2_duplicate_tags)
{
    struct builder b;
    b_init(&b);
    b_string(&b, 1, "a=1");
    b_string(&b, 1, "a=2");
    b_end(&b);
    CHECK(!parse(&b));
    CHECK_ERR("multiboot2: tag 1 (cmdline) at offset 0x18: a second cmdline tag (the first is at "
              "offset 0x8)");
    b_init(&b);
    b_mmap(&b, 24, 0, qemu_map, 1);
    b_mmap(&b, 24, 0, qemu_map + 3, 1);
    b_end(&b);
    CHECK(!parse(&b));
    CHECK(strstr(err, "a second mmap tag") != NULL);
    b_init(&b);
    b_rsdp(&b, 14, 0);
    b_rsdp(&b, 14, 0);
    b_end(&b);
    CHECK(!parse(&b));
    CHECK(strstr(err, "a second acpi old tag") != NULL);
}

CHECK_TEST(mb2_rsdp_tags)
{
    struct builder b;
    /* Tag 15 alone: ACPI 2.0 RSDP, 36 bytes. */
    b_init(&b);
    b_rsdp(&b, 15, 2);
    b_end(&b);
    CHECK(parse(&b));
    CHECK_EQ_U(info.rsdp_tag, 15);
    CHECK_EQ_U(info.rsdp_len, 36);
    CHECK(info.rsdp == b.buf + 16);
    /* Both tags, either order: 15 wins. */
    for (int order = 0; order < 2; order++) {
        b_init(&b);
        b_rsdp(&b, order ? 15 : 14, order ? 2 : 0);
        b_rsdp(&b, order ? 14 : 15, order ? 0 : 2);
        b_end(&b);
        CHECK(parse(&b));
        CHECK_EQ_U(info.rsdp_tag, 15);
        CHECK_EQ_U(info.rsdp_len, 36);
        CHECK(info.rsdp == b.buf + (order ? 16 : 16 + 32));
    }
    /* GRUB copies the first 20 bytes of a 2.0 RSDP into tag 14: valid. */
    b_init(&b);
    uint8_t r[36];
    make_rsdp(r, 2);
    b_tag(&b, 14, r, 20);
    b_end(&b);
    CHECK(parse(&b));
    CHECK_EQ_U(info.rsdp_tag, 14);
}

/* Builds a single RSDP tag from r (plen bytes) and returns parse()'s result. */
static bool parse_rsdp_tag(uint32_t tag, const uint8_t *r, uint32_t plen)
{
    struct builder b;
    b_init(&b);
    b_tag(&b, tag, r, plen);
    b_end(&b);
    return parse(&b);
}

CHECK_TEST(mb2_rsdp_errors)
{
    uint8_t r[64];
    make_rsdp(r, 0);
    r[16] ^= 1; /* RSDT address changed after the checksum was computed */
    CHECK(!parse_rsdp_tag(14, r, 20));
    CHECK_ERR("multiboot2: tag 14 (acpi old) at offset 0x8: RSDP checksum over the first 20 bytes "
              "is 0x01, not 0");
    make_rsdp(r, 0);
    CHECK(!parse_rsdp_tag(14, r, 12));
    CHECK_ERR("multiboot2: tag 14 (acpi old) at offset 0x8: RSDP copy is 12 bytes, smaller than "
              "the 20 of an ACPI 1.0 RSDP");
    make_rsdp(r, 0);
    r[0] = 'X';
    CHECK(!parse_rsdp_tag(14, r, 20));
    CHECK_ERR("multiboot2: tag 14 (acpi old) at offset 0x8: RSDP signature is not \"RSD PTR \"");

    make_rsdp(r, 2);
    CHECK(!parse_rsdp_tag(15, r, 20)); /* a v1-sized copy in the v2 tag */
    CHECK_ERR("multiboot2: tag 15 (acpi new) at offset 0x8: RSDP copy is 20 bytes, smaller than "
              "the 36 of an ACPI 2.0+ RSDP");
    make_rsdp(r, 2);
    put64(r + 24, 0xdead0000); /* XSDT changed: only the extended checksum sees it */
    CHECK(!parse_rsdp_tag(15, r, 36));
    CHECK(strstr(err, "RSDP extended checksum over 36 bytes is 0x") != NULL);
    make_rsdp(r, 2);
    r[8] ^= 0x10; /* the v1 checksum of a v2 RSDP is checked too */
    CHECK(!parse_rsdp_tag(15, r, 36));
    CHECK(strstr(err, "RSDP checksum over the first 20 bytes is 0x10, not 0") != NULL);
    make_rsdp(r, 0);
    memset(r + 20, 0, 16);
    CHECK(!parse_rsdp_tag(15, r, 36)); /* revision 0 in the v2 tag */
    CHECK_ERR("multiboot2: tag 15 (acpi new) at offset 0x8: RSDP revision 0 is below 2, the first "
              "with an XSDT");
    make_rsdp(r, 2);
    put32(r + 20, 20);
    r[8] = 0;
    r[8] = checksum_fix(r, 20);
    CHECK(!parse_rsdp_tag(15, r, 36));
    CHECK_ERR("multiboot2: tag 15 (acpi new) at offset 0x8: RSDP length field 20 is outside "
              "36..36 (the tag's payload)");
    /* A longer future RSDP whose length field covers the whole copy is fine. */
    make_rsdp(r, 3);
    memset(r + 36, 0, 4);
    put32(r + 20, 40);
    r[8] = 0;
    r[8] = checksum_fix(r, 20);
    r[32] = 0;
    r[32] = checksum_fix(r, 40);
    CHECK(parse_rsdp_tag(15, r, 40));
    CHECK_EQ_U(info.rsdp_len, 40);
    /* A bad tag 14 is an error even when a good tag 15 follows. */
    struct builder b;
    b_init(&b);
    make_rsdp(r, 0);
    r[8] ^= 0xff;
    b_tag(&b, 14, r, 20);
    b_rsdp(&b, 15, 2);
    b_end(&b);
    CHECK(!parse(&b));
    CHECK(strstr(err, "tag 14 (acpi old)") != NULL);
}

CHECK_TEST(mb2_small_error_buffer)
{
    struct builder b;
    b_init(&b);
    b_mmap(&b, 20, 0, qemu_map, 1);
    b_end(&b);
    char small[16];
    memset(small, 'Z', sizeof(small));
    CHECK(!mb2_parse(b.buf, b.len, &info, small, 12));
    CHECK_STR_EQ(small, "multiboot2:");
    CHECK(small[12] == 'Z');
    CHECK(!mb2_parse(b.buf, b.len, &info, NULL, 0)); /* no error text wanted */
}

/* Every truncation of a well-formed structure fails cleanly, reading nothing
 * beyond the bytes given (ASan checks the exact-size copies). */
CHECK_TEST(mb2_truncation_sweep)
{
    struct builder b;
    build_full(&b);
    uint32_t total = b.len;
    for (uint32_t len = 0; len < total; len++) {
        CHECKF(!parse_bytes(b.buf, len), "avail %u", len);
        CHECKF(strncmp(err, "multiboot2: ", 12) == 0, "avail %u: \"%s\"", len, err);
        put32(b.buf, len); /* the header agrees with the truncation */
        CHECKF(!parse_bytes(b.buf, len), "total_size %u", len);
        put32(b.buf, total);
    }
}

/* Random corruption: whatever the bytes, the parser returns (no crash, no
 * out-of-bounds read) and a successful parse satisfies every promise. */
CHECK_TEST(mb2_corruption_sweep)
{
    struct builder clean, b;
    build_full(&clean);
    uint64_t state = 0x243f6a8885a308d3ull;
    unsigned accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        b = clean;
        int flips = 1 + iter % 4;
        for (int f = 0; f < flips; f++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t at = (uint32_t)(state >> 33) % b.len;
            b.buf[at] ^= (uint8_t)(1u << ((state >> 20) % 8));
        }
        if (!parse(&b)) {
            CHECKF(strncmp(err, "multiboot2: ", 12) == 0 && strlen(err) < sizeof(err),
                   "iteration %d: \"%s\"", iter, err);
            continue;
        }
        accepted++;
        CHECK(info.region_count <= MB2_MAX_REGIONS && info.module_count <= MB2_MAX_MODULES);
        for (unsigned i = 0; i < info.region_count; i++)
            CHECKF(info.region[i].len != 0 && info.region[i].len - 1 <= UINT64_MAX - info.region[i].base,
                   "iteration %d region %u", iter, i);
        for (unsigned i = 0; i < info.module_count; i++)
            CHECKF(info.module[i].start < info.module[i].end, "iteration %d module %u", iter, i);
        CHECK(info.rsdp == NULL || memcmp(info.rsdp, "RSD PTR ", 8) == 0);
    }
    /* Some flips land in strings or reserved fields and are legitimately
     * accepted; a sweep that rejects everything would test nothing. */
    CHECK(accepted > 100);
}

CHECK_MAIN()
