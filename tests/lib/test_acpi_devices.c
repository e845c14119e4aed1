/*
 * test_acpi_devices.c - host tests of lib/acpi_devices.c (SPCR, FADT, HPET)
 * on crafted tables: each test builds a valid table, checks what the parser
 * returns, then breaks one field and checks both the verdict and that the
 * message names the problem.  The ASan build runs the same tests, so a parser
 * that reads past a short table fails here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/check.h"
#include "lib/acpi_devices.h"
#include "lib/acpi_tables.h"

CHECK_SUITE("lib");

#define TABLE_MAX 512

static uint8_t tbl[TABLE_MAX];
static char msg[2048];

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void begin(const char *sig, uint32_t len, uint8_t revision)
{
    memset(tbl, 0, sizeof tbl);
    memcpy(tbl, sig, 4);
    put32(tbl + 4, len);
    tbl[8] = revision;
    memcpy(tbl + 10, "CRAFTD", 6);
    msg[0] = '\0';
}

/* Fixes the checksum after the fields were set. */
static void seal(void)
{
    uint32_t len;
    memcpy(&len, tbl + 4, 4);
    tbl[9] = 0;
    tbl[9] = (uint8_t)(0x100 - acpi_checksum(tbl, len));
}

static void gas(uint8_t *g, uint8_t space, uint8_t width, uint8_t access, uint64_t addr)
{
    g[0] = space;
    g[1] = width;
    g[2] = 0;
    g[3] = access;
    put64(g + 4, addr);
}

static uint32_t table_len(void)
{
    uint32_t len;
    memcpy(&len, tbl + 4, 4);
    return len;
}

/* ---- SPCR ------------------------------------------------------------------ */

static void spcr(uint8_t type, uint8_t space, uint8_t width, uint64_t addr, uint8_t baud)
{
    begin("SPCR", 80, 2);
    tbl[36] = type;
    gas(tbl + 40, space, width, width == 32 ? 3 : 1, addr);
    tbl[58] = baud;
    tbl[60] = 1; /* stop bits */
    seal();
}

CHECK_TEST(spcr_io_port)
{
    struct acpi_spcr s;
    spcr(ACPI_SPCR_16550, ACPI_SPACE_IO, 8, 0x2f8, 7);
    CHECK(acpi_parse_spcr(tbl, 80, &s, msg, sizeof msg));
    CHECK_EQ_U(s.reg.space, ACPI_SPACE_IO);
    CHECK_EQ_U(s.reg.address, 0x2f8);
    CHECK_EQ_U(s.reg_stride, 1);
    CHECK_EQ_U(s.baud, 115200);
    CHECK_EQ_U(s.uart_clock_hz, 0);
    CHECK_STR_EQ(msg, "");
}

CHECK_TEST(spcr_mmio32_with_clock)
{
    struct acpi_spcr s;
    begin("SPCR", 88, 4);
    tbl[36] = ACPI_SPCR_16550_GAS;
    gas(tbl + 40, ACPI_SPACE_MEMORY, 32, 3, 0xfe032000);
    tbl[58] = 0; /* as the firmware set it */
    tbl[60] = 1;
    put32(tbl + 76, 48000000);
    seal();
    CHECK(acpi_parse_spcr(tbl, 88, &s, msg, sizeof msg));
    CHECK_EQ_U(s.reg.space, ACPI_SPACE_MEMORY);
    CHECK_EQ_U(s.reg.address, 0xfe032000);
    CHECK_EQ_U(s.reg_stride, 4);
    CHECK_EQ_U(s.reg.access_bytes, 4);
    CHECK_EQ_U(s.baud, 0);
    CHECK_EQ_U(s.uart_clock_hz, 48000000);
}

CHECK_TEST(spcr_clock_ignored_before_revision_3)
{
    struct acpi_spcr s;
    spcr(ACPI_SPCR_16550, ACPI_SPACE_IO, 8, 0x3f8, 7);
    put32(tbl + 76, 48000000); /* reserved in revision 2 */
    seal();
    CHECK(acpi_parse_spcr(tbl, 80, &s, msg, sizeof msg));
    CHECK_EQ_U(s.uart_clock_hz, 0);
}

