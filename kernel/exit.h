/*
 * exit.h - ending the run: the verdict as the log's last line, then the
 * architecture's exit (on x86_64: QEMU's isa-debug-exit device at port 0xf4,
 * an ACPI reset or a halt, chosen by exit=; arch/x86_64/exit.c).
 *
 * The last line of every run is "@@VERDICT <name>", so a serial log captured
 * on a machine without an exit device still says how the run ended.  Under
 * QEMU, writing v makes QEMU exit with status (v << 1) | 1; the host maps the
 * status back to the same verdict (scripts/qemu.py, README "Exit codes"):
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

/* Prints "exit: code 0x.. (<verdict>), <how>" and "@@VERDICT <verdict>",
 * drains the serial transmitter and ends the run (arch_exit). */
_Noreturn void kernel_exit(enum exit_code code);

/* "pass", "check-failed", "panic", "config-error" (scripts/qemu.py VERDICTS). */
const char *exit_verdict_name(enum exit_code code);

#endif /* KERNEL_EXIT_H */
