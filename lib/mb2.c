/*
 * mb2.c - validating parser for the Multiboot2 boot information (see mb2.h).
 *
 * Layout (Multiboot2 specification, "Boot information format"):
 *   u32 total_size, u32 reserved            the fixed 8-byte header
 *   tags, each starting on an 8-byte boundary:
 *     u32 type, u32 size                    size counts the tag header but
 *     payload                               not the padding after the tag
 *   an end tag: type 0, size 8
 *
 * Nothing in the structure is trusted: every tag must lie inside total_size
 * (which must itself lie inside the bytes known to be readable), must be
 * large enough for its type, and must be followed by more tags or the end
 * tag.  The first problem stops the parse with a single message of the form
 *   multiboot2: tag 6 (mmap) at offset 0x48: entry_size 20 is smaller than 24
 * because after one inconsistency later offsets mean nothing.
 *
 * Data is never dropped silently: more regions or modules than the tables
 * hold, a second copy of a tag that must be unique, a zero-length or
 * wrapping region, or usable RAM that overlaps another region are errors,
 * because the frame allocator built from this map would otherwise lose
 * memory or hand out the same frame twice.
 *
 * All multi-byte fields are read byte by byte (little endian): tag payloads
 * are only 8-byte aligned relative to the start, crafted test buffers may be
 * anything, and byte loads keep the parser free of alignment and aliasing
 * assumptions.  Freestanding: no library calls.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/fmt.h"
#include "lib/mb2.h"

#define HEADER_SIZE 8     /* total_size, reserved */
#define TAG_HEADER_SIZE 8 /* type, size */
#define TAG_ALIGN 8
#define END_TAG_SIZE 8
#define MODULE_FIXED 16   /* tag header, mod_start, mod_end; a string follows */
#define MMAP_FIXED 16     /* tag header, entry_size, entry_version */
#define MMAP_ENTRY_MIN 24 /* base_addr, length, type, reserved */
#define RSDP_V1_LEN 20    /* ACPI 1.0 RSDP: signature .. rsdt_address */
#define RSDP_V2_LEN 36    /* ACPI 2.0+ RSDP: adds length, xsdt, extended checksum */
#define RSDP_REVISION_OFF 15
#define RSDP_LENGTH_OFF 20

/* Tag types whose second occurrence is an error; indexes parser.first_at. */
#define SINGLE_TAG_TYPES 16

