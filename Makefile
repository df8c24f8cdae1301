# Thin wrapper over CMake. `make run` and `make test` are the two commands in the README: both
# run scripts/bootstrap first, which installs whatever a fresh Debian 12 machine is missing.
BUILD    ?= build
JOBS     ?= 2
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 60

.PHONY: all build bootstrap run test bench fuzz install asan clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/hanzo node $(ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan CMAKE_FLAGS="-DHZ_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

bench: build
	@scripts/bootstrap --with-tools
	bench/run $(BUILD)

fuzz: bootstrap
	@cmake -S . -B build-fuzz -DHZ_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzzers
	fuzz/run build-fuzz $(FUZZ_SECONDS)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
