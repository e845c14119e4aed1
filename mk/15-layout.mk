# The tree's own rules, checked before anything is built: the platform
# boundary over every portable directory (tests/harness/check_boundary.py),
# and the proof that the check fails on planted violations.

## Layout (mk/15-layout.mk):
##   make suite-layout   portable code (include/plat, lib, mm, bench) includes only
##                       freestanding headers and the directories below it; kernel/
##                       includes no arch/ header

TEST_SUITES += layout
.PHONY: suite-layout
suite-layout:
	@status=0; \
	$(PY) tests/harness/check_boundary.py --name layout/portable_includes || status=1; \
	$(PY) tests/harness/test_boundary.py || status=1; \
	exit $$status
