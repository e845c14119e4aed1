/*
 * uart.c - polled 16550 UART console on an I/O port or MMIO registers, and
 * the one switch from COM1 to the port the command line or SPCR names (the
 * rules are in uart.h).
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/uart.h"
#include "arch/x86_64/x86.h"
#include "kernel/console.h"
#include "lib/cmdline.h"
#include "lib/fmt.h"
#include "lib/str.h"
#include "plat/platform.h"

#define UART_DATA 0      /* THR (write) / RBR (read); DLL when DLAB=1 */
#define UART_IER 1       /* interrupt enable; DLM when DLAB=1 */
#define UART_FCR 2       /* FIFO control */
#define UART_LCR 3       /* line control */
#define UART_MCR 4       /* modem control */
#define UART_LSR 5       /* line status */
#define UART_REGS 8

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR 0x07 /* enable FIFOs, clear RX and TX */
#define MCR_DTR_RTS 0x03
#define LSR_THR_EMPTY 0x20    /* room for a byte */
#define LSR_TX_IDLE 0x40      /* holding and shift registers empty */

#define UART_STD_CLOCK_HZ 1843200u /* the PC UART crystal: 115200 baud at divisor 1 */
#define UART_DIVISOR_MAX 0xffffu
#define DEFAULT_BAUD 115200u
#define BAUD_MIN 1200u
/* Bound on status polls per byte so a missing or wedged UART cannot hang us. */
#define UART_POLL_LIMIT 1000000

static const uint16_t com_ports[] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};

enum uart_kind { UART_IO, UART_MMIO8, UART_MMIO32 };

struct uart {
    enum uart_kind kind;
    uint64_t base;         /* I/O port or physical address of register 0 */
    volatile uint8_t *mmio; /* mapped registers (MMIO kinds) */
    uint32_t baud;         /* 0: the firmware's divisor is kept */
    uint32_t clock_hz;
};

static struct uart port = {UART_IO, 0x3f8, NULL, DEFAULT_BAUD, UART_STD_CLOCK_HZ};

/* Everything sent before uart_select settled the console, for the replay. */
static char replay[UART_REPLAY_MAX];
static unsigned replay_len, replay_dropped;
static bool settled;

static uint8_t reg_read(const struct uart *u, unsigned reg)
{
    switch (u->kind) {
    case UART_MMIO8:
        return u->mmio[reg];
    case UART_MMIO32:
        return (uint8_t)*(volatile uint32_t *)(u->mmio + reg * 4);
    default:
        return inb((uint16_t)(u->base + reg));
    }
}

static void reg_write(const struct uart *u, unsigned reg, uint8_t v)
{
    switch (u->kind) {
    case UART_MMIO8:
        u->mmio[reg] = v;
        break;
    case UART_MMIO32:
        *(volatile uint32_t *)(u->mmio + reg * 4) = v;
        break;
    default:
        outb((uint16_t)(u->base + reg), v);
        break;
    }
}

static void wait_lsr(const struct uart *u, uint8_t lsr_bits)
{
    for (unsigned i = 0; i < UART_POLL_LIMIT; i++) {
        if ((reg_read(u, UART_LSR) & lsr_bits) == lsr_bits)
            return;
        plat_pause();
    }
}

static void program(const struct uart *u)
{
    reg_write(u, UART_IER, 0);
    if (u->baud != 0) {
        uint32_t divisor = u->clock_hz / (16 * u->baud);
        reg_write(u, UART_LCR, LCR_DLAB);
        reg_write(u, UART_DATA, (uint8_t)(divisor & 0xff));
        reg_write(u, UART_IER, (uint8_t)(divisor >> 8));
    }
    reg_write(u, UART_LCR, LCR_8N1);
    reg_write(u, UART_FCR, FCR_ENABLE_CLEAR);
    reg_write(u, UART_MCR, MCR_DTR_RTS);
}

static void send(const struct uart *u, char c)
{
    wait_lsr(u, LSR_THR_EMPTY);
    reg_write(u, UART_DATA, (uint8_t)c);
}

void uart_init(void)
{
    program(&port);
}

void uart_putc(char c)
{
    if (!settled) {
        if (replay_len < UART_REPLAY_MAX)
            replay[replay_len++] = c;
        else
            replay_dropped++;
    }
    send(&port, c);
}

void uart_flush(void)
{
    wait_lsr(&port, LSR_THR_EMPTY | LSR_TX_IDLE);
}

/* ---- choosing the console -------------------------------------------------- */

static const char *kind_name(enum uart_kind kind)
{
    return kind == UART_IO ? "I/O port" : kind == UART_MMIO8 ? "MMIO" : "MMIO32";
}

static void describe(const struct uart *u, char *buf, size_t len)
{
    char baud[24];
    if (u->baud)
        fmt_snprintf(baud, sizeof baud, "%u baud", u->baud);
    else
        fmt_snprintf(baud, sizeof baud, "baud as the firmware set it");
    fmt_snprintf(buf, len, "16550 at %s 0x%llx, %s", kind_name(u->kind),
                 (unsigned long long)u->base, baud);
}

