/*
 * uart.h - the 16550 UART on COM1 (I/O port 0x3f8), 115200 8N1, polled.
 * The console (kernel/console.c) writes through it via arch_serial_putc.
 */
#ifndef ARCH_X86_64_UART_H
#define ARCH_X86_64_UART_H

/* Programs the UART: no interrupts, FIFOs on, 115200 baud. */
void uart_init(void);

/* Waits (bounded: a missing or wedged UART cannot hang the kernel) for
 * room, then sends one byte. */
void uart_putc(char c);

/* Waits (bounded) until the holding and shift registers are empty. */
void uart_flush(void);

#endif /* ARCH_X86_64_UART_H */
