/*
 * uart.h - the serial console: a polled 16550-compatible UART, 8N1.
 *
 * Which UART: arch_early_init() starts on COM1 (I/O port 0x3f8, 115200
 * baud), so kprintf works from the first line.  Once the command line and
 * the ACPI tables can be read (arch_configure), uart_select() picks the
 * console for the rest of the run, in this order:
 *   1. console=<port>[,<baud>] on the command line, <port> one of
 *      com1..com4, io:<hex port>, mmio:<hex address> (8-bit registers, one
 *      byte apart) or mmio32:<hex address> (32-bit registers, 4 bytes
 *      apart); <baud> 0 keeps the firmware's divisor, else 1200..115200
 *      dividing 115200 (the 1.8432 MHz clock);
 *   2. the ACPI SPCR table (the port firmware and BMC serial-over-LAN use):
 *      I/O or MMIO, its baud rate and UART clock;
 *   3. COM1, as before.
 * The switch loses and duplicates nothing: every byte sent before it is kept
 * (up to UART_REPLAY_MAX), the last line on the old port says where the
 * console went, then the new port is programmed and receives the kept bytes
 * first, so its log reads as if it had been the console from the start.
 * The same port at another baud rate is a switch too (a reader at the new
 * rate saw the early lines as noise); a capture that does not care about the
 * rate (QEMU's) then holds the start of the log twice, and make ingest takes
 * the second copy, a run of its own.  A replay that did not fit says how
 * many bytes were dropped.
 *
 * The console (kernel/console.c) writes through arch_serial_putc; every
 * wait is bounded, so a missing or wedged UART cannot hang the kernel.
 */
#ifndef ARCH_X86_64_UART_H
#define ARCH_X86_64_UART_H

struct cmdline;

#define UART_REPLAY_MAX 8192 /* the boot log before the switch is ~1 KiB */

/* Programs COM1: no interrupts, FIFOs on, 115200 baud. */
void uart_init(void);

/* Reads console=, then SPCR (acpi_init must have run), and moves the
 * console there; prints one "console:" line saying which port and why.  A
 * bad console= value is recorded in cl (exit 39 at cmdline_finish). */
void uart_select(struct cmdline *cl);

/* Waits (bounded) for room, then sends one byte. */
void uart_putc(char c);

/* Waits (bounded) until the holding and shift registers are empty. */
void uart_flush(void);

#endif /* ARCH_X86_64_UART_H */
