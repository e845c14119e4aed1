# SMP stress and benchmark harness kernel for physical frame allocators.
#
# This file holds the user-facing variables, the shared compiler settings and
# the test driver; each part of the project keeps its rules in mk/NN-*.mk
# (included in name order).  `make help` lists targets and variables.

.DEFAULT_GOAL := all
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

BUILD   := build
PY      := /usr/bin/python3

# ---- user variables (validated by scripts/qemu.py / scripts/bench.py before anything boots)
SMP     ?= 8
MEM     ?= 1G
ACCEL   ?= auto
ICOUNT  ?= 0
CPU     ?= max
NUMA    ?= 0
BENCH   ?= all
RUNS    ?=
ARGS    ?=
DEBUG   ?= 0
TIMEOUT ?=

ifneq ($(DEBUG),0)
ifneq ($(DEBUG),1)
$(error DEBUG must be 0 or 1, got '$(DEBUG)')
endif
endif

# Each mk fragment appends its suites (make targets suite-<name>) in the order
# they should run: fast host suites first, QEMU boot suites last.
TEST_SUITES :=

include $(sort $(wildcard mk/*.mk))

.PHONY: all test help clean
all: $(ALL_TARGETS)

test: deps
	@$(PY) tests/harness/testrun.py $(TEST_SUITES)

clean:
	rm -rf $(BUILD)

help:
	@sed -n 's/^## \{0,1\}//p' Makefile mk/*.mk
