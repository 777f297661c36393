# goparked: build the engine (native/) and run the tests.
#
#   make              native/build/libgoparked.so
#   make asan         native/build-asan/libgoparked.so (ASan + UBSan)
#   make check-native build and run the C unit tests native/tests/test_*.c
#   make test         set-up, build, C tests, pytest, then the same again
#                     against the ASan/UBSan engine (see README.rst)
#   make test-matrix  every fixture cell (all toolchains, arm64, PIE, cgo), slow
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
	deps corpus demo clean

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
check-native: $(CTEST_BINS)
	@$(CORPUS_CASES) >$(BUILD)/corpus.cases
	@set -e; for t in $(CTEST_BINS); do echo "== $$t"; \
		GP_PCLNTAB_CASES=$(BUILD)/corpus.cases $$t; done

check-native-asan: $(ASAN_CTEST_BINS)
	@$(CORPUS_CASES) >$(ASAN_BUILD)/corpus.cases
	@set -e; for t in $(ASAN_CTEST_BINS); do echo "== $$t"; \
		GP_PCLNTAB_CASES=$(ASAN_BUILD)/corpus.cases \
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
	$(MAKE) pytest-asan

demo:
	@./demo

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build *.egg-info goparked/libgoparked.so

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(CTEST_BINS:=.d) $(ASAN_CTEST_BINS:=.d)
