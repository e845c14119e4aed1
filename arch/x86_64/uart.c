/*
 * uart.c - polled 16550 UART driver for COM1.
 */
#include <stdint.h>

#include "arch/x86_64/uart.h"
#include "arch/x86_64/x86.h"
#include "plat/platform.h"

#define COM1 0x3f8
#define UART_DATA 0      /* THR (write) / RBR (read); DLL when DLAB=1 */
#define UART_IER 1       /* interrupt enable; DLM when DLAB=1 */
#define UART_FCR 2       /* FIFO control */
#define UART_LCR 3       /* line control */
#define UART_MCR 4       /* modem control */
#define UART_LSR 5       /* line status */

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR 0x07 /* enable FIFOs, clear RX and TX */
#define MCR_DTR_RTS 0x03
#define LSR_THR_EMPTY 0x20    /* room for a byte */
#define LSR_TX_IDLE 0x40      /* holding and shift registers empty */

#define UART_CLOCK_DIVISOR 1  /* 115200 baud from the 1.8432 MHz clock */
/* Bound on status polls per byte so a missing or wedged UART cannot hang us. */
#define UART_POLL_LIMIT 1000000

static void uart_wait(uint8_t lsr_bits)
{
    for (unsigned i = 0; i < UART_POLL_LIMIT; i++) {
        if ((inb(COM1 + UART_LSR) & lsr_bits) == lsr_bits)
            return;
        plat_pause();
    }
}

void uart_init(void)
{
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DATA, UART_CLOCK_DIVISOR & 0xff);
    outb(COM1 + UART_IER, UART_CLOCK_DIVISOR >> 8);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

void uart_putc(char c)
{
    uart_wait(LSR_THR_EMPTY);
    outb(COM1 + UART_DATA, (uint8_t)c);
}

void uart_flush(void)
{
    uart_wait(LSR_THR_EMPTY | LSR_TX_IDLE);
}
