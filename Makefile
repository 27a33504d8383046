# Strand: the Makefile wraps CMake (Ninja) and the test runner.
#   make build   Release build with debug info; binaries in build/bin/
#   make test    install missing dependencies, build, run every test (ctest)
#   make asan    AddressSanitizer + UBSan build in build-asan/ and its test run
#   make run     build, then run a local cluster on 127.0.0.1 in the foreground (Ctrl-C stops
#                it): 3 controllers + $(BROKERS) brokers, data and logs in $(RUN_DIR), ports
#                from $(RUN_PORT)+1 (see scripts/local-cluster.sh)
#   make format  clang-format every source file
SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
JOBS ?= $(shell nproc)
CTEST_ARGS ?= -LE soak
# make run: brokers to start beside the 3 controllers; TLS=1 for mTLS on every listener.
BROKERS ?= 3
RUN_DIR ?= .run
RUN_PORT ?= 9090

.PHONY: all build test asan run deps format clean fuzz

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The fuzzers (clang, in $(FUZZ_DIR)) are built before the tests run, so their build does not
# compete with the tests for the CPU.
test: build
	tests/fuzz/run_fuzz.sh --build-only --build-dir $(abspath $(FUZZ_DIR)) --jobs $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTRAND_SANITIZE=ON

asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

run: build
	STRAND_BIN_DIR=$(abspath $(BUILD_DIR))/bin ./scripts/local-cluster.sh up --controllers 3 --brokers $(BROKERS) --dir $(RUN_DIR) \
	  --base-port $(RUN_PORT) --foreground $(if $(filter 1,$(TLS)),--tls)

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
