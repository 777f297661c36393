# goparked: build the engine (native/) and run the tests.
#
#   make              native/build/libgoparked.so
#   make asan         native/build-asan/libgoparked.so (ASan + UBSan)
#   make check-native build and run the C unit tests native/tests/test_*.c
#   make test         set-up, build, C tests, pytest, then the same again
#                     against the ASan/UBSan engine (see README.rst)
#   make test-matrix  every fixture cell (all toolchains, arm64, PIE, cgo), slow
#   make fuzz-build   the libFuzzer harnesses native/fuzz/fuzz_*.c (clang-16)
#   make fuzz         each harness for FUZZ_SECONDS (60), then its regressions
#   make demo         set-up, build, make a sample core and triage it
#   make clean

PYTHON ?= python3
# The real interpreter behind a pyenv shim: LD_PRELOAD must reach python
# itself, not the shell script in front of it.
PYTHON_EXE = $(shell $(PYTHON) -c 'import sys; print(sys.executable)')

GP_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
	-fvisibility=hidden -fPIC -Inative/include -Inative/src
# Hardening and debugging extras; empty by default, override freely.
EXTRA_CFLAGS ?=
LDLIBS := -ldw -lelf
# The sanitizers change GCC's inlining enough to give false "may be used
# uninitialized" warnings; the normal build keeps that warning an error.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-Wno-error=maybe-uninitialized \
	-fno-omit-frame-pointer

BUILD ?= native/build
ASAN_BUILD ?= native/build-asan