struct parser {
    const uint8_t *base;
    uint32_t total;
    struct mb2_info *out;
    char *err;
    size_t errlen;
    uint32_t off, type, size; /* the tag being parsed */
    uint32_t first_at[SINGLE_TAG_TYPES]; /* offset of the first such tag; 0: none */
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static const char *tag_name(uint32_t type)
{
    static const char *const names[] = {
        "end", "cmdline", "bootloader", "module", "basic meminfo", "bootdev", "mmap", "vbe",
        "framebuffer", "elf sections", "apm", "efi32", "efi64", "smbios", "acpi old", "acpi new",
        "network", "efi mmap", "efi bs", "efi32 ih", "efi64 ih", "load base addr",
    };
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

/* Writes "multiboot2: " [tag prefix] message into err; always returns false. */
static bool vfail(struct parser *ps, bool in_tag, const char *fmt, va_list ap)
{
    if (ps->errlen == 0)
        return false;
    int n;
    if (in_tag)
        n = fmt_snprintf(ps->err, ps->errlen, "multiboot2: tag %u (%s) at offset 0x%x: ",
                         (unsigned)ps->type, tag_name(ps->type), (unsigned)ps->off);
    else
        n = fmt_snprintf(ps->err, ps->errlen, "multiboot2: ");
    if (n >= 0 && (size_t)n < ps->errlen)
        fmt_vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    return false;
}

__attribute__((format(printf, 2, 3))) static bool fail(struct parser *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(ps, false, fmt, ap);
    va_end(ap);
    return false;
}

__attribute__((format(printf, 2, 3))) static bool tag_fail(struct parser *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(ps, true, fmt, ap);
    va_end(ap);
    return false;
}

static const uint8_t *tag_ptr(const struct parser *ps, uint32_t at)
{
    return ps->base + ps->off + at;
}

/* A NUL-terminated string starting `at` bytes into the current tag, or NULL
 * (error recorded) when no NUL lies inside the tag's size. */
static const char *tag_string(struct parser *ps, uint32_t at)
{
    const uint8_t *s = tag_ptr(ps, at);
    for (uint32_t i = 0; at + i < ps->size; i++)
        if (s[i] == '\0')
            return (const char *)s;
    tag_fail(ps, "string at byte %u is not NUL-terminated within the tag's %u bytes", (unsigned)at,
             (unsigned)ps->size);
    return NULL;
}

/* Rejects a second cmdline, bootloader, mmap or RSDP tag: which copy is the
 * real one cannot be known, so neither may be silently preferred. */
static bool first_of_its_type(struct parser *ps)
{
    uint32_t *first = &ps->first_at[ps->type];
    if (*first != 0)
        return tag_fail(ps, "a second %s tag (the first is at offset 0x%x)", tag_name(ps->type),
                        (unsigned)*first);
    *first = ps->off;
    return true;
}

static bool parse_string_tag(struct parser *ps, const char **dst)
{
    if (!first_of_its_type(ps))
        return false;
    const char *s = tag_string(ps, TAG_HEADER_SIZE);
    if (s == NULL)
        return false;
    *dst = s;
    return true;
}

static bool parse_module(struct parser *ps)
{
    if (ps->size < MODULE_FIXED + 1)
        return tag_fail(ps, "size %u is smaller than %u (mod_start, mod_end and a string)",
                        (unsigned)ps->size, MODULE_FIXED + 1);
    uint32_t start = rd32(tag_ptr(ps, 8)), end = rd32(tag_ptr(ps, 12));
    if (start >= end)
        return tag_fail(ps, "module [0x%x, 0x%x) is empty or inverted", (unsigned)start,
                        (unsigned)end);
    const char *cmdline = tag_string(ps, MODULE_FIXED);
    if (cmdline == NULL)
        return false;
    struct mb2_info *out = ps->out;
    if (out->module_count == MB2_MAX_MODULES)
        return tag_fail(ps, "more than %d modules (MB2_MAX_MODULES)", MB2_MAX_MODULES);
    out->module[out->module_count++] = (struct mb2_module){start, end, cmdline};
    return true;
}

static bool parse_mmap(struct parser *ps)
{
    if (!first_of_its_type(ps))
        return false;
    if (ps->size < MMAP_FIXED)
        return tag_fail(ps, "size %u is smaller than %u (entry_size and entry_version)",
                        (unsigned)ps->size, MMAP_FIXED);
    uint32_t entry_size = rd32(tag_ptr(ps, 8));
    /* entry_version is not checked: the specification promises that later
     * versions only append fields, which entry_size then accounts for. */
    if (entry_size < MMAP_ENTRY_MIN)
        return tag_fail(ps, "entry_size %u is smaller than %u", (unsigned)entry_size,
                        MMAP_ENTRY_MIN);
    if (entry_size % 8 != 0)
        return tag_fail(ps, "entry_size %u is not a multiple of 8", (unsigned)entry_size);
    uint32_t bytes = ps->size - MMAP_FIXED;
    if (bytes % entry_size != 0)
        return tag_fail(ps, "%u bytes of entries are not a whole number of %u-byte entries",
                        (unsigned)bytes, (unsigned)entry_size);

    struct mb2_info *out = ps->out;
    for (uint32_t i = 0; i < bytes / entry_size; i++) {
        const uint8_t *e = tag_ptr(ps, MMAP_FIXED + i * entry_size);
        uint64_t base = rd64(e), len = rd64(e + 8);
        uint32_t type = rd32(e + 16);
        if (len == 0)
            return tag_fail(ps, "entry %u (type %u) at 0x%llx has length 0", (unsigned)i,
                            (unsigned)type, (unsigned long long)base);
        if (len > UINT64_MAX - base)
            return tag_fail(ps, "entry %u: base 0x%llx + length 0x%llx wraps past 2^64",
                            (unsigned)i, (unsigned long long)base, (unsigned long long)len);
        if (out->region_count == MB2_MAX_REGIONS)
            return tag_fail(ps, "entry %u: more than %d regions (MB2_MAX_REGIONS)", (unsigned)i,
                            MB2_MAX_REGIONS);
        out->region[out->region_count++] = (struct mb2_region){base, len, type};
    }
    return true;
}

static bool regions_overlap(const struct mb2_region *a, const struct mb2_region *b)
{
    return a->base < b->base + b->len && b->base < a->base + a->len;
}

/* Usable RAM must not overlap anything: the allocator would own a frame
 * twice, or own one the firmware uses. */
static bool check_overlaps(struct parser *ps)
{
    const struct mb2_info *out = ps->out;
    for (unsigned i = 0; i < out->region_count; i++) {
        const struct mb2_region *a = &out->region[i];
        for (unsigned j = i + 1; j < out->region_count; j++) {
            const struct mb2_region *b = &out->region[j];
            if ((a->type == MB2_MEM_USABLE || b->type == MB2_MEM_USABLE) && regions_overlap(a, b)) {
                ps->off = ps->first_at[MB2_TAG_MMAP];
                ps->type = MB2_TAG_MMAP;
                return tag_fail(ps,
                                "entry %u [0x%llx, 0x%llx) type %u overlaps entry %u "
                                "[0x%llx, 0x%llx) type %u",
                                i, (unsigned long long)a->base,
                                (unsigned long long)(a->base + a->len), (unsigned)a->type, j,
                                (unsigned long long)b->base,
                                (unsigned long long)(b->base + b->len), (unsigned)b->type);
            }
        }
    }
    return true;
}

static uint8_t byte_sum(const uint8_t *p, uint32_t n)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum;
}

/*
 * Tag 14 carries a copy of the ACPI 1.0 RSDP (20 bytes, which is also the
 * head of any later RSDP); tag 15 a copy of an ACPI 2.0+ RSDP, whose length
 * field covers the whole structure (36 bytes so far).  Both checksums must
 * hold: a corrupted RSDP would send the ACPI code to a wrong table address.
 */
static bool parse_rsdp(struct parser *ps)
{
    if (!first_of_its_type(ps))
        return false;
    bool v2 = ps->type == MB2_TAG_ACPI_NEW;
    uint32_t payload = ps->size - TAG_HEADER_SIZE;
    uint32_t need = v2 ? RSDP_V2_LEN : RSDP_V1_LEN;
    if (payload < need)
        return tag_fail(ps, "RSDP copy is %u bytes, smaller than the %u of an ACPI %s RSDP",
                        (unsigned)payload, (unsigned)need, v2 ? "2.0+" : "1.0");
    const uint8_t *r = tag_ptr(ps, TAG_HEADER_SIZE);
    static const char signature[8] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '};
    for (int i = 0; i < 8; i++)
        if (r[i] != (uint8_t)signature[i])
            return tag_fail(ps, "RSDP signature is not \"RSD PTR \"");
    uint8_t sum = byte_sum(r, RSDP_V1_LEN);
    if (sum != 0)
        return tag_fail(ps, "RSDP checksum over the first %u bytes is 0x%02x, not 0", RSDP_V1_LEN,
                        (unsigned)sum);
    uint32_t len = RSDP_V1_LEN;
    if (v2) {
        unsigned revision = r[RSDP_REVISION_OFF];
        if (revision < 2)
            return tag_fail(ps, "RSDP revision %u is below 2, the first with an XSDT", revision);
        len = rd32(r + RSDP_LENGTH_OFF);
        if (len < RSDP_V2_LEN || len > payload)
            return tag_fail(ps, "RSDP length field %u is outside %u..%u (the tag's payload)",
                            (unsigned)len, RSDP_V2_LEN, (unsigned)payload);
        sum = byte_sum(r, len);
        if (sum != 0)
            return tag_fail(ps, "RSDP extended checksum over %u bytes is 0x%02x, not 0",
                            (unsigned)len, (unsigned)sum);
    }
    /* Tag 15 describes the newer table, so it wins whichever comes first. */
    struct mb2_info *out = ps->out;
    if (v2 || out->rsdp_tag != MB2_TAG_ACPI_NEW) {
        out->rsdp = r;
        out->rsdp_len = len;
        out->rsdp_tag = ps->type;
    }
    return true;
}

static bool parse_tag(struct parser *ps)
{
    switch (ps->type) {
    case MB2_TAG_CMDLINE:
        return parse_string_tag(ps, &ps->out->cmdline);
    case MB2_TAG_BOOTLOADER:
        return parse_string_tag(ps, &ps->out->bootloader);
    case MB2_TAG_MODULE:
        return parse_module(ps);
    case MB2_TAG_MMAP:
        return parse_mmap(ps);
    case MB2_TAG_ACPI_OLD:
    case MB2_TAG_ACPI_NEW:
        return parse_rsdp(ps);
    default:
        /* The specification tells the OS to skip tags it does not use. */
        return true;
    }
}

bool mb2_parse(const void *info, size_t avail, struct mb2_info *out, char *err, size_t errlen)
{
    struct parser ps = {.base = info, .out = out, .err = err, .errlen = errlen};
    out->total_size = 0;
    out->cmdline = "";
    out->bootloader = "";
    out->region_count = 0;
    out->module_count = 0;
    out->rsdp = NULL;
    out->rsdp_len = 0;
    out->rsdp_tag = 0;
    if (errlen > 0)
        err[0] = '\0';

    if (info == NULL)
        return fail(&ps, "no boot information (NULL pointer)");
    if ((uintptr_t)info % TAG_ALIGN != 0)
        return fail(&ps, "boot information at %p is not 8-byte aligned", info);
    if (avail < HEADER_SIZE)
        return fail(&ps, "only %zu bytes readable, less than the 8-byte header", avail);
    ps.total = rd32(ps.base);
    /* The reserved word is not checked: the specification says to ignore it. */
    if (ps.total < HEADER_SIZE + END_TAG_SIZE)
        return fail(&ps, "total_size %u is smaller than %u (header and end tag)",
                    (unsigned)ps.total, HEADER_SIZE + END_TAG_SIZE);
    if (ps.total > avail)
        return fail(&ps, "total_size %u exceeds the %zu bytes readable", (unsigned)ps.total, avail);
    out->total_size = ps.total;

    uint64_t off = HEADER_SIZE;
    for (;;) {
        if (off + TAG_HEADER_SIZE > ps.total)
            return fail(&ps, "no end tag before total_size %u (tags stop at offset 0x%llx)",
                        (unsigned)ps.total, (unsigned long long)off);
        ps.off = (uint32_t)off;
        ps.type = rd32(ps.base + off);
        ps.size = rd32(ps.base + off + 4);
        if (ps.size < TAG_HEADER_SIZE)
            return tag_fail(&ps, "size %u is smaller than the 8-byte tag header", (unsigned)ps.size);
        if (ps.size > ps.total - off)
            return tag_fail(&ps, "size %u runs past total_size %u", (unsigned)ps.size,
                            (unsigned)ps.total);
        if (ps.type == MB2_TAG_END) {
            if (ps.size != END_TAG_SIZE)
                return tag_fail(&ps, "size %u is not %u", (unsigned)ps.size, END_TAG_SIZE);
            break;
        }
        if (!parse_tag(&ps))
            return false;
        off += ((uint64_t)ps.size + TAG_ALIGN - 1) & ~(uint64_t)(TAG_ALIGN - 1);
    }
    return check_overlaps(&ps);
}

uint64_t mb2_usable_bytes(const struct mb2_info *mi)
{
    /* Exact: mb2_parse rejects overlaps involving usable regions. */
    uint64_t sum = 0;
    for (unsigned i = 0; i < mi->region_count; i++)
        if (mi->region[i].type == MB2_MEM_USABLE)
            sum += mi->region[i].len;
    return sum;
}

uint64_t mb2_max_usable_end(const struct mb2_info *mi)
{
    uint64_t end = 0;
    for (unsigned i = 0; i < mi->region_count; i++) {
        const struct mb2_region *r = &mi->region[i];
        if (r->type == MB2_MEM_USABLE && r->base + r->len > end)
            end = r->base + r->len;
    }
    return end;
}
