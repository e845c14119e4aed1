# Host unit tests of the kernel's portable pieces: kernel/fmt.c (printf,
# compared byte for byte with glibc), kernel/cmdline.c and kernel/mb2.c
# (crafted Multiboot2 structures).  Each test program is built twice: plain
# with HOST_CFLAGS, and with AddressSanitizer + UBSan so that an out-of-bounds
# read of a malformed boot structure fails the suite instead of passing by luck.

## Unit tests (kernel/fmt.c, cmdline.c, mb2.c on the host):
##   make suite-unit     build and run them, plain and under ASan+UBSan
##                       (results: unit/<test> and unit/san/<test>)

UNIT_SRCS  := kernel/fmt.c kernel/cmdline.c kernel/mb2.c
UNIT_HDRS  := kernel/fmt.h kernel/cmdline.h kernel/mb2.h tests/check.h
UNIT_PROGS := fmt cmdline mb2
UNIT_DIR   := $(BUILD)/unit
UNIT_SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

UNIT_BINS     := $(UNIT_PROGS:%=$(UNIT_DIR)/test_%)
UNIT_SAN_BINS := $(UNIT_PROGS:%=$(UNIT_DIR)/san/test_%)

$(UNIT_DIR)/test_%: tests/unit/test_%.c $(UNIT_SRCS) $(UNIT_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -Itests -o $@ $< $(UNIT_SRCS)

$(UNIT_DIR)/san/test_%: tests/unit/test_%.c $(UNIT_SRCS) $(UNIT_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(UNIT_SAN_CFLAGS) -Itests -o $@ $< $(UNIT_SRCS)

# A test program exits 0 (all passed) or 1 (a FAIL line says what failed).
# A sanitizer report exits 86 and a crash by signal 128+n: those get their own
# FAIL line, so a program that dies part-way can never look like a pass.
# check_printf=0: the tests hand glibc formats such as "%5%" on purpose, which
# ASan's printf interceptor would otherwise comment on.
UNIT_SAN_ENV := ASAN_OPTIONS=check_printf=0:exitcode=86 \
                UBSAN_OPTIONS=print_stacktrace=1:exitcode=86

define unit_run
out=$(UNIT_DIR)/$(2)test_$(1).out; \
$(3) $(UNIT_DIR)/$(2)test_$(1) $(4) >$$out 2>&1; rc=$$?; cat $$out; \
if [ $$rc -ne 0 ]; then status=1; \
    if [ $$rc -ne 1 ] || ! grep -q '^FAIL ' $$out; then \
        echo "FAIL $(4)/test_$(1): exited with status $$rc (crash or sanitizer report above)"; fi; fi;
endef

TEST_SUITES += unit
.PHONY: suite-unit
suite-unit: $(UNIT_BINS) $(UNIT_SAN_BINS)
	@status=0; \
	$(foreach p,$(UNIT_PROGS),$(call unit_run,$(p),,,unit)) \
	$(foreach p,$(UNIT_PROGS),$(call unit_run,$(p),san/,$(UNIT_SAN_ENV),unit/san)) \
	exit $$status
