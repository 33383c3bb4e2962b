# hstprof — build, run and test.
#   make            build ./hstprof (installs missing Debian packages first, once)
#   make run        build and start the dashboard on the embedded default model
#   make check      the quick loop while editing: release build, unit and CLI suites
#                   (no sanitizers, no linters), in parallel
#   make test       everything CI runs: check's suites, the same under ASan+UBSan, the
#                   end-to-end scripts, valgrind, cppcheck and clang-tidy, in parallel
#   make unit-asan  the unit and CLI suites under ASan+UBSan only
#   make e2e        the end-to-end scripts only (tests/e2e_*.sh)
#   make V=1 ...    full command lines instead of one short line per file
#
# Sources are found by wildcard: a new .c file in a module directory is built
# without touching this file; a new tests/test_*.c becomes a test binary.
# Header dependencies come from the compiler (-MMD -MP, build*/**/*.d).

CC      ?= cc
OPT     ?= -O3
WARN    := -Wall -Wextra -Werror
CSTD    := -std=c11 -D_GNU_SOURCE
CFLAGS_BASE := $(CSTD) $(WARN) -I. -pthread -g -fno-strict-aliasing
DEPFLAGS := -MMD -MP
LIBS    := -ljansson -lpfm -lpapi -lhwloc -lncursesw -ltinfo -lmicrohttpd -lm -pthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
NPROC   := $(shell nproc 2>/dev/null || echo 2)

# Debian packages the build needs, and the extra ones the tests need.
BUILD_PKGS := gcc make pkg-config libncurses-dev libpfm4-dev libpapi-dev libhwloc-dev libjansson-dev libmicrohttpd-dev
# prometheus: promtool and a real server for the metrics end-to-end test; curl
# and jq to scrape and query it; libxml2-utils: xmllint parses the plots back.
TEST_PKGS  := libcmocka-dev tmux hwloc cppcheck valgrind prometheus curl jq libxml2-utils

