# SPDX-License-Identifier: GPL-2.0
#
# kvhost: out-of-tree build, lint and test entry points.
#
#   make            build kvhost.ko against KDIR
#   make check      everything: build, sparse, checkpatch, KUnit, kselftests
#   make demo       boot a VM, load kvhost, show what it offers, and a
#                   3-minute benchmark against vhost-net, QSD and fio
#   make bench      the full benchmark (Documentation/benchmarks.rst)
#   make stress     1000 VMM kills and a minute of TOCTOU races per variant,
#                   under the debug kernel (Documentation/testing.rst)
#   make sparse     sparse (C=2) over every source file
#   make checkpatch checkpatch.pl --strict over every source file
#   make selftests  build the kselftests (they run in a VM)
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (default 300),
#                   FUZZ_JOBS (default 1) at a time; one summary line each

KERNELRELEASE_HOST := $(shell uname -r)
STOCK_KDIR := $(shell ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null | \
	sort -t- -k4,4n | tail -n1)
KDIR ?= $(if $(wildcard /lib/modules/$(KERNELRELEASE_HOST)/build/Makefile),\
	/lib/modules/$(KERNELRELEASE_HOST)/build,$(STOCK_KDIR))

# Userspace tools from the unpacked linux-source tree (scripts/deps).
LINUX_SRC ?= $(shell bash -c '. scripts/lib.sh && source_dir')
KSFT_DIR ?= $(LINUX_SRC)/tools/testing/selftests

KBUILD := $(MAKE) -C $(KDIR) M=$(CURDIR) W=1 CONFIG_DEBUG_INFO_BTF_MODULES=

all: modules

modules:
	@test -n "$(KDIR)" || { echo "no kernel headers: run scripts/deps" >&2; exit 1; }
	$(KBUILD) modules

clean:
	$(KBUILD) clean
	$(MAKE) -C selftests/kvhost clean KSFT_DIR=$(KSFT_DIR)
	$(MAKE) -C selftests/kvhost/bench clean

sparse:
	@scripts/lint sparse $(KDIR)

checkpatch:
	@scripts/lint checkpatch

selftests:
	$(MAKE) -C selftests/kvhost KSFT_DIR=$(KSFT_DIR)

FUZZ_SECONDS ?= 300
FUZZ_JOBS ?= 1
fuzz:
	$(MAKE) -C selftests/kvhost/fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS) \
		FUZZ_JOBS=$(FUZZ_JOBS)

deps:
	@scripts/deps

check:
	@scripts/check

demo:
	@scripts/demo

bench:
	@scripts/deps
	@scripts/bench --full

stress:
	@scripts/stress

.PHONY: all modules clean sparse checkpatch selftests fuzz deps check demo \
	bench stress
