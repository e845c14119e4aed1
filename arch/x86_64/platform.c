/*
 * platform.c - the kernel's out-of-line half of platform.h.  plat_run_on_cpus
 * and plat_smp_info live with the SMP code (arch/x86_64/smp/).
 */
#include <stdarg.h>

#include "kernel/console.h"
#include "lib/fmt.h"
#include "kernel/panic.h"
#include "plat/platform.h"
#include "arch/x86_64/tsc.h"

uint64_t plat_tsc_khz(void)
{
    return tsc_khz();
}

void plat_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

void plat_write(const char *buf, size_t len)
{
    console_write(buf, len);
}

int plat_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return fmt_vsnprintf(buf, size, fmt, ap);
}

_Noreturn void plat_panic(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_vat(file, line, fmt, ap);
}
