/*
 * pic.c - the legacy 8259 interrupt controllers, silenced, and the check that
 * no interrupt is pending on a CPU (plat_irq_pending).
 *
 * The kernel takes no device interrupt: every CPU runs with IF clear and
 * every local APIC LVT entry masked.  The two 8259s are still wired to the
 * BSP's LINT0 (firmware leaves LVT0 in ExtINT "virtual wire" mode), and after
 * reset they are unmasked: the PIT's IRQ0 and the UART's IRQ4 then stay
 * pending on CPU 0 for the whole run.  With IF clear nothing is delivered,
 * but the request is not harmless: real hardware raises spurious interrupts
 * from it, and QEMU's TCG, which sees a pending hard interrupt, takes its
 * global lock on every return to its main loop on that CPU, so CPU 0 runs
 * the same code slower than the APs.
 *
 * pic_init() therefore reprograms both controllers the way a PC kernel does
 * (Intel 8259A datasheet, the ICW1-ICW4 sequence): vectors moved to 0x20-0x2f,
 * away from the CPU exceptions 0x00-0x1f that the BIOS default (0x08-0x0f)
 * would alias if an interrupt ever got through, the slave cascaded on IRQ2,
 * 8086 mode, and then every line masked (OCW1 = 0xff).
 *
 * plat_irq_pending() counts what could still interrupt the calling CPU: the
 * set bits of its local APIC's IRR (vectors accepted but not yet serviced)
 * and, on CPU 0, the 8259 lines that are requested (IRR, read with OCW3) and
 * not masked.  The benchmark harness calls it before every timed run.
 */
#include <stdint.h>

#include "arch/x86_64/apic.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/x86.h"
#include "plat/platform.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

#define ICW1_ICW4 0x01       /* ICW4 follows */
#define ICW1_INIT 0x10       /* start of the initialisation sequence */
#define ICW3_MASTER_SLAVE_ON_IRQ2 (1u << 2)
#define ICW3_SLAVE_ID 2      /* the slave's cascade identity: master's IRQ2 */
#define ICW4_8086 0x01
#define OCW3_READ_IRR 0x0a
#define OCW1_MASK_ALL 0xff

/* Port 0x80 is the PC's unused POST-code port: a write to it is the classic
 * ~1 us delay older 8259s need between initialisation words. */
static void io_wait(void)
{
    outb(0x80, 0);
}

static void pic_write(uint16_t port, uint8_t v)
{
    outb(port, v);
    io_wait();
}

void pic_init(void)
{
    pic_write(PIC1_CMD, ICW1_INIT | ICW1_ICW4);
    pic_write(PIC2_CMD, ICW1_INIT | ICW1_ICW4);
    pic_write(PIC1_DATA, PIC_MASTER_VECTOR);  /* ICW2: vector base */
    pic_write(PIC2_DATA, PIC_SLAVE_VECTOR);
    pic_write(PIC1_DATA, ICW3_MASTER_SLAVE_ON_IRQ2);
    pic_write(PIC2_DATA, ICW3_SLAVE_ID);
    pic_write(PIC1_DATA, ICW4_8086);
    pic_write(PIC2_DATA, ICW4_8086);
    pic_write(PIC1_DATA, OCW1_MASK_ALL);
    pic_write(PIC2_DATA, OCW1_MASK_ALL);
}

/* Lines the 8259s request and would pass on to the CPU (IRR and not IMR);
 * bit 8+n is the slave's line n. */
unsigned pic_unmasked_requests(void)
{
    outb(PIC1_CMD, OCW3_READ_IRR);
    outb(PIC2_CMD, OCW3_READ_IRR);
    unsigned irr = inb(PIC1_CMD) | (unsigned)inb(PIC2_CMD) << 8;
    unsigned imr = inb(PIC1_DATA) | (unsigned)inb(PIC2_DATA) << 8;
    return irr & ~imr & 0xffffu;
}

unsigned plat_irq_pending(void)
{
    unsigned pending = apic_irr_count();
    if (plat_cpu_index() == 0)
        for (unsigned lines = pic_unmasked_requests(); lines; lines &= lines - 1)
            pending++;
    return pending;
}