MODULES   := engine probes tui profiles exports exports/serve
# The commands (cmd_*.c) sit beside hstprof.c, one file each.
LIB_SRC   := $(foreach m,$(MODULES),$(wildcard $(m)/*.c)) $(wildcard cmd_*.c)
LIB_OBJ   := $(LIB_SRC:%.c=build/%.o)
LIB_OBJ_SAN := $(LIB_SRC:%.c=build-asan/%.o)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(TEST_SRC:tests/%.c=build/tests/%)
TEST_BIN_SAN := $(TEST_SRC:tests/%.c=build-asan/tests/%)
TEST_HELPERS := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
HELPER_OBJ := $(TEST_HELPERS:%.c=build/%.o)
HELPER_OBJ_SAN := $(TEST_HELPERS:%.c=build-asan/%.o)

# Quiet by default: "  CC      build/engine/model.o"; V=1 prints the commands.
ifeq ($(V),1)
  Q :=
  say :=
else
  Q := @
  say = @printf '  %-7s %s\n' '$(1)' '$(2)';
endif

.PHONY: all deps deps-test run check test unit-asan e2e lint clean bench

all: hstprof

# ---- Debian packages: checked once, behind a stamp ----------------------------------
# Every compile waits for the stamp (order-only), so `make -j2` on a fresh
# machine installs the packages before it compiles anything.
deps:
	$(Q)bash .ci/deps.sh $(BUILD_PKGS)

deps-test: deps
	$(Q)bash .ci/deps.sh $(TEST_PKGS)

build/.deps-build.ok: .ci/deps.sh Makefile
	$(Q)bash .ci/deps.sh $(BUILD_PKGS)
	$(Q)mkdir -p $(dir $@) && touch $@

build/.deps-test.ok: .ci/deps.sh Makefile | build/.deps-build.ok
	$(Q)bash .ci/deps.sh $(TEST_PKGS)
	$(Q)touch $@

# ---- the version and the commit reports name ------------------------------------------
# `hstprof --version` prints both. Written each time make reads this file (so
# `make -n` sees it too), replaced only when the version, HEAD or the tree's
# state changed: a commit or an edit rebuilds what includes it, and nothing else.
VERSION := 0.1.0
VERSION_CMD := v="$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"; \
  new=build/version.h.$$$$; mkdir -p build && \
  printf '\#define HSTPROF_VERSION "%s"\n\#define HSTPROF_GIT_COMMIT "%s"\n' "$(VERSION)" "$$v" >$$new && \
  if cmp -s $$new build/version.h; then rm -f $$new; else mv $$new build/version.h; fi
$(shell $(VERSION_CMD))

# The file that includes it (the .d files know it after the first build).
build/probes/system.o build-asan/probes/system.o build-fuzz/probes/system.o: build/version.h

# ---- release build ---------------------------------------------------------------------
hstprof: build/hstprof.o build/libhstprof.a
	$(call say,LD,$@)$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $^ $(LIBS)

build/libhstprof.a: $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

build/%.o: %.c | build/.deps-build.ok
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(CFLAGS_BASE) $(OPT) $(DEPFLAGS) -c -o $@ $<

# The test programs themselves only drive the library: -O1 halves their
# compile time (16 s of CPU at -O3); the library they test stays at $(OPT).
build/tests/%.o: OPT := -O1

$(TEST_BIN): build/tests/%: build/tests/%.o $(HELPER_OBJ) build/libhstprof.a
	$(call say,LD,$@)$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $^ $(LIBS) -lcmocka

# ---- ASan+UBSan build --------------------------------------------------------------------
build-asan/hstprof: build-asan/hstprof.o build-asan/libhstprof.a
	$(call say,LD,$@)$(CC) $(CFLAGS_BASE) -O1 $(SAN) -o $@ $^ $(LIBS)

build-asan/libhstprof.a: $(LIB_OBJ_SAN)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

build-asan/%.o: %.c | build/.deps-build.ok
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(CFLAGS_BASE) $(SAN_OPT) $(SAN) $(DEPFLAGS) -c -o $@ $<

# -O1 keeps ASan's reports readable. The compute kernels are the exception:
# at -O1 each of their loads is a shadow check around spilled registers and
# the engine-heavy ASan suites spent most of their time there (run on hst-v7.0
# 9.3 s vs 5.4 s at -O2). -O2 keeps every check and optimises around them;
# -O3 would cost 24 s of compile for this one file.
SAN_OPT := -O1
build-asan/engine/kernels.o: SAN_OPT := -O2

$(TEST_BIN_SAN): build-asan/tests/%: build-asan/tests/%.o $(HELPER_OBJ_SAN) build-asan/libhstprof.a
	$(call say,LD,$@)$(CC) $(CFLAGS_BASE) -O1 $(SAN) -o $@ $^ $(LIBS) -lcmocka

# The tests' objects need cmocka; make would delete them as intermediate files.
TEST_OBJ_ALL := $(TEST_SRC:%.c=build/%.o) $(TEST_SRC:%.c=build-asan/%.o) $(HELPER_OBJ) $(HELPER_OBJ_SAN)
$(TEST_OBJ_ALL): | build/.deps-test.ok
.SECONDARY: $(TEST_OBJ_ALL)

run: hstprof
	./hstprof

# ---- tests --------------------------------------------------------------------------------
# tests/run_all.sh runs the suites in parallel, each in its own temporary
# directory (HOME, XDG_CACHE_HOME, XDG_CONFIG_HOME and the working directory),
# and closes with "N passed, M failed". The builds use every core unless
# make was given its own -j.
JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))
RUN_ALL = HSTPROF=./hstprof HSTPROF_ASAN=build-asan/hstprof bash tests/run_all.sh

# Benchmarks print figures and never fail on a timing (tests assert no times).
bench: hstprof
	tests/bench_contend.sh

check: build/.deps-test.ok
	@$(MAKE) --no-print-directory $(JOBS) hstprof $(TEST_BIN)
	@$(RUN_ALL) $(TEST_BIN)

# clang-tidy needs no build: it checks the sources while they compile (its
# findings are reported by the clang-tidy suite, which checks again only the
# files that failed).
test: build/.deps-test.ok
	@$(MAKE) --no-print-directory $(JOBS) -k tidy >/dev/null 2>&1 & tidy=$$!; \
	$(MAKE) --no-print-directory $(JOBS) hstprof build-asan/hstprof $(TEST_BIN) $(TEST_BIN_SAN); rc=$$?; \
	wait $$tidy; [ $$rc -eq 0 ] || exit $$rc; \
	$(RUN_ALL) --e2e --tools $(TEST_BIN) $(TEST_BIN_SAN)

unit-asan: build/.deps-test.ok
	@$(MAKE) --no-print-directory $(JOBS) build-asan/hstprof $(TEST_BIN_SAN)
	@$(RUN_ALL) $(TEST_BIN_SAN)

e2e: build/.deps-test.ok
	@$(MAKE) --no-print-directory $(JOBS) hstprof build-asan/hstprof
	@$(RUN_ALL) --e2e

lint: build/.deps-test.ok
	$(call say,CPPCHECK,$(MODULES) hstprof.c cmd_*.c tests)cppcheck --quiet --error-exitcode=1 \
	  --enable=warning,performance,portability --inline-suppr --suppress=missingIncludeSystem \
	  -I. $(MODULES) hstprof.c $(wildcard cmd_*.c) tests

clean: clean-fuzz
	rm -rf build build-asan hstprof

-include $(shell find build build-asan build-fuzz -name '*.d' 2>/dev/null)

# ---- fuzzing -------------------------------------------------------------------
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
	$(Q)bash .ci/deps.sh $(FUZZ_PKGS)

build-fuzz/%.o: %.c | build/.deps-build.ok
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# An archive: a target links only the modules it reaches.
build-fuzz/libhstprof.a: $(FUZZ_LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_targets.h build-fuzz/libhstprof.a
	$(call say,LD,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libhstprof.a $(LIBS)

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

# ---- clang-tidy ----------------------------------------------------------------
#   make tidy      the checks of .clang-tidy (which says why each is on or off)
# One stamp per source file, so only what changed is checked again; -j runs
# files in parallel. A finding prints the file's report and fails the target.
# Each stamp records the headers its file includes (the compiler's -MM), so a
# header change checks again only the files that include it.
# The path-sensitive analyzer explores at most max-nodes states per function
# (default 225,000); the functions that reach the limit (parsers with loops
# over switch statements) took most of its time. At 75,000, with every
# core.* and unix.* check on (the disabled ones too), it reports exactly the
# same 15 findings on this tree as the default, in 74 s of CPU instead of 185.
TIDY_ANALYZER := -Xclang -analyzer-config -Xclang max-nodes=75000
TIDY_SRC    := $(LIB_SRC) hstprof.c $(wildcard tests/*.c tests/fuzz/*.c)
TIDY_STAMPS := $(TIDY_SRC:%.c=build/tidy/%.ok)

.PHONY: tidy

tidy: $(TIDY_STAMPS)

build/tidy/%.ok: %.c .clang-tidy | build/.deps-build.ok
	@mkdir -p $(dir $@)
	$(call say,TIDY,$<)if clang-tidy --quiet $< -- $(CSTD) -I. $(TIDY_ANALYZER) >$@.log 2>&1; then \
	  $(CC) $(CSTD) -I. -MM -MP -MT $@ $< >build/tidy/$*.d && touch $@; \
	 else grep -v '^[0-9]* warnings\? generated\.$$' $@.log; rm -f $@; exit 1; fi
