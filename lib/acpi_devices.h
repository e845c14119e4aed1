/*
 * acpi_devices.h - validating parsers for the fixed-layout ACPI tables that
 * describe the devices a kernel needs on a machine without QEMU's helpers:
 *   SPCR  the serial console the firmware (and a BMC's serial-over-LAN) uses;
 *   FACP  (the FADT): the reset register and the ACPI PM timer;
 *   HPET  the High Precision Event Timer's register block.
 * Portable, like acpi_tables.h: the kernel hands in tables found by
 * acpi_scan(), the host tests crafted bytes.
 *
 * Each parser checks the table (acpi_table_check: signature, length against
 * the readable bytes and the minimum the fields need, checksum), then every
 * field it returns: an address space it cannot use, a zero address, a
 * register width that is not 8/16/32/64 bits, an access size that does not
 * match, or a value outside what the specification allows makes the device
 * unusable, and the parser says so in one "acpi: ..." line and returns false
 * (or leaves that one device out, for the FADT, which describes two).  A
 * caller never receives an address it would have to second-guess.
 *
 * Layouts: ACPI 6.5 sections 5.2.3.2 (Generic Address Structure), 5.2.9
 * (FADT); Microsoft "Serial Port Console Redirection Table" revision 4;
 * IA-PC HPET specification 1.0a section 3.2.4.
 */
#ifndef LIB_ACPI_DEVICES_H
#define LIB_ACPI_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Generic Address Structure ---------------------------------------------- */

#define ACPI_GAS_LEN 12

enum acpi_space {
    ACPI_SPACE_MEMORY = 0,
    ACPI_SPACE_IO = 1,
    ACPI_SPACE_PCI_CONFIG = 2,
};

/* A register: where it is and how wide an access it takes. */
struct acpi_reg {
    uint8_t space;      /* enum acpi_space */
    uint8_t bit_width;  /* register width: 8, 16, 32 or 64 */
    uint8_t bit_offset;
    uint8_t access_bytes; /* 1, 2, 4 or 8 (from the GAS access size, or the width) */
    uint64_t address;
};

/* ---- SPCR ---------------------------------------------------------------- */

#define ACPI_SPCR_MIN_LEN 80 /* revisions 1 and 2; 3 fills in the UART clock */

/* Interface types this kernel drives: the 16550 family. */
enum acpi_spcr_type {
    ACPI_SPCR_16550 = 0x00,       /* full 16550 */
    ACPI_SPCR_16450 = 0x01,       /* 16550 subset (no FIFO control needed) */
    ACPI_SPCR_16550_GAS = 0x12,   /* 16550-compatible, register layout from the GAS */
};

struct acpi_spcr {
    uint8_t revision;
    uint8_t interface_type;  /* enum acpi_spcr_type */
    struct acpi_reg reg;     /* I/O port or MMIO base of register 0 */
    unsigned reg_stride;     /* bytes between registers: 1 (I/O, MMIO8) or 4 (MMIO32) */
    uint32_t baud;           /* 0: keep what the firmware programmed */
    uint32_t uart_clock_hz;  /* 0: not given (the standard 1.8432 MHz) */
    uint8_t parity, stop_bits, flow_control, terminal_type;
};

/* False (message appended) for a table that fails its checks, an interface
 * type outside the 16550 family, an address space other than I/O or memory,
 * a zero address, an I/O port above 0xffff, or an unknown baud rate code. */
bool acpi_parse_spcr(const void *table, size_t avail, struct acpi_spcr *out, char *msg,
                     size_t msglen);

/* ---- FADT ("FACP") ----------------------------------------------------------- */

#define ACPI_FADT_MIN_LEN 116         /* ACPI 1.0: up to the flags */
#define ACPI_FADT_PM_TMR_HZ 3579545u  /* the ACPI PM timer's fixed rate */
#define ACPI_FADT_TMR_VAL_EXT (1u << 8)     /* the PM timer counts 32 bits, not 24 */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED (1u << 20)     /* no fixed hardware: no PM timer */

struct acpi_fadt {
    uint8_t revision;
    uint32_t flags;
    bool has_reset;          /* the reset register is supported and usable */
    struct acpi_reg reset_reg;
    uint8_t reset_value;
    bool has_pm_timer;       /* an I/O-port PM timer is described */
    uint16_t pm_timer_port;
    unsigned pm_timer_bits;  /* 24 or 32 */
};

/* False when the table itself fails its checks.  Otherwise true, with
 * has_reset / has_pm_timer false (and a message saying why) for a device
 * that is absent or described in a way this kernel cannot use (a reset
 * register in PCI configuration space, a memory-mapped PM timer). */
bool acpi_parse_fadt(const void *table, size_t avail, struct acpi_fadt *out, char *msg,
                     size_t msglen);

/* ---- HPET ------------------------------------------------------------------ */

#define ACPI_HPET_LEN 56
#define ACPI_HPET_MMIO_LEN 0x400 /* the register block */

struct acpi_hpet {
    uint64_t base;        /* physical address of the register block */
    uint8_t number;       /* HPET sequence number */
    uint16_t min_tick;    /* minimum clock ticks for periodic mode */
};

/* False (message appended) for a table that fails its checks, a register
 * block outside memory space, at 0, or not aligned to its 1 KiB size. */
bool acpi_parse_hpet(const void *table, size_t avail, struct acpi_hpet *out, char *msg,
                     size_t msglen);

/* HPET registers (offsets into the block) and the capability fields the
 * calibration needs. */
#define HPET_REG_CAPABILITIES 0x000
#define HPET_REG_CONFIG 0x010
#define HPET_REG_COUNTER 0x0f0
#define HPET_CAP_COUNT_64 (1ull << 13)
#define HPET_CAP_PERIOD_SHIFT 32           /* femtoseconds per tick */
#define HPET_CONFIG_ENABLE 1ull
#define HPET_PERIOD_MAX_FS 100000000ull    /* the specification's bound: 100 ns */

/* The counter's rate from the capabilities register, or 0 (message
 * appended) for a period of 0 or above HPET_PERIOD_MAX_FS, which a
 * working HPET never reports (all-ones reads: no device). */
uint64_t acpi_hpet_hz(uint64_t capabilities, char *msg, size_t msglen);

#endif /* LIB_ACPI_DEVICES_H */