/* One broken field at a time; each must be refused with its own message. */
CHECK_TEST(spcr_refuses_what_it_cannot_drive)
{
    static const struct {
        uint8_t type, space, width;
        uint64_t addr;
        uint8_t baud;
        const char *needle;
    } cases[] = {
        {0x03, ACPI_SPACE_IO, 8, 0x3f8, 7, "interface type 0x03"},         /* PL011 */
        {0x00, ACPI_SPACE_PCI_CONFIG, 8, 0x3f8, 7, "PCI configuration space"},
        {0x00, ACPI_SPACE_IO, 8, 0, 7, "address 0"},
        {0x00, ACPI_SPACE_IO, 8, 0x3f8, 5, "baud rate code 5"},
        {0x00, ACPI_SPACE_IO, 8, 0x10000, 7, "above 0xffff"},
        {0x00, ACPI_SPACE_MEMORY, 16, 0xfe000000, 7, "16 bits wide"},
        {0x00, ACPI_SPACE_IO, 12, 0x3f8, 7, "12 bits wide"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct acpi_spcr s;
        spcr(cases[i].type, cases[i].space, cases[i].width, cases[i].addr, cases[i].baud);
        CHECKF(!acpi_parse_spcr(tbl, 80, &s, msg, sizeof msg), "case %zu accepted", i);
        CHECKF(strstr(msg, cases[i].needle) != NULL, "case %zu: '%s' not in: %s", i,
               cases[i].needle, msg);
    }
}

CHECK_TEST(spcr_table_checks)
{
    struct acpi_spcr s;
    spcr(ACPI_SPCR_16550, ACPI_SPACE_IO, 8, 0x3f8, 7);
    tbl[40 + 4] ^= 1; /* checksum no longer holds */
    CHECK(!acpi_parse_spcr(tbl, 80, &s, msg, sizeof msg));
    CHECK(strstr(msg, "bad checksum") != NULL);
    spcr(ACPI_SPCR_16550, ACPI_SPACE_IO, 8, 0x3f8, 7);
    CHECK(!acpi_parse_spcr(tbl, 79, &s, msg, sizeof msg)); /* fewer bytes readable than its length */
    CHECK(strstr(msg, "length 80") != NULL);
    begin("SPCR", 60, 1);
    seal();
    CHECK(!acpi_parse_spcr(tbl, 60, &s, msg, sizeof msg)); /* shorter than its fields */
    CHECK(strstr(msg, "length 60 outside 80") != NULL);
    spcr(ACPI_SPCR_16550, ACPI_SPACE_IO, 8, 0x3f8, 7);
    tbl[59] = 1; /* odd parity: usable, but the console runs 8N1 and says so */
    seal();
    CHECK(acpi_parse_spcr(tbl, 80, &s, msg, sizeof msg));
    CHECK(strstr(msg, "runs 8N1") != NULL);
}

/* ---- FADT ------------------------------------------------------------------ */

/* A FADT as QEMU's q35 builds it: reset register at I/O 0xcf9, PM timer at
 * port 0x608 with 32-bit values (the X_ field filled in too). */
static void fadt_q35(uint32_t len)
{
    begin("FACP", len, len >= 244 ? 6 : 1);
    put32(tbl + 76, 0x608);
    tbl[91] = 4;
    put32(tbl + 112, ACPI_FADT_RESET_REG_SUP | ACPI_FADT_TMR_VAL_EXT);
    if (len >= 129) {
        gas(tbl + 116, ACPI_SPACE_IO, 8, 1, 0xcf9);
        tbl[128] = 0x0f;
    }
    if (len >= 220)
        gas(tbl + 208, ACPI_SPACE_IO, 32, 3, 0x608);
    seal();
}

CHECK_TEST(fadt_reset_and_pm_timer)
{
    struct acpi_fadt f;
    fadt_q35(244);
    CHECK(acpi_parse_fadt(tbl, 244, &f, msg, sizeof msg));
    CHECK(f.has_reset);
    CHECK_EQ_U(f.reset_reg.space, ACPI_SPACE_IO);
    CHECK_EQ_U(f.reset_reg.address, 0xcf9);
    CHECK_EQ_U(f.reset_value, 0x0f);
    CHECK(f.has_pm_timer);
    CHECK_EQ_U(f.pm_timer_port, 0x608);
    CHECK_EQ_U(f.pm_timer_bits, 32);
    CHECK_STR_EQ(msg, "");
}

CHECK_TEST(fadt_acpi1_has_no_reset_register)
{
    struct acpi_fadt f;
    fadt_q35(116);
    put32(tbl + 112, 0); /* 24-bit PM timer */
    seal();
    CHECK(acpi_parse_fadt(tbl, 116, &f, msg, sizeof msg));
    CHECK(!f.has_reset);
    CHECK(strstr(msg, "table too short") != NULL);
    CHECK(f.has_pm_timer);
    CHECK_EQ_U(f.pm_timer_bits, 24);
}

CHECK_TEST(fadt_unusable_devices_are_left_out)
{
    struct acpi_fadt f;
    fadt_q35(244);
    put32(tbl + 112, ACPI_FADT_TMR_VAL_EXT); /* RESET_REG_SUP clear */
    seal();
    CHECK(acpi_parse_fadt(tbl, 244, &f, msg, sizeof msg));
    CHECK(!f.has_reset && strstr(msg, "RESET_REG_SUP clear") != NULL);

    fadt_q35(244);
    gas(tbl + 116, ACPI_SPACE_PCI_CONFIG, 8, 1, 0x0000001f00000064ull);
    seal();
    CHECK(acpi_parse_fadt(tbl, 244, &f, msg, sizeof msg));
    CHECK(!f.has_reset && strstr(msg, "reset register in PCI configuration space") != NULL);
    CHECK(f.has_pm_timer);

    fadt_q35(244);
    gas(tbl + 116, ACPI_SPACE_IO, 16, 2, 0xcf9);
    seal();
    CHECK(acpi_parse_fadt(tbl, 244, &f, msg, sizeof msg));
    CHECK(!f.has_reset && strstr(msg, "16 bits") != NULL);

    fadt_q35(244);
    gas(tbl + 208, ACPI_SPACE_MEMORY, 32, 3, 0xfed00000);
    seal();
    CHECK(acpi_parse_fadt(tbl, 244, &f, msg, sizeof msg));
    CHECK(!f.has_pm_timer && strstr(msg, "PM timer in memory space") != NULL);
    CHECK(f.has_reset);

    fadt_q35(244);
    put32(tbl + 112, ACPI_FADT_RESET_REG_SUP | ACPI_FADT_HW_REDUCED);
    seal();
    CHECK(acpi_parse_fadt(tbl, 244, &f, msg, sizeof msg));
    CHECK(!f.has_pm_timer && strstr(msg, "hardware-reduced") != NULL);

    fadt_q35(129);
    tbl[91] = 3; /* PM_TMR_LEN must be 4 */
    seal();
    CHECK(acpi_parse_fadt(tbl, 129, &f, msg, sizeof msg));
    CHECK(!f.has_pm_timer && strstr(msg, "length 3") != NULL);
}

CHECK_TEST(fadt_table_checks)
{
    struct acpi_fadt f;
    fadt_q35(244);
    tbl[100] ^= 0x40;
    CHECK(!acpi_parse_fadt(tbl, 244, &f, msg, sizeof msg));
    CHECK(strstr(msg, "bad checksum") != NULL);
    CHECK(!f.has_reset && !f.has_pm_timer);
    begin("FACP", 100, 1);
    seal();
    CHECK(!acpi_parse_fadt(tbl, 100, &f, msg, sizeof msg));
    fadt_q35(244);
    memcpy(tbl, "FADT", 4); /* the FADT's signature is FACP */
    seal();
    CHECK(!acpi_parse_fadt(tbl, 244, &f, msg, sizeof msg));
    CHECK(strstr(msg, "expected table FACP") != NULL);
}

/* ---- HPET ------------------------------------------------------------------ */

static void hpet(uint8_t space, uint64_t base)
{
    begin("HPET", 56, 1);
    put32(tbl + 36, 0x8086a201);
    gas(tbl + 40, space, 64, 0, base);
    tbl[52] = 0;
    put16(tbl + 53, 128);
    seal();
}

CHECK_TEST(hpet_valid)
{
    struct acpi_hpet h;
    hpet(ACPI_SPACE_MEMORY, 0xfed00000);
    tbl[41] = 0; /* register width left 0, as QEMU's firmware does */
    seal();
    CHECK(acpi_parse_hpet(tbl, 56, &h, msg, sizeof msg));
    CHECK_EQ_U(h.base, 0xfed00000);
    CHECK_EQ_U(h.min_tick, 128);
}

CHECK_TEST(hpet_refused)
{
    struct acpi_hpet h;
    hpet(ACPI_SPACE_IO, 0xfed0);
    CHECK(!acpi_parse_hpet(tbl, 56, &h, msg, sizeof msg));
    CHECK(strstr(msg, "I/O space") != NULL);
    hpet(ACPI_SPACE_MEMORY, 0xfed00200);
    CHECK(!acpi_parse_hpet(tbl, 56, &h, msg, sizeof msg));
    CHECK(strstr(msg, "1 KiB aligned") != NULL);
    hpet(ACPI_SPACE_MEMORY, 0);
    CHECK(!acpi_parse_hpet(tbl, 56, &h, msg, sizeof msg));
    CHECK(strstr(msg, "address 0x0 ") != NULL);
    hpet(ACPI_SPACE_MEMORY, 0xfed00000);
    CHECK(!acpi_parse_hpet(tbl, 55, &h, msg, sizeof msg));
}

CHECK_TEST(hpet_period)
{
    msg[0] = '\0';
    /* QEMU's and most chipsets' HPET: 69841279 fs, 14.318 MHz */
    CHECK_EQ_U(acpi_hpet_hz((uint64_t)69841279 << 32 | 0x8086a201, msg, sizeof msg), 14318180);
    CHECK_EQ_U(acpi_hpet_hz(0, msg, sizeof msg), 0);
    CHECK(strstr(msg, "period 0 fs") != NULL);
    CHECK_EQ_U(acpi_hpet_hz(UINT64_MAX, msg, sizeof msg), 0); /* all ones: nothing there */
    CHECK_EQ_U(acpi_hpet_hz(HPET_PERIOD_MAX_FS << 32, msg, sizeof msg), 10000000);
}

/* ---- every parser on damaged bytes ----------------------------------------------- */

/* Random bytes with a valid header and checksum, at every length from 0 up:
 * the parsers may refuse them but never read outside `avail` (ASan). */
CHECK_TEST(random_tables_never_crash)
{
    static const char *const sigs[] = {"SPCR", "FACP", "HPET"};
    srand(14);
    for (unsigned round = 0; round < 3000; round++) {
        const char *sig = sigs[round % 3];
        uint32_t len = (uint32_t)(rand() % 260);
        size_t avail = len;
        uint8_t *copy = malloc(avail ? avail : 1);
        begin(sig, len, (uint8_t)(rand() % 6));
        for (uint32_t i = 36; i < len; i++)
            tbl[i] = (uint8_t)rand();
        if (len >= 36)
            seal();
        memcpy(copy, tbl, avail);
        struct acpi_spcr s;
        struct acpi_fadt f;
        struct acpi_hpet h;
        if (round % 3 == 0)
            acpi_parse_spcr(copy, avail, &s, msg, sizeof msg);
        else if (round % 3 == 1)
            acpi_parse_fadt(copy, avail, &f, msg, sizeof msg);
        else
            acpi_parse_hpet(copy, avail, &h, msg, sizeof msg);
        free(copy);
    }
    CHECK(table_len() < TABLE_MAX);
}

CHECK_MAIN()
