/*
 * idle.S - the halt of an idle AP (smp_idle=halt, see smp_dispatch.c).
 *
 * void smp_idle_halt(const atomic_uint_fast64_t *seq, uint64_t seen)
 * halts unless *seq != seen.  Interrupts are off, so only an NMI (or INIT)
 * ends the hlt.  An NMI that arrives after the caller decided to halt but
 * before the hlt executes would otherwise be lost: the NMI handler moves any
 * RIP in [smp_idle_window_start, smp_idle_window_end) to
 * smp_idle_window_end, so the caller re-checks instead of sleeping.
 */
    .text
    .globl smp_idle_halt, smp_idle_window_start, smp_idle_window_end
smp_idle_halt:
smp_idle_window_start:
    cmpq %rsi, (%rdi)
    jne smp_idle_window_end
    hlt
smp_idle_window_end:
    ret

    .section .note.GNU-stack, "", @progbits
