# Tools the build and the tests need, and their Debian packages.  `make deps`
# checks them in one quick shell (a few milliseconds when all are present);
# as root it installs what is missing with apt-get (one `update`, then a
# non-interactive `install --no-install-recommends`), otherwise it prints the
# exact command and stops.  Every target that runs these tools depends on it.

## Dependencies (mk/10-deps.mk):
##   make deps           check the tools below; install missing Debian packages when root;
##                       a QEMU >= 9 (x2APIC, > 255 CPUs) in build/tools/qemu-10 when the
##                       system's is older (scripts/qemu.py --provide; the system's stays)

# "check package" pairs: a command name, or an absolute path for files
# (GRUB's BIOS and UEFI modules, OVMF, the libFuzzer runtime), and the
# package providing it.  mtools: grub-mkrescue writes the ISO's EFI system
# partition image with it.
DEPS_CHECKS := \
    gcc:gcc \
    ld:binutils \
    make:make \
    grub-mkrescue:grub-common \
    grub-file:grub-common \
    /usr/lib/grub/i386-pc/multiboot2.mod:grub-pc-bin \
    /usr/lib/grub/x86_64-efi/multiboot2.mod:grub-efi-amd64-bin \
    mformat:mtools \
    /usr/share/OVMF/OVMF_CODE_4M.fd:ovmf \
    xorriso:xorriso \
    qemu-system-x86_64:qemu-system-x86 \
    gnuplot:gnuplot-nox \
    chromium:chromium \
    python3:python3 \
    clang:clang \
    /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev \
    /usr/lib/python3/dist-packages/lava_common/schemas/__init__.py:lava-common

.PHONY: deps
deps:
	@missing=""; \
	for pair in $(DEPS_CHECKS); do \
	    what=$${pair%%:*}; pkg=$${pair##*:}; \
	    case $$what in \
	        /*) set -- $$what; [ -e "$$1" ] || missing="$$missing $$pkg" ;; \
	        *) command -v $$what >/dev/null 2>&1 || missing="$$missing $$pkg" ;; \
	    esac; \
	done; \
	missing=$$(printf '%s\n' $$missing | sort -u | paste -sd' '); \
	if [ -n "$$missing" ]; then \
	    cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing"; \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "deps: missing Debian packages: $$missing" >&2; \
	        echo "deps: install them as root with:" >&2; \
	        echo "    $$cmd" >&2; \
	        exit 1; \
	    fi; \
	    echo "deps: installing $$missing"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing \
	        || { echo "deps: apt-get failed; install these packages: $$missing" >&2; exit 1; }; \
	fi; \
	[ -e $(QEMU_TOOLS_STATE) ] || $(PY) scripts/qemu.py --provide || true

# Written by qemu.py --provide: "ok <version>", "system <version>" or
# "failed <why>" (runs that need the newer QEMU then say so; delete the file
# to try again).
QEMU_TOOLS_STATE := $(BUILD)/tools/qemu-10.state
