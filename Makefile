# recsys: PGXS build plus the targets a user runs on a fresh Debian machine:
#   make demo    install what is missing, build, install, run the demo in a throwaway cluster
#   make test    the same set-up, then pg_regress + pgTAP + cluster scripts + every fuzz
#                target for TEST_FUZZ_SECONDS; ends with "N passed, N failed"
#   make bench   the same set-up, then the benchmarks (ratios against baselines, one run)
#   make fuzz    libFuzzer targets in test/fuzz, FUZZ_SECONDS each; one "ok"/"not ok" line per target

EXTENSION  = recsys

MODULE_big = $(EXTENSION)
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# Install scripts: sql/recsys--0.1.0.sql is the first release, frozen; every later
# version is an upgrade script sql/recsys--A--B.sql.  CREATE EXTENSION installs the
# default version by running 0.1.0 and then the upgrade chain, so a fresh install and
# an upgraded one run the same statements and cannot drift apart.
DATA       = $(wildcard sql/$(EXTENSION)--*.sql)

# pg_regress: every sql/NAME.sql with expected/NAME.out
REGRESS      = $(sort $(filter-out $(EXTENSION)--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --load-extension=$(EXTENSION)

# OpenBLAS (cblas + its Fortran LAPACK symbols); Debian's pthread build by default
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)

# The extension opens OpenBLAS when a process first needs it (src/blas.h) by the
# soname the linker would have recorded; the unit drivers and benches link it.
BLAS_SONAME := $(or $(shell objdump -p $$(gcc -print-file-name=libopenblas.so) 2>/dev/null | awk '/SONAME/ {print $$2}'),libopenblas.so.0)

PG_CPPFLAGS = -I$(srcdir)/src $(BLAS_CFLAGS) -DRECSYS_BLAS_DLOPEN -DRECSYS_BLAS_LIBRARY='"$(BLAS_SONAME)"'
PG_CFLAGS   = -Wall -Wmissing-prototypes -Wpointer-arith -Werror=vla -Wno-declaration-after-statement
SHLIB_LINK  = -ldl -lpthread -lm

# PGXS tracks no header dependencies: rebuild every object when a header changes
# (a struct layout that changed under a stale object is a crash, not a warning)
$(OBJS): $(wildcard src/*.h)

# The dense kernels: intrinsics per instruction set, chosen at load time
# (kernels.c).  No implicit contraction: the in-order sums of short vectors then
# round alike on every CPU; the vector paths ask for their FMAs explicitly.
src/kernels.o: CFLAGS += -O3 -ffp-contract=off -fno-math-errno

EXTRA_CLEAN = test/fuzz/*_fuzz test/fuzz/*_fuzz.log test/unit/*_test bench/kernels_bench bench/neighbours_bench results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
all:
	@echo "pg_config not found: run 'make deps' (or make test / make demo, which do it)" >&2; exit 1
endif
.DEFAULT_GOAL := all

# --- fresh-machine set-up ---------------------------------------------------
DEB_PACKAGES = make gcc pkgconf postgresql-15 postgresql-server-dev-15 libopenblas-dev \
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl postgresql-15-cron
FUZZ_PACKAGES = clang libclang-rt-14-dev

.PHONY: deps fuzz-deps demo test bench fuzz installed
deps:
	@test/install-deps $(DEB_PACKAGES)

fuzz-deps:
	@test/install-deps $(FUZZ_PACKAGES)

# Build and install; TEST_DESTDIR installs into a private tree instead (development
# clusters load it through Debian's extension_destdir).
installed: deps
	$(MAKE) all
	$(MAKE) install $(if $(TEST_DESTDIR),DESTDIR=$(TEST_DESTDIR))

# Seconds each fuzz target runs in make test (0 skips fuzzing, for a quick local run)
TEST_FUZZ_SECONDS ?= 10

test: installed fuzz-deps
	TEST_DESTDIR=$(TEST_DESTDIR) TEST_FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) test/run

demo: installed
	TEST_DESTDIR=$(TEST_DESTDIR) test/virtualenv psql -X -v ON_ERROR_STOP=1 -f test/demo.sql

bench: installed
	TEST_DESTDIR=$(TEST_DESTDIR) test/virtualenv bench/run

# --- fuzzing ------------------------------------------------------------------
# Each test/fuzz/NAME_fuzz.c is a libFuzzer target that includes the plain-C sources it
# exercises; every target runs FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = $(patsubst %.c,%,$(wildcard test/fuzz/*_fuzz.c))

test/fuzz/%_fuzz: test/fuzz/%_fuzz.c $(wildcard src/*.h src/*.c test/fuzz/*.h)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -o $@ $< -lm

fuzz: fuzz-deps
	$(MAKE) $(FUZZ_TARGETS)
	@failed=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p $$t-corpus; \
		echo "== $$t ($(FUZZ_SECONDS) s)"; \
		if $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
			-artifact_prefix=test/fuzz/ $$t-corpus $$(test -d $$t-seeds && echo $$t-seeds) \
			>$$t.log 2>&1; then \
			grep -E '^stat::(number_of_executed_units|new_units_added)' $$t.log; \
			echo "ok - fuzz $$(basename $$t)"; \
		else \
			tail -n 40 $$t.log; \
			echo "not ok - fuzz $$(basename $$t): a crash or sanitizer report, input saved in test/fuzz/"; \
			failed=1; \
		fi; \
	done; exit $$failed

# --- unit drivers -------------------------------------------------------------
# Each test/unit/NAME_test.c is a TAP driver for plain-C code (no PostgreSQL),
# linked against UNIT_SRCS and OpenBLAS; make unit builds and runs every driver and
# fails if any prints "not ok".  UNIT_ARGS=... passes an environment to the drivers
# (NEIGHBOURS_TEST_QUICK=1 skips the timings).
UNIT_SRCS    = src/pool.c src/neighbours.c src/knn.c src/ease.c src/diversity.c src/kernels.c src/serving.c src/ann.c
UNIT_TARGETS = $(patsubst %.c,%,$(wildcard test/unit/*_test.c))

test/unit/%_test: test/unit/%_test.c $(UNIT_SRCS) $(wildcard src/*.h)
	gcc -O2 -g -fopenmp-simd -Wall -Wmissing-prototypes -Werror=vla -Isrc $(BLAS_CFLAGS) -o $@ $< $(UNIT_SRCS) $(BLAS_LIBS) -lpthread -lm

.PHONY: unit unit-build
unit-build: $(UNIT_TARGETS)

unit: unit-build
	@set -e; for t in $(UNIT_TARGETS); do echo "== $$t"; env $(UNIT_ARGS) $$t; done

# the neighbourhood fits' benchmark driver (plain C, see its header for usage)
bench/neighbours_bench: bench/neighbours_bench.c $(UNIT_SRCS) $(wildcard src/*.h)
	gcc -O2 -g -Wall -Isrc $(BLAS_CFLAGS) -o $@ $< $(UNIT_SRCS) $(BLAS_LIBS) -lpthread -lm
