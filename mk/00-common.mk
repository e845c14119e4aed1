# Settings every other fragment shares: the include root, the host compiler
# flags, the sanitizer flags, shell quoting of Make values, the runner for
# host test programs and the rules of a plain + sanitizer host test suite.
#
# Includes name their directory from the tree root ("mm/mm.h",
# "arch/x86_64/x86.h", "tests/harness/check.h"); include/ is the second root
# and holds only plat/, the portable code's one door ("plat/platform.h").
# Which platform implementation sits behind that door is the one choice a
# build makes by flag: PLAT_IMPL_H.

INCLUDE_ROOTS := -I. -Iinclude

# ---- host builds of the portable code (lib/, mm/, bench/) and its tests
HOST_CC      ?= gcc
HOST_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -g -Wall -Wextra -Werror \
                $(INCLUDE_ROOTS) -DPLAT_IMPL_H='"tests/host/platform_impl.h"' -pthread
ifeq ($(DEBUG),1)
HOST_CFLAGS  += -DMM_DEBUG=1
endif

# Sanitizer builds: a report is a failure (exit 86), never a warning.
SAN_ASAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_TSAN_CFLAGS := -fsanitize=thread
SAN_ENV := ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:exitcode=86

# Shell single-quoting, so that any Make value reaches the scripts intact and
# is judged there (a quote in ARGS is rejected by the script, not the shell).
sq = '$(subst ','\'',$(1))'

# Runs one host test program inside a suite recipe that starts with
# `status=0;` and ends with `exit $$status`.  $(1): binary, $(2): the name
# its results carry (e.g. unit/san), $(3): environment, $(4): arguments.
# A test program exits 0 (all passed) or 1 (a FAIL line says what failed);
# a sanitizer report exits 86 and a crash by signal 128+n: those get a FAIL
# line of their own, so a program that dies part-way never looks like a pass.
define host_test_run
out=$(1).out; $(3) $(1) $(4) >$$out 2>&1; rc=$$?; cat $$out; \
if [ $$rc -ne 0 ]; then status=1; \
    if [ $$rc -ne 1 ] || ! grep -q '^FAIL ' $$out; then \
        echo "FAIL $(2)/$(notdir $(1)): exited with status $$rc (crash or sanitizer report above)"; fi; fi;
endef

# One suite of host test programs tests/<dir>/test_<p>.c, each built twice:
# plain, and under ASan+UBSan so that an out-of-bounds read fails the suite
# instead of passing by luck.  Instantiate with $(eval $(call host_test_suite,...)).
# $(1): suite name (results $(1)/<test> and $(1)/san/<test>), $(2): build
# directory, $(3): source directory, $(4): programs, $(5): the sources every
# program links, $(6): headers they depend on, $(7): the sanitizer run's
# environment.
define host_test_suite
$(2)/test_%: $(3)/test_%.c $(5) $(6)
	@mkdir -p $$(@D)
	$$(HOST_CC) $$(HOST_CFLAGS) -o $$@ $$< $(5)

$(2)/san/test_%: $(3)/test_%.c $(5) $(6)
	@mkdir -p $$(@D)
	$$(HOST_CC) $$(HOST_CFLAGS) $$(SAN_ASAN_CFLAGS) -o $$@ $$< $(5)

TEST_SUITES += $(1)
.PHONY: suite-$(1)
suite-$(1): $(4:%=$(2)/test_%) $(4:%=$(2)/san/test_%)
	@status=0; \
	$$(foreach p,$(4),$$(call host_test_run,$(2)/test_$$(p),$(1),,$(1))) \
	$$(foreach p,$(4),$$(call host_test_run,$(2)/san/test_$$(p),$(1)/san,$(7),$(1)/san)) \
	exit $$$$status
endef
