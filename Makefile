# Thin entry points over CMake presets (see CMakePresets.json). The two that
# matter:
#   make demo   build, then synth -> prepare -> 5-fold CV -> the paper's ablation,
#               on the built-in synthetic corpus (about 2 minutes of training on 2 cores)
#   make test   build, then every test suite through ctest
# LYRE_PRESET picks the preset (release by default; CI uses `ci`, which
# requires the CUDA backend to compile).
LYRE_PRESET ?= release
BUILD_DIR := build/$(LYRE_PRESET)
LYRE := $(BUILD_DIR)/lyre
JOBS ?= $(shell nproc)

.PHONY: all deps configure build demo test test-gpu gpu-deps sanitize fuzz clean

all: build

deps:
	@.ci/deps.sh

configure: deps
	cmake --preset $(LYRE_PRESET) $(LYRE_CMAKE_ARGS)

build: configure
	cmake --build --preset $(LYRE_PRESET) -j $(JOBS)

demo: build
	$(LYRE) prepare --config configs/demo.yaml
	$(LYRE) train --config configs/demo.yaml
	$(LYRE) ablate --config configs/demo.yaml

test: build
	ctest --preset $(LYRE_PRESET) -j $(JOBS)

# The CUDA suites alone (on a machine with a GPU), under compute-sanitizer.
test-gpu: build
	compute-sanitizer --tool memcheck --target-processes all --error-exitcode 1 \
	  ctest --preset gpu

# The .deb files profiling/gpu_check.sh unpacks on a lent GPU machine (it has
# no apt), fetched here into the git-ignored .deps/ that the device tool carries.
gpu-deps:
	profiling/gpu_deps.sh

# The CPU suites built with clang's ASan + UBSan (one build that also holds
# the fuzz harnesses, so `make fuzz` after it compiles nothing again).
sanitize:
	cmake --preset sanitize && cmake --build --preset sanitize -j $(JOBS) && ctest --preset sanitize -j $(JOBS)

# The libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan), each for
# FUZZ_SECONDS; fails if any finds anything (inputs under build/fuzz/artifacts).
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) .ci/fuzz.sh

clean:
	rm -rf build