# One folder per layer (native/src/base/base.h tells the order).
SRCS := $(sort $(wildcard native/src/*/*.c))
CTESTS := $(sort $(wildcard native/tests/test_*.c))
OBJS := $(SRCS:native/src/%.c=$(BUILD)/obj/%.o)
ASAN_OBJS := $(SRCS:native/src/%.c=$(ASAN_BUILD)/obj/%.o)
CTEST_BINS := $(CTESTS:native/tests/%.c=$(BUILD)/tests/%)
ASAN_CTEST_BINS := $(CTESTS:native/tests/%.c=$(ASAN_BUILD)/tests/%)

# Environment for loading the sanitized engine into an unsanitized python
# via ctypes: the ASan runtime must be the first library in the process
# (LD_PRELOAD), python's own allocations "leak" by design (detect_leaks=0),
# and any UBSan report aborts (-fno-sanitize-recover + halt_on_error).
# GOPARKED_LD_PRELOAD lets tests/conftest.py keep the preload away from
# unrelated children (go, gcc, gdb) and give it back to goparked runs.
LIBASAN = $(shell $(CC) -print-file-name=libasan.so)
LIBUBSAN = $(shell $(CC) -print-file-name=libubsan.so)
# GOPARKED_PAR_MIN=1: the sanitized pass decodes even the small test cores
# on two threads (the normal pass keeps the one-thread path below 8192).
ASAN_ENV = GOPARKED_LIB=$(abspath $(ASAN_BUILD))/libgoparked.so \
	GOPARKED_PAR_MIN=1 \
	GOPARKED_SANITIZED=1 \
	LD_PRELOAD="$(LIBASAN) $(LIBUBSAN)" \
	GOPARKED_LD_PRELOAD="$(LIBASAN) $(LIBUBSAN)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

PYTEST_ARGS ?=
# The sanitizer pass covers everything that runs the engine inside this
# python or a goparked child; gdb and lldb embed their own python.
ASAN_PYTEST_ARGS ?= -m "not gdb and not lldb"

.PHONY: all bytecode asan check-native check-native-asan test test-matrix pytest pytest-asan \
	deps corpus demo clean fuzz fuzz-build fuzz-cases fuzz-seeds

all: $(BUILD)/libgoparked.so bytecode

# The package's bytecode, written once: an interpreter that may not write
# it (PYTHONDONTWRITEBYTECODE) compiles every module on every run, about
# 30 ms of each command.
PY_SRCS := $(wildcard goparked/*.py goparked/*/*.py)
bytecode: $(BUILD)/bytecode.stamp
$(BUILD)/bytecode.stamp: $(PY_SRCS)
	@mkdir -p $(@D)
	@$(PYTHON) -m compileall -q goparked && touch $@

asan: $(ASAN_BUILD)/libgoparked.so

ifeq ($(SRCS),)
$(BUILD)/libgoparked.so $(ASAN_BUILD)/libgoparked.so:
	@echo "make: no engine sources in native/src/*/*.c" >&2; exit 1
else
$(BUILD)/libgoparked.so: $(OBJS)
	$(CC) -shared -Wl,-soname,libgoparked.so -Wl,--no-undefined \
		-o $@.tmp $(OBJS) $(LDLIBS) && mv -f $@.tmp $@

$(ASAN_BUILD)/libgoparked.so: $(ASAN_OBJS)
	$(CC) -shared $(SAN_FLAGS) -Wl,-soname,libgoparked.so \
		-o $@.tmp $(ASAN_OBJS) $(LDLIBS) && mv -f $@.tmp $@
endif

$(BUILD)/obj/%.o: native/src/%.c
	@mkdir -p $(@D)
	$(CC) $(GP_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c -o $@ $<

$(ASAN_BUILD)/obj/%.o: native/src/%.c
	@mkdir -p $(@D)
	$(CC) $(GP_CFLAGS) $(SAN_FLAGS) $(EXTRA_CFLAGS) -MMD -MP -c -o $@ $<

# C unit tests link the library's objects directly, so they can reach the
# hidden internal functions (the layers' headers, native/src/*/*.h).
$(BUILD)/tests/%: native/tests/%.c $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(GP_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -o $@ $< \
		$(OBJS) $(LDLIBS)

$(ASAN_BUILD)/tests/%: native/tests/%.c $(ASAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(GP_CFLAGS) $(SAN_FLAGS) $(EXTRA_CFLAGS) -MMD -MP \
		-o $@ $< $(ASAN_OBJS) $(LDLIBS)

# Each test runs from the top of the tree; a non-zero exit fails the target.
# The corpus tests read this checkout's default matrix (GP_PCLNTAB_CASES:
# "exe core dump" lines), never whatever else the shared cache holds: other
# toolchains and architectures that someone is still making work. The
# fixture's amd64 cells only: test_pclntab checks the unwinder against the
# dump with amd64's registers and the fixture's own shapes (the arm64 cells
# and the cgo program are the Python oracle tests').
CORPUS_CASES = $(PYTHON) corefiles/generate.py --matrix default --list --json | \
	$(PYTHON) -c 'import json, sys; [print(e["exe"], e["core"], e["dump"]) \
		for e in map(json.loads, sys.stdin) \
		if not e["variant"].startswith("arm64-") and e["exe"].endswith("/fixture")]'
# The arm64 executables of the default matrix, for the decoder's test
# (test_decode compares every instruction with aarch64 objdump).
ARM64_EXES = $(PYTHON) corefiles/generate.py --matrix default --list --json | \
	$(PYTHON) -c 'import json, sys; [print(x) for x in dict.fromkeys(e["exe"] \
		for e in map(json.loads, sys.stdin) if e["variant"].startswith("arm64-"))]'
check-native: $(CTEST_BINS)
	@$(CORPUS_CASES) >$(BUILD)/corpus.cases
	@$(ARM64_EXES) >$(BUILD)/decode.exes
	@set -e; for t in $(CTEST_BINS); do echo "== $$t"; \
		GP_PCLNTAB_CASES=$(BUILD)/corpus.cases \
		GP_DECODE_EXES=$(BUILD)/decode.exes $$t; done

check-native-asan: $(ASAN_CTEST_BINS)
	@$(CORPUS_CASES) >$(ASAN_BUILD)/corpus.cases
	@$(ARM64_EXES) >$(ASAN_BUILD)/decode.exes
	@set -e; for t in $(ASAN_CTEST_BINS); do echo "== $$t"; \
		GP_PCLNTAB_CASES=$(ASAN_BUILD)/corpus.cases \
		GP_DECODE_EXES=$(ASAN_BUILD)/decode.exes \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$t; done

deps:
	@PYTHON=$(PYTHON) scripts/setup-deps

# The fixture cores CI needs (corefiles/generate.py's default matrix): made
# once up front so the C tests have them too; cached in $$GOPARKED_CACHE.
corpus:
	$(PYTHON) corefiles/generate.py --matrix default >/dev/null

pytest: all
	$(PYTHON) -m pytest $(PYTEST_ARGS) tests

# The whole fixture matrix (corefiles/generate.py --matrix full: every
# toolchain x amd64/arm64 x DWARF/stripped x every scenario of both
# programs, PIE on 1.19, 1.26 and 1.27), then the suite over every cell of
# it (GOPARKED_MATRIX=full; CI runs the slice of --matrix default).
test-matrix: all
	$(PYTHON) corefiles/generate.py --matrix full >/dev/null
	GOPARKED_MATRIX=full $(PYTHON) -m pytest $(PYTEST_ARGS) tests

pytest-asan: asan
	$(ASAN_ENV) $(PYTHON_EXE) -m pytest $(ASAN_PYTEST_ARGS) $(PYTEST_ARGS) tests

# The README's test command. Sequential on purpose: set-up, the fixture
# cores, the normal pass, then the sanitizer pass. The C tests must find
# cores here (GP_REQUIRE_CORES), since corpus has just made them.
test:
	@PYTHON=$(PYTHON) scripts/setup-deps
	$(MAKE) all corpus
	GP_REQUIRE_CORES=1 $(MAKE) check-native
	$(MAKE) pytest
	GP_REQUIRE_CORES=1 $(MAKE) check-native-asan
	$(MAKE) fuzz
	$(MAKE) pytest-asan

demo:
	@./demo

# ----------------------------------------------------------------- fuzzing
# libFuzzer harnesses (native/fuzz/, README.rst "Fuzzing"): the engine's
# objects built again with clang-16 and -fsanitize=fuzzer-no-link plus
# ASan and UBSan, each harness linked with libFuzzer's main. Their inputs
# patch real fixture executables and cores: the cases file lists them
# ("exe core" a line, a fixed order, so a kept input means the same thing
# on every machine), the seeds are made from them (never committed), the
# corpus grows in $(FUZZ_BUILD)/corpus/<harness>. The unit harnesses
# (fuzz_pclnblob, fuzz_code, fuzz_elf, fuzz_buildinfo, fuzz_layout) take
# raw bytes and need no fixture per input; only their seeds come from the fixture executables (every one
# of the default matrix in the cache: fuzz.exes). Inputs that found a bug
# are kept in native/fuzz/regressions/<harness>/ and replayed by `make fuzz`.
FUZZ_CC ?= clang-16
FUZZ_BUILD ?= native/build-fuzz
FUZZ_SECONDS ?= 60
# -timeout: one input running this long is a hang. The dearest inputs walk
# far more of a fixture core than the window of 8 goroutines (snapshot,
# JSON writer, reference scan): one took 3.2 s under the sanitizers at
# load 4, run twice when libFuzzer checks it for leaks, and 11 s on CI's loaded
# run (fuzz_snapshot-timeout-1658ba6d..., 12:40 on 3ec5fa5), so 10 s
# failed on load, not on a hang; -report_slow_units names inputs over
# 10 s. -malloc_limit_mb: one allocation this big is a bug (everything
# read from a target is bounded).
FUZZ_ARGS ?= -timeout=60 -report_slow_units=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
	-print_final_stats=1
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -gline-tables-only
FUZZ_OBJS := $(SRCS:native/src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SRCS := $(sort $(wildcard native/fuzz/fuzz_*.c))
FUZZERS := $(FUZZ_SRCS:native/fuzz/%.c=$(FUZZ_BUILD)/%)
# The fixture cells the harnesses start from, all in corefiles/generate.py's
# default matrix (make corpus): the three allocator generations (1.19,
# 1.21, 1.27), with DWARF and stripped, the scenario "all" of the fixture.
FUZZ_CELLS = --toolchains 1.27,1.19,1.21 --variants dwarf,stripped --scenarios all
FUZZ_ENV = GP_FUZZ_CASES=$(abspath $(FUZZ_BUILD))/fuzz.cases \
	GP_FUZZ_EXES=$(abspath $(FUZZ_BUILD))/fuzz.exes \
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# clang-16 missing: a failure under CI=true (setup-deps installs it),
# elsewhere one line and nothing more.
FUZZ_CHECK = if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	if [ "$$CI" = true ]; then echo "fuzz: $(FUZZ_CC) not found (scripts/setup-deps installs it)" >&2; exit 1; fi; \
	echo "fuzz: skipped: $(FUZZ_CC) not found (scripts/setup-deps installs it)"; exit 0; fi

# (not intermediate files: kept between builds)
.SECONDARY: $(FUZZ_OBJS)

fuzz-build:
	@$(FUZZ_CHECK); $(MAKE) --no-print-directory $(FUZZERS)

$(FUZZ_BUILD)/obj/%.o: native/src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(GP_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		$(EXTRA_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: native/fuzz/fuzz_%.c $(wildcard native/fuzz/*.[ch]) $(FUZZ_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(GP_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer $(EXTRA_CFLAGS) \
		-o $@ $< native/fuzz/fuzz.c $(FUZZ_OBJS) $(LDLIBS)

# The cases, from the cache (make corpus makes them); fails when one is
# missing, never fuzzes fewer silently.
fuzz-cases:
	@mkdir -p $(FUZZ_BUILD)
	@$(PYTHON) corefiles/generate.py $(FUZZ_CELLS) --list --json | \
		$(PYTHON) -c 'import json, sys; \
		cells = sorted((e for e in map(json.loads, sys.stdin) if e["scenario"] == "all" and e["exe"].endswith("/fixture")), \
			key=lambda e: (e["go_version"], e["variant"])); \
		[print(e["exe"], e["core"]) for e in cells]; \
		sys.exit(0 if len(cells) == 6 else "fuzz: %d of the 6 fixture cores in the cache: make corpus" % len(cells))' \
		>$(FUZZ_BUILD)/fuzz.cases.tmp && mv $(FUZZ_BUILD)/fuzz.cases.tmp $(FUZZ_BUILD)/fuzz.cases
	@$(PYTHON) corefiles/generate.py --matrix default --list --json | \
		$(PYTHON) -c 'import json, os, sys; \
		[print(x) for x in dict.fromkeys(e["exe"] for e in map(json.loads, sys.stdin)) if os.path.exists(x)]' \
		>$(FUZZ_BUILD)/fuzz.exes.tmp && mv $(FUZZ_BUILD)/fuzz.exes.tmp $(FUZZ_BUILD)/fuzz.exes

fuzz-seeds: fuzz-build fuzz-cases
	@set -e; for f in $(FUZZERS); do h=$${f##*/}; rm -rf $(FUZZ_BUILD)/seeds/$$h; mkdir -p $(FUZZ_BUILD)/seeds; \
		$(FUZZ_ENV) GP_FUZZ_SEEDS=$(FUZZ_BUILD)/seeds/$$h $$f >/dev/null 2>&1 || \
		{ echo "fuzz: $$h could not write its seeds" >&2; exit 1; }; done

# Each harness for FUZZ_SECONDS on one core, then every kept regression
# input once. make fuzz FUZZ_SECONDS=14400 runs them for hours (README).
fuzz:
	@$(FUZZ_CHECK); $(MAKE) --no-print-directory fuzz-seeds || exit 1; \
	set -e; for f in $(FUZZERS); do h=$${f##*/}; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$h native/fuzz/regressions/$$h; \
		echo "== fuzz: $$h for $(FUZZ_SECONDS)s"; \
		$(FUZZ_ENV) $$f $(FUZZ_ARGS) -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(FUZZ_BUILD)/$$h- \
			$(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/seeds/$$h \
			native/fuzz/regressions/$$h >$(FUZZ_BUILD)/$$h.log 2>&1 || \
			{ tail -n 60 $(FUZZ_BUILD)/$$h.log; echo "fuzz: $$h found a bug (input: $(FUZZ_BUILD)/$$h-*)" >&2; exit 1; }; \
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+.*DONE' $(FUZZ_BUILD)/$$h.log || true; \
		r=$$(ls native/fuzz/regressions/$$h); \
		if [ -n "$$r" ]; then $(FUZZ_ENV) $$f $(FUZZ_ARGS) $$(ls -d native/fuzz/regressions/$$h/*) \
			>$(FUZZ_BUILD)/$$h-regressions.log 2>&1 || \
			{ tail -n 60 $(FUZZ_BUILD)/$$h-regressions.log; echo "fuzz: $$h fails a kept regression input" >&2; exit 1; }; \
			echo "fuzz: $$h: $$(echo $$r | wc -w) regression inputs pass"; fi; \
	done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build *.egg-info goparked/libgoparked.so

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d) $(CTEST_BINS:=.d) $(ASAN_CTEST_BINS:=.d)
