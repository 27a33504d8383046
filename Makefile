# Strand: the Makefile wraps CMake (Ninja) and the test runner.
#   make build   Release build with debug info; binaries in build/bin/
#   make test    install missing dependencies, build, run every test (ctest)
#   make asan    AddressSanitizer + UBSan build in build-asan/ and its test run
#   make run     start a local cluster on loopback (see scripts/local-cluster.sh)
#   make format  clang-format every source file
SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all build test asan run deps format clean fuzz

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTRAND_SANITIZE=ON

asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

run: build
	@echo "make run starts a local controller quorum once the controller issue lands;"
	@echo "until then there is nothing to run. 'make test' exercises everything built so far."

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
