# Host unit tests of the portable libraries in lib/: fmt.c (printf, compared
# byte for byte with glibc), cmdline.c, mb2.c (crafted Multiboot2
# structures), acpi_tables.c (crafted RSDP/RSDT/XSDT, the record walk; the
# MADT and SRAT parsers on top of it are suite-arch, mk/60-smp.mk),
# acpi_devices.c (crafted SPCR, FADT, HPET), ktap.c (the KTAP lines, byte for
# byte), pvclock.h (the TSC rate from a kvmclock scale) and phys_range.h
# (sorting and joining memory ranges).  Each test program
# tests/lib/test_<module>.c is built twice: plain with HOST_CFLAGS, and with
# AddressSanitizer + UBSan so that an out-of-bounds read of a malformed boot
# structure fails the suite instead of passing by luck.

## Library tests (lib/ on the host):
##   make suite-lib      build and run them, plain and under ASan+UBSan
##                       (results: lib/<test> and lib/san/<test>)

LIB_SRCS  := $(wildcard lib/*.c)
LIB_HDRS  := $(wildcard lib/*.h include/plat/*.h) tests/harness/check.h tests/host/platform_impl.h \
             tests/lib/acpi_builder.h
LIB_PROGS := fmt cmdline mb2 acpi_tables acpi_devices ktap pvclock phys_range
LIB_DIR   := $(BUILD)/tests/lib
# The table walk reports through plat_snprintf: the host platform provides it.
LIB_LINK  := $(LIB_SRCS) tests/host/platform_host.c

# check_printf=0: the tests hand glibc formats such as "%5%" on purpose, which
# ASan's printf interceptor would otherwise comment on.
LIB_SAN_ENV := $(subst ASAN_OPTIONS=,ASAN_OPTIONS=check_printf=0:,$(SAN_ENV))

$(eval $(call host_test_suite,lib,$(LIB_DIR),tests/lib,$(LIB_PROGS),$(LIB_LINK),$(LIB_HDRS),$(LIB_SAN_ENV)))
