/*
 * acpi_devices.c - SPCR, FADT and HPET parsers (see acpi_devices.h for the
 * rules).  Fields are read byte by byte: the tables are packed.
 */
#include "lib/acpi_devices.h"

#include "lib/acpi_tables.h"

/* Generic Address Structure (ACPI 6.5 section 5.2.3.2). */
#define GAS_OFF_SPACE 0
#define GAS_OFF_WIDTH 1
#define GAS_OFF_OFFSET 2
#define GAS_OFF_ACCESS 3
#define GAS_OFF_ADDRESS 4
#define GAS_ACCESS_UNDEFINED 0 /* legacy: the width says it */
#define GAS_ACCESS_MAX 4       /* 1 byte, 2 word, 3 dword, 4 qword */

/* SPCR (revision 4 layout; fields up to the UART clock are in every revision). */
#define SPCR_OFF_TYPE 36
#define SPCR_OFF_BASE 40
#define SPCR_OFF_BAUD 58
#define SPCR_OFF_PARITY 59
#define SPCR_OFF_STOP 60
#define SPCR_OFF_FLOW 61
#define SPCR_OFF_TERMINAL 62
#define SPCR_OFF_UART_CLOCK 76 /* revision 3 and later */
#define SPCR_REV_UART_CLOCK 3
#define IO_PORT_MAX 0xffffu

/* FADT (ACPI 6.5 section 5.2.9). */
#define FADT_OFF_PM_TMR_BLK 76
#define FADT_OFF_PM_TMR_LEN 91
#define FADT_OFF_FLAGS 112
#define FADT_OFF_RESET_REG 116
#define FADT_OFF_RESET_VALUE 128
#define FADT_RESET_END 129          /* the reset value is the last byte needed */
#define FADT_OFF_X_PM_TMR_BLK 208
#define FADT_X_PM_TMR_END 220
#define PM_TMR_LEN 4                /* the PM timer block is one 32-bit port */

/* HPET description table. */
#define HPET_OFF_BASE 40
#define HPET_OFF_NUMBER 52
#define HPET_OFF_MIN_TICK 53
#define FS_PER_S 1000000000000000ull

static const char *space_name(uint8_t space)
{
    switch (space) {
    case ACPI_SPACE_MEMORY: return "memory";
    case ACPI_SPACE_IO: return "I/O";
    case ACPI_SPACE_PCI_CONFIG: return "PCI configuration";
    default: return "unknown";
    }
}

/* Reads and checks a GAS: a width of 8/16/32/64 bits, an access size that
 * is undefined (then the width decides) or no wider than 8 bytes, and a
 * non-zero address.  `what` names the register in the message. */
static bool read_reg(const uint8_t *g, struct acpi_reg *out, const char *sig, const char *what,
                     char *msg, size_t msglen)
{
    out->space = g[GAS_OFF_SPACE];
    out->bit_width = g[GAS_OFF_WIDTH];
    out->bit_offset = g[GAS_OFF_OFFSET];
    uint8_t access = g[GAS_OFF_ACCESS];
    out->address = acpi_rd64(g + GAS_OFF_ADDRESS);
    if (out->bit_width != 8 && out->bit_width != 16 && out->bit_width != 32 &&
        out->bit_width != 64) {
        acpi_msg_add(msg, msglen, "acpi: %s: %s register is %u bits wide (expected 8, 16, 32 "
                     "or 64); not used", sig, what, out->bit_width);
        return false;
    }
    if (access > GAS_ACCESS_MAX) {
        acpi_msg_add(msg, msglen, "acpi: %s: %s register has access size code %u (expected "
                     "0..%u); not used", sig, what, access, GAS_ACCESS_MAX);
        return false;
    }
    out->access_bytes = access == GAS_ACCESS_UNDEFINED ? out->bit_width / 8
                                                       : (uint8_t)(1u << (access - 1));
    if (out->address == 0) {
        acpi_msg_add(msg, msglen, "acpi: %s: %s register at address 0; not used", sig, what);
        return false;
    }
    if (out->space == ACPI_SPACE_IO && out->address > IO_PORT_MAX) {
        acpi_msg_add(msg, msglen, "acpi: %s: %s register at I/O port 0x%llx, above 0x%x; not "
                     "used", sig, what, (unsigned long long)out->address, IO_PORT_MAX);
        return false;
    }
    return true;
}

/* ---- SPCR ------------------------------------------------------------------ */

