# The kernel: kernel.elf (freestanding C11 + GNU extensions, higher half,
# Multiboot2) and a hybrid ISO made by grub-mkrescue from the grub.cfg
# template, with ARGS as the kernel command line: it boots under BIOS and
# UEFI, from a CD, a USB stick or a BMC's virtual media.

## Kernel (mk/20-kernel.mk):
##   make / make kernel  build/kernel.elf and build/kernel.iso (command line = ARGS)
##   make run            boot build/kernel.iso with serial on this terminal
##                       (Ctrl-A X quits; SMP MEM ACCEL ICOUNT FIRMWARE TIMEOUT ARGS apply,
##                       TIMEOUT defaults to 300 s here)
##   FIRMWARE=bios|uefi  QEMU's firmware for run, debug, bench: SeaBIOS (default) or
##                       OVMF (a fresh copy of its variable store per boot)
##   make debug          the same, stopped at the first instruction with QEMU's gdb
##                       stub on GDB_PORT (1234); prints the gdb command to attach
##   DEBUG=1             build with -DMM_DEBUG=1 (expensive allocator checks)

KERNEL_ELF := $(BUILD)/kernel.elf
KERNEL_ISO := $(BUILD)/kernel.iso
KERNEL_OBJDIR := $(BUILD)/kernel-obj
KERNEL_LDS := arch/x86_64/linker.ld
GDB_PORT ?= 1234
FIRMWARE ?= bios

KERNEL_SRCS := $(wildcard kernel/*.c lib/*.c arch/x86_64/*.c arch/x86_64/*.S \
                          arch/x86_64/smp/*.c arch/x86_64/smp/*.S mm/*.c bench/*.c)
KERNEL_OBJS := $(patsubst %,$(KERNEL_OBJDIR)/%.o,$(KERNEL_SRCS))

KERNEL_COMMIT := $(or $(shell git describe --always --dirty 2>/dev/null),unknown)

KERNEL_CC := gcc
KERNEL_LD := ld
KERNEL_CFLAGS := -std=gnu11 -ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
                 -fno-stack-protector -fno-omit-frame-pointer -O2 -g -Wall -Wextra -Werror \
                 $(INCLUDE_ROOTS) -DPLAT_IMPL_H='"arch/x86_64/platform_impl.h"' \
                 -DKERNEL_COMMIT='"$(KERNEL_COMMIT)"'
ifeq ($(DEBUG),1)
KERNEL_CFLAGS += -DMM_DEBUG=1
endif
KERNEL_LDFLAGS := -nostdlib -z max-page-size=0x1000 -T $(KERNEL_LDS)

# Objects depend on the flags they were built with: a new DEBUG value or
# commit rebuilds them (the file changes only when the flags do).
KERNEL_FLAGS_FILE := $(KERNEL_OBJDIR)/flags
KERNEL_FLAGS_TEXT := $(KERNEL_CC) $(KERNEL_CFLAGS) $(KERNEL_LD) $(KERNEL_LDFLAGS)
ifneq ($(file <$(KERNEL_FLAGS_FILE)),$(KERNEL_FLAGS_TEXT))
$(shell mkdir -p $(KERNEL_OBJDIR))
$(file >$(KERNEL_FLAGS_FILE),$(KERNEL_FLAGS_TEXT))
endif

ALL_TARGETS += $(KERNEL_ELF) $(KERNEL_ISO)

$(KERNEL_OBJDIR)/%.c.o: %.c $(KERNEL_FLAGS_FILE) | deps
	@mkdir -p $(@D)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -MMD -MP -c -o $@ $<

$(KERNEL_OBJDIR)/%.S.o: %.S $(KERNEL_FLAGS_FILE) | deps
	@mkdir -p $(@D)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -MMD -MP -c -o $@ $<

# grub-file checks the Multiboot2 header where GRUB will look for it.
$(KERNEL_ELF): $(KERNEL_OBJS) $(KERNEL_LDS) | deps
	$(KERNEL_LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS)
	@grub-file --is-x86-multiboot2 $@ || \
	    { echo "$@: no valid Multiboot2 header in the first 32 KiB" >&2; rm -f $@; exit 1; }

-include $(KERNEL_OBJS:.o=.d)

QEMU_VARS = --smp $(call sq,$(SMP)) --mem $(call sq,$(MEM)) \
            --accel $(call sq,$(ACCEL)) --icount $(call sq,$(ICOUNT)) \
            --cpu $(call sq,$(CPU)) --numa $(call sq,$(NUMA)) \
            --firmware $(call sq,$(FIRMWARE))

# qemu.py rebuilds the ISO only when the kernel, the template or ARGS changed.
$(KERNEL_ISO): $(KERNEL_ELF) grub.cfg scripts/qemu.py FORCE | deps
	@$(PY) scripts/qemu.py --build-iso $@ --kernel $(KERNEL_ELF) --cmdline $(call sq,$(ARGS))

.PHONY: kernel iso run debug qemu-check-vars FORCE
FORCE:
kernel: $(KERNEL_ELF) $(KERNEL_ISO)
iso: $(KERNEL_ISO)

# Make variables are checked before anything is built or booted.
qemu-check-vars: | deps
	@$(PY) scripts/qemu.py --check $(QEMU_VARS) --timeout $(call sq,$(TIMEOUT))

run: qemu-check-vars
	@$(MAKE) --no-print-directory $(KERNEL_ISO)
	@$(PY) scripts/qemu.py --iso $(KERNEL_ISO) $(QEMU_VARS) --interactive \
	    --timeout $(call sq,$(or $(TIMEOUT),300)) --log $(BUILD)/run.log

debug: qemu-check-vars
	@$(MAKE) --no-print-directory $(KERNEL_ISO)
	@$(PY) scripts/qemu.py --iso $(KERNEL_ISO) $(QEMU_VARS) --interactive \
	    --gdb $(call sq,$(GDB_PORT)) --symbols $(KERNEL_ELF) \
	    --timeout $(call sq,$(or $(TIMEOUT),3600)) --log $(BUILD)/debug.log
