# Thin wrapper over CMake presets (CMakePresets.json). Every target installs what is missing.
#   make devnet  make programs, then a 5-node devnet on loopback: 1,000 transactions, a report
#                (KEEP=1 leaves the nodes running; OUT=DIR keeps the run's folder there)
#   make programs  optimised build of hearsayd, hearsay-cli and hearsay-sim only, into build/release/bin
#   make test    build with ASan+UBSan and run every test (what CI runs)
#   make build   optimised build of everything (programs, tests, benchmarks) into build/release
#   make bench   optimised build, then the Google Benchmark programs
#   make sim-fidelity  make programs, then the simulator against 20 real nodes (within 25 %)
#   make bench-sim  the simulator at scale: SIM_NODES nodes (default 1000), degree 8, 1,000
#                transactions at 100 tx/s, region latencies; prints events/s, wall time and peak
#                RSS, and leaves the report in build/bench-sim/SIM_NODES
#   make fuzz    libFuzzer targets, each run for FUZZ_SECONDS (default 30), FUZZ_JOBS at a time
#                (default: one per core)
#   make fuzz-coverage  replay every fuzz corpus under clang coverage; line coverage per file
#   make tsan    ThreadSanitizer build, then the threaded tests (net, node, integration)
#   make lint    clang-tidy (.clang-tidy) over the shipped code and testing/; LINT_ARGS=--changed for
#                only the files changed since origin/main
.PHONY: all deps build release programs debug devnet test tsan sim-fidelity bench bench-sim fuzz fuzz-coverage lint format clean

FUZZ_SECONDS ?= 30
FUZZ_JOBS ?= $(shell nproc)
SIM_NODES ?= 1000
JOBS ?= $(shell nproc)

all: build

deps:
	@contrib/install-deps.sh

build release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

# Only the programs (no tests, no benchmarks): what the devnet, the tour and the simulator need.
programs: deps
	@echo "make: building hearsayd, hearsay-cli and hearsay-sim into build/release/bin (the first build takes a few minutes; later ones recompile only what changed)"
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target hearsayd hearsay-cli hearsay-sim

# KEEP=1 leaves the nodes running and prints how to talk to them; OUT=DIR keeps the run there.
devnet: programs
	@python3 contrib/testnet/testnet.py devnet --bin build/release/bin $(if $(OUT),--out $(OUT))

debug: deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

test: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan

tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	@ctest --preset tsan

bench: build
	@build/release/bin/hearsay_bench $(BENCH_ARGS)

# The simulator's fidelity needs optimised nodes (tests/contrib/sim_fidelity_test.py says why).
sim-fidelity: programs
	@python3 tests/contrib/sim_fidelity_test.py --bin build/release/bin

bench-sim: programs
	@rm -rf build/bench-sim/$(SIM_NODES)
	@build/release/bin/hearsay-sim run --nodes $(SIM_NODES) --degree 8 --txs 1000 --rate 100 \
		--latency regions --seed 1 --out build/bench-sim/$(SIM_NODES)

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@FUZZ_JOBS=$(FUZZ_JOBS) contrib/run-fuzz.sh build/fuzz/bin $(FUZZ_SECONDS)

fuzz-coverage: deps
	@cmake --preset coverage >/dev/null
	@cmake --build --preset coverage -j $(JOBS)
	@contrib/fuzz-coverage.sh build/coverage

# Needs only the compilation database of the debug preset, not a build.
lint: deps
	@cmake --preset debug >/dev/null
	@contrib/lint.sh build/debug $(LINT_ARGS)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build