/* SPCR's baud rate codes; 0 means the firmware's setting is to be kept. */
static bool spcr_baud(uint8_t code, uint32_t *baud)
{
    switch (code) {
    case 0: *baud = 0; return true;
    case 3: *baud = 9600; return true;
    case 4: *baud = 19200; return true;
    case 6: *baud = 57600; return true;
    case 7: *baud = 115200; return true;
    default: return false;
    }
}

bool acpi_parse_spcr(const void *table, size_t avail, struct acpi_spcr *out, char *msg,
                     size_t msglen)
{
    const uint8_t *t = table;
    __builtin_memset(out, 0, sizeof *out);
    if (!acpi_table_check(table, avail, "SPCR", ACPI_SPCR_MIN_LEN, msg, msglen))
        return false;
    out->revision = t[8];
    out->interface_type = t[SPCR_OFF_TYPE];
    if (out->interface_type != ACPI_SPCR_16550 && out->interface_type != ACPI_SPCR_16450 &&
        out->interface_type != ACPI_SPCR_16550_GAS) {
        acpi_msg_add(msg, msglen, "acpi: SPCR: interface type 0x%02x is not a 16550-compatible "
                     "UART; not used", out->interface_type);
        return false;
    }
    if (!read_reg(t + SPCR_OFF_BASE, &out->reg, "SPCR", "UART", msg, msglen))
        return false;
    if (out->reg.space == ACPI_SPACE_IO) {
        out->reg_stride = 1;
    } else if (out->reg.space == ACPI_SPACE_MEMORY &&
               (out->reg.bit_width == 8 || out->reg.bit_width == 32)) {
        out->reg_stride = out->reg.bit_width / 8; /* MMIO8 or MMIO32 register layout */
    } else {
        acpi_msg_add(msg, msglen, "acpi: SPCR: UART registers in %s space, %u bits wide "
                     "(expected I/O, or memory with 8- or 32-bit registers); not used",
                     space_name(out->reg.space), out->reg.bit_width);
        return false;
    }
    if (!spcr_baud(t[SPCR_OFF_BAUD], &out->baud)) {
        acpi_msg_add(msg, msglen, "acpi: SPCR: baud rate code %u is not defined; not used",
                     t[SPCR_OFF_BAUD]);
        return false;
    }
    out->parity = t[SPCR_OFF_PARITY];
    out->stop_bits = t[SPCR_OFF_STOP];
    out->flow_control = t[SPCR_OFF_FLOW];
    out->terminal_type = t[SPCR_OFF_TERMINAL];
    if (out->revision >= SPCR_REV_UART_CLOCK)
        out->uart_clock_hz = acpi_rd32(t + SPCR_OFF_UART_CLOCK);
    if (out->parity != 0 || out->stop_bits != 1)
        acpi_msg_add(msg, msglen, "acpi: SPCR: parity %u, stop bits %u asked for; the console "
                     "runs 8N1", out->parity, out->stop_bits);
    return true;
}

/* ---- FADT ------------------------------------------------------------------ */

static void fadt_reset(const uint8_t *t, uint32_t len, struct acpi_fadt *out, char *msg,
                       size_t msglen)
{
    if (!(out->flags & ACPI_FADT_RESET_REG_SUP) || len < FADT_RESET_END) {
        acpi_msg_add(msg, msglen, "acpi: FACP: no reset register (%s)",
                     len < FADT_RESET_END ? "table too short" : "RESET_REG_SUP clear");
        return;
    }
    if (!read_reg(t + FADT_OFF_RESET_REG, &out->reset_reg, "FACP", "reset", msg, msglen))
        return;
    if (out->reset_reg.space != ACPI_SPACE_IO && out->reset_reg.space != ACPI_SPACE_MEMORY) {
        acpi_msg_add(msg, msglen, "acpi: FACP: reset register in %s space; not used",
                     space_name(out->reset_reg.space));
        return;
    }
    if (out->reset_reg.bit_width != 8 || out->reset_reg.bit_offset != 0) {
        acpi_msg_add(msg, msglen, "acpi: FACP: reset register is %u bits at bit %u (the "
                     "specification requires 8 at 0); not used", out->reset_reg.bit_width,
                     out->reset_reg.bit_offset);
        return;
    }
    out->reset_value = t[FADT_OFF_RESET_VALUE];
    out->has_reset = true;
}

/* The PM timer: X_PM_TMR_BLK when the table is long enough and fills it in,
 * else the 32-bit PM_TMR_BLK port. */
