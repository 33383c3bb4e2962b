# hstprof — build, run and test.
#   make        build ./hstprof (installs missing Debian packages first when root)
#   make run    build and start the main job on the embedded default model
#   make test   build and run every test, then again under ASan+UBSan
#
# Sources are found by wildcard: a new .c file in a module directory is built
# without touching this file; a new tests/test_*.c becomes a test binary.

CC      ?= cc
OPT     ?= -O3
WARN    := -Wall -Wextra -Werror
CSTD    := -std=c11 -D_GNU_SOURCE
# The build's commit goes into reports (exports' "System & Model Info").
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
CFLAGS_BASE := $(CSTD) $(WARN) -I. -pthread -g -fno-strict-aliasing -DHSTPROF_GIT_COMMIT='"$(GIT_COMMIT)"'
LIBS    := -ljansson -lpfm -lpapi -lhwloc -lncursesw -ltinfo -lm -pthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Debian packages the build needs, and the extra ones the tests need.
BUILD_PKGS := gcc make pkg-config libncurses-dev libpfm4-dev libpapi-dev libhwloc-dev libjansson-dev
TEST_PKGS  := libcmocka-dev tmux hwloc cppcheck valgrind

MODULES   := engine probes tui profiles exports
# The commands (cmd_*.c) sit beside hstprof.c, one file each.
LIB_SRC   := $(foreach m,$(MODULES),$(wildcard $(m)/*.c)) $(wildcard cmd_*.c)
LIB_OBJ   := $(LIB_SRC:%.c=build/%.o)
LIB_OBJ_SAN := $(LIB_SRC:%.c=build-asan/%.o)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(TEST_SRC:tests/%.c=build/tests/%)
TEST_BIN_SAN := $(TEST_SRC:tests/%.c=build-asan/tests/%)
TEST_HELPERS := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))

.PHONY: all deps deps-test run test unit unit-asan e2e lint clean bench

all: deps hstprof

# Installs what is missing; prints the exact command instead when not root.
define install_missing
	@command -v dpkg-query >/dev/null 2>&1 || { echo "note: not a Debian system; make sure these are installed: $(1)"; exit 0; }; \
	missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing Debian packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_PKGS))

deps-test: deps
	$(call install_missing,$(TEST_PKGS))

hstprof: build/hstprof.o $(LIB_OBJ)
	$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $^ $(LIBS)

build/%.o: %.c $(wildcard */*.h) $(wildcard *.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(OPT) -c -o $@ $<

build-asan/%.o: %.c $(wildcard */*.h) $(wildcard *.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 $(SAN) -c -o $@ $<

build-asan/hstprof: build-asan/hstprof.o $(LIB_OBJ_SAN)
	$(CC) $(CFLAGS_BASE) -O1 $(SAN) -o $@ $^ $(LIBS)

build/tests/%: tests/%.c $(LIB_OBJ) $(TEST_HELPERS) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $< $(TEST_HELPERS) $(LIB_OBJ) $(LIBS) -lcmocka

build-asan/tests/%: tests/%.c $(LIB_OBJ_SAN) $(TEST_HELPERS) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 $(SAN) -o $@ $< $(TEST_HELPERS) $(LIB_OBJ_SAN) $(LIBS) -lcmocka

run: all
	./hstprof

# Every test: unit tests (release build), the same under ASan+UBSan, then the
# end-to-end scripts against both binaries, then cppcheck.
# Benchmarks print figures and never fail on a timing (tests assert no times).
bench: hstprof
	tests/bench_contend.sh

test: deps-test hstprof build-asan/hstprof $(TEST_BIN) $(TEST_BIN_SAN)
	@HSTPROF=./hstprof HSTPROF_ASAN=build-asan/hstprof bash tests/run_all.sh $(TEST_BIN) $(TEST_BIN_SAN)

lint: deps-test
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I. $(MODULES) hstprof.c $(wildcard cmd_*.c) tests

clean:
	rm -rf build build-asan hstprof

# ---- fuzzing (issue 7) --------------------------------------------------------
#   make fuzz                                   each target for FUZZ_SECONDS (60)
#   make fuzz FUZZ_TARGETS=safetensors FUZZ_SECONDS=600
# libFuzzer targets (tests/fuzz/fuzz_*.c) built with clang and ASan+UBSan; the
# modules are compiled again into build-fuzz/ with coverage instrumentation.
# The committed seeds (tests/fuzz/corpus/TARGET) are only read; what the
# fuzzer learns goes to build-fuzz/corpus/TARGET. A crash is saved as
# build-fuzz/TARGET-crash-<sha1>: fix it, then copy it into
# tests/fuzz/regressions/TARGET/ so that `make test` replays it from then on.
# A single allocation above FUZZ_MALLOC_MB is a finding: inputs are a few KB
# and nothing may allocate more than its input justifies.
FUZZ_PKGS      := clang libclang-rt-14-dev
FUZZ_CC        := clang
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   ?= safetensors profile args
FUZZ_TIMEOUT_S ?= 10
FUZZ_RSS_MB    ?= 2048
FUZZ_MALLOC_MB ?= 128
FUZZ_CFLAGS    := $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# The modules the targets reach (the dashboard is not one of them).
FUZZ_MODULES   := engine profiles exports probes
FUZZ_LIB_OBJ   := $(foreach m,$(FUZZ_MODULES),$(patsubst %.c,build-fuzz/%.o,$(wildcard $(m)/*.c)))

.PHONY: fuzz deps-fuzz clean-fuzz

deps-fuzz: deps
	$(call install_missing,$(FUZZ_PKGS))

build-fuzz/%.o: %.c $(wildcard */*.h) $(wildcard *.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# An archive: a target links only the modules it reaches.
build-fuzz/libhstprof.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_targets.h build-fuzz/libhstprof.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libhstprof.a $(LIBS)

fuzz: deps-fuzz $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s (corpus build-fuzz/corpus/$$t, seeds tests/fuzz/corpus/$$t)"; \
	  build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT_S) \
	    -rss_limit_mb=$(FUZZ_RSS_MB) -malloc_limit_mb=$(FUZZ_MALLOC_MB) -dict=tests/fuzz/$$t.dict \
	    -artifact_prefix=build-fuzz/$$t- -print_final_stats=1 \
	    build-fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>build-fuzz/$$t.log \
	  || { tail -n 60 build-fuzz/$$t.log; echo "fuzz_$$t found a problem: see build-fuzz/$$t.log"; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^Done' build-fuzz/$$t.log; \
	done

clean-fuzz:
	rm -rf build-fuzz

clean: clean-fuzz

# The regression test replays the fuzz targets' own entry points (it includes them).
build/tests/test_fuzz_regressions build-asan/tests/test_fuzz_regressions: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)

# ---- clang-tidy (issue 7) -----------------------------------------------------
#   make tidy      the checks of .clang-tidy (which says why each is on or off)
# One stamp per source file, so only what changed is checked again; -j runs
# files in parallel. A finding prints the file's report and fails the target.
TIDY_SRC    := $(LIB_SRC) hstprof.c $(wildcard tests/*.c tests/fuzz/*.c)
TIDY_STAMPS := $(TIDY_SRC:%.c=build/tidy/%.ok)

.PHONY: tidy

tidy: $(TIDY_STAMPS)

build/tidy/%.ok: %.c .clang-tidy $(wildcard */*.h) $(wildcard *.h) $(wildcard tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	@if clang-tidy --quiet $< -- $(CSTD) -I. >$@.log 2>&1; then touch $@; \
	 else grep -v '^[0-9]* warnings\? generated\.$$' $@.log; rm -f $@; exit 1; fi
