# SPDX-License-Identifier: Apache-2.0
# The README's commands, one word each. meson + ninja do the building.
#   make demo    install what is needed, build, run the narrated demo
#   make check   install what is needed, build, run every test suite (e2e needs root)
#   make bench   install what is needed (Kea too), release build, run the benchmarks
#                (BENCH_ARGS=--big adds the 1M-session recovery and hand-off runs)
#   make sanitize  ASan+UBSan build running the unit, fuzz and integration suites
#   make fuzz    libFuzzer binaries (clang) in build-fuzz/
BUILD ?= build
MESON_TEST = meson test -C $(BUILD) --print-errorlogs --num-processes 2

.PHONY: all deps build check demo bench sanitize fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dbuildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: build
	$(MESON_TEST) --suite unit --suite fuzz --suite model
	$(MESON_TEST) --suite integration --num-processes 1
	$(MESON_TEST) --suite e2e --num-processes 1

demo: build
	bash scripts/demo.sh $(BUILD)
	@if [ "$$(id -u)" = 0 ]; then bash scripts/demo_public.sh $(BUILD); \
	 else echo "(story 2, the public address, needs root: it builds network namespaces)"; fi

bench:
	@UEIP_BENCH_DEPS=1 bash scripts/install-deps.sh
	[ -f build-release/build.ninja ] || meson setup build-release -Dbuildtype=release
	ninja -C build-release
	bash bench/run.sh build-release $(BENCH_ARGS)

sanitize: deps
	[ -f build-asan/build.ninja ] || meson setup build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-asan
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	  meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite fuzz
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	  meson test -C build-asan --print-errorlogs --num-processes 1 --suite integration

fuzz: deps
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-fuzz

clean:
	rm -rf build build-asan build-fuzz build-release