static void fadt_pm_timer(const uint8_t *t, uint32_t len, struct acpi_fadt *out, char *msg,
                          size_t msglen)
{
    if (out->flags & ACPI_FADT_HW_REDUCED) {
        acpi_msg_add(msg, msglen, "acpi: FACP: hardware-reduced ACPI: no PM timer");
        return;
    }
    uint64_t port = 0;
    if (len >= FADT_X_PM_TMR_END && acpi_rd64(t + FADT_OFF_X_PM_TMR_BLK + GAS_OFF_ADDRESS)) {
        struct acpi_reg r;
        if (!read_reg(t + FADT_OFF_X_PM_TMR_BLK, &r, "FACP", "PM timer", msg, msglen))
            return;
        if (r.space != ACPI_SPACE_IO) {
            acpi_msg_add(msg, msglen, "acpi: FACP: PM timer in %s space; not used",
                         space_name(r.space));
            return;
        }
        port = r.address;
    } else {
        port = acpi_rd32(t + FADT_OFF_PM_TMR_BLK);
        if (port == 0) {
            acpi_msg_add(msg, msglen, "acpi: FACP: no PM timer");
            return;
        }
        if (t[FADT_OFF_PM_TMR_LEN] != PM_TMR_LEN || port > IO_PORT_MAX) {
            acpi_msg_add(msg, msglen, "acpi: FACP: PM timer at port 0x%llx with length %u "
                         "(expected a port below 0x10000, length 4); not used",
                         (unsigned long long)port, t[FADT_OFF_PM_TMR_LEN]);
            return;
        }
    }
    out->has_pm_timer = true;
    out->pm_timer_port = (uint16_t)port;
    out->pm_timer_bits = out->flags & ACPI_FADT_TMR_VAL_EXT ? 32 : 24;
}

bool acpi_parse_fadt(const void *table, size_t avail, struct acpi_fadt *out, char *msg,
                     size_t msglen)
{
    const uint8_t *t = table;
    __builtin_memset(out, 0, sizeof *out);
    uint32_t len = acpi_table_check(table, avail, "FACP", ACPI_FADT_MIN_LEN, msg, msglen);
    if (len == 0)
        return false;
    out->revision = t[8];
    out->flags = acpi_rd32(t + FADT_OFF_FLAGS);
    fadt_reset(t, len, out, msg, msglen);
    fadt_pm_timer(t, len, out, msg, msglen);
    return true;
}

/* ---- HPET ------------------------------------------------------------------ */

bool acpi_parse_hpet(const void *table, size_t avail, struct acpi_hpet *out, char *msg,
                     size_t msglen)
{
    const uint8_t *t = table;
    __builtin_memset(out, 0, sizeof *out);
    if (!acpi_table_check(table, avail, "HPET", ACPI_HPET_LEN, msg, msglen))
        return false;
    /* Only the space and the address: the block's width and access fields
     * are left 0 by common firmware (QEMU's among it); its registers are
     * 64-bit by definition. */
    const uint8_t *g = t + HPET_OFF_BASE;
    uint64_t base = acpi_rd64(g + GAS_OFF_ADDRESS);
    if (g[GAS_OFF_SPACE] != ACPI_SPACE_MEMORY || base == 0 || base % ACPI_HPET_MMIO_LEN != 0) {
        acpi_msg_add(msg, msglen, "acpi: HPET: registers at address 0x%llx in %s space "
                     "(expected memory, non-zero, 1 KiB aligned); not used",
                     (unsigned long long)base, space_name(g[GAS_OFF_SPACE]));
        return false;
    }
    out->base = base;
    out->number = t[HPET_OFF_NUMBER];
    out->min_tick = acpi_rd16(t + HPET_OFF_MIN_TICK);
    return true;
}

uint64_t acpi_hpet_hz(uint64_t capabilities, char *msg, size_t msglen)
{
    uint64_t period_fs = capabilities >> HPET_CAP_PERIOD_SHIFT;
    if (period_fs == 0 || period_fs > HPET_PERIOD_MAX_FS) {
        acpi_msg_add(msg, msglen, "acpi: HPET: counter period %llu fs (expected 1..%llu); "
                     "not used", (unsigned long long)period_fs, HPET_PERIOD_MAX_FS);
        return 0;
    }
    return (FS_PER_S + period_fs / 2) / period_fs; /* nearest: 69841279 fs is 14318180 Hz */
}