/* "0x2f8" or "2f8" (hex) -> value; false on anything else. */
static bool parse_hex(const char *s, size_t n, uint64_t *out)
{
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    if (n == 0 || n > 16)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

static bool parse_dec(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > UINT32_MAX / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool prefix(const char *s, size_t n, const char *p)
{
    size_t len = str_len(p);
    if (n < len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] != p[i])
            return false;
    return true;
}

/* A baud rate the standard clock can make exactly, or 0 (keep). */
static bool baud_ok(uint32_t baud)
{
    return baud == 0 ||
           (baud >= BAUD_MIN && baud <= DEFAULT_BAUD && DEFAULT_BAUD % baud == 0);
}

/* console=<port>[,<baud>] (uart.h); false when the value is malformed. */
static bool parse_console(const char *v, struct uart *u)
{
    size_t n = 0;
    while (v[n] && v[n] != ',')
        n++;
    *u = (struct uart){UART_IO, 0, NULL, DEFAULT_BAUD, UART_STD_CLOCK_HZ};
    if (n == 4 && prefix(v, n, "com") && v[3] >= '1' && v[3] <= '4') {
        u->base = com_ports[v[3] - '1'];
    } else if (prefix(v, n, "io:")) {
        if (!parse_hex(v + 3, n - 3, &u->base) || u->base > 0xffff - (UART_REGS - 1))
            return false;
    } else if (prefix(v, n, "mmio32:")) {
        u->kind = UART_MMIO32;
        if (!parse_hex(v + 7, n - 7, &u->base) || u->base == 0 || u->base % 4)
            return false;
    } else if (prefix(v, n, "mmio:")) {
        u->kind = UART_MMIO8;
        if (!parse_hex(v + 5, n - 5, &u->base) || u->base == 0)
            return false;
    } else {
        return false;
    }
    if (v[n] == ',' && (!parse_dec(v + n + 1, &u->baud) || !baud_ok(u->baud)))
        return false;
    return true;
}

/* The SPCR's UART, when the table is there and describes one this driver
 * can use; its problems are printed. */
static bool from_spcr(struct uart *u)
{
    uint32_t len;
    const void *t = acpi_table("SPCR", &len);
    if (t == NULL)
        return false;
    struct acpi_spcr s;
    char msg[512] = "";
    bool ok = acpi_parse_spcr(t, len, &s, msg, sizeof msg);
    acpi_print_lines(msg);
    if (!ok)
        return false;
    *u = (struct uart){s.reg.space == ACPI_SPACE_IO ? UART_IO
                       : s.reg_stride == 4          ? UART_MMIO32
                                                    : UART_MMIO8,
                       s.reg.address, NULL, s.baud,
                       s.uart_clock_hz ? s.uart_clock_hz : UART_STD_CLOCK_HZ};
    if (u->baud != 0 && (u->clock_hz / (16 * u->baud) == 0 ||
                         u->clock_hz / (16 * u->baud) > UART_DIVISOR_MAX)) {
        kprintf("acpi: SPCR: %u baud cannot be made from a %u Hz UART clock; keeping the "
                "firmware's divisor\n", u->baud, u->clock_hz);
        u->baud = 0;
    }
    return true;
}

static bool same_port(const struct uart *a, const struct uart *b)
{
    return a->kind == b->kind && a->base == b->base;
}

void uart_select(struct cmdline *cl)
{
    struct uart want;
    const char *source;
    const char *arg = cmdline_str(cl, "console");
    if (arg && !parse_console(arg, &want)) {
        cmdline_reject(cl, "console", "com1..com4, io:<hex>, mmio:<hex> or mmio32:<hex>, "
                       "optionally ,<baud> (0 = keep, or 1200..115200 dividing 115200)");
        arg = NULL;
    }
    if (arg)
        source = "console=";
    else if (from_spcr(&want))
        source = "ACPI SPCR";
    else {
        want = port;
        source = "default, no usable SPCR table";
    }
    if (want.kind != UART_IO)
        want.mmio = paging_map_mmio(want.base, UART_REGS * 4);
    char what[96];
    describe(&want, what, sizeof what);
    if (same_port(&want, &port) && (want.baud == port.baud || want.baud == 0)) {
        want.baud = port.baud; /* "keep" on the port already programmed at boot */
        settled = true;
        kprintf("console: %s (%s)\n", what, source);
        return;
    }
    /* Another port, or this one at another rate (the early lines reached a
     * reader at that rate as noise): the log starts again from its first
     * line, and a reader at the new setting gets one clean copy. */
    if (same_port(&want, &port))
        kprintf("console: switching to %u baud (%s); the log starts again from its first "
                "line at that rate\n", want.baud, source);
    else
        kprintf("console: moving to the %s (%s); the log continues there, from its first "
                "line\n", what, source);
    uart_flush();
    settled = true;
    port = want;
    program(&port);
    for (unsigned i = 0; i < replay_len; i++)
        send(&port, replay[i]);
    if (replay_dropped)
        kprintf("console: the first %u bytes of the boot log were replayed here, %u more "
                "did not fit (UART_REPLAY_MAX)\n", replay_len, replay_dropped);
}
