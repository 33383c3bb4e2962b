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
LIB_SRC   := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
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
test: deps-test hstprof build-asan/hstprof $(TEST_BIN) $(TEST_BIN_SAN)
	@HSTPROF=./hstprof HSTPROF_ASAN=build-asan/hstprof bash tests/run_all.sh $(TEST_BIN) $(TEST_BIN_SAN)

lint: deps-test
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I. $(MODULES) hstprof.c tests

clean:
	rm -rf build build-asan hstprof
