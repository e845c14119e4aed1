/*
 * exit.h - ending the run through QEMU's isa-debug-exit device (port 0xf4).
 *
 * Writing v makes QEMU exit with status (v << 1) | 1; the host maps the
 * status back to a verdict (scripts/qemu.py, README "Exit codes"):
 *   EXIT_PASS          0x10 -> 33  every benchmark and invariant check passed
 *   EXIT_CHECK_FAILED  0x11 -> 35  a check or invariant failed
 *   EXIT_PANIC         0x12 -> 37  panic or CPU exception
 *   EXIT_CONFIG_ERROR  0x13 -> 39  bad configuration (kernel command line)
 */
#ifndef KERNEL_EXIT_H
#define KERNEL_EXIT_H

enum exit_code {
    EXIT_PASS = 0x10,
    EXIT_CHECK_FAILED = 0x11,
    EXIT_PANIC = 0x12,
    EXIT_CONFIG_ERROR = 0x13,
};

/* Drains the serial transmitter and ends the run (arch_exit: on x86_64 QEMU's
 * isa-debug-exit; a halt when the device is absent, as on real hardware). */
_Noreturn void kernel_exit(enum exit_code code);

#endif /* KERNEL_EXIT_H */
