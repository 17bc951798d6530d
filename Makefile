# Heimdall — build, test, demo.  `make help` lists the targets.
#
# Flags come from pkg-config. SANITIZE=1 builds with ASan+UBSan into
# build-san/ so that sanitizer and plain objects never mix.

PREFIX ?= /usr/local
SANITIZE ?= 0
PYTHON ?= /usr/bin/python3

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT ?= -O1 -g
else
BUILD ?= build
SANFLAGS :=
OPT ?= -O2 -g
endif

CC := gcc
PKGS := hdf5-openmpi yaml-0.1 libcurl fftw3f openblas proj openssl jansson libxml-2.0 libdeflate
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# PROJ (on the first geodesic, src/geo/geo.c), OpenBLAS (on the first matrix
# product, src/nn/blas.c) and libxml2 (on track's first KML, src/track/io.c)
# are opened when needed, not linked (src/core/dl.h): their headers only, and
# the SONAMEs of the libraries to open
DL_LIBS := -lproj -lopenblas -lxml2
PKG_LIBS := $(filter-out $(DL_LIBS),$(shell pkg-config --libs $(PKGS) 2>/dev/null))
soname = $(shell objdump -p "$$(pkg-config --variable=libdir $(1))/$(2)" 2>/dev/null | awk '/SONAME/ {print $$2}')
PROJ_SONAME = $(call soname,proj,libproj.so)
BLAS_SONAME = $(call soname,openblas,libopenblas.so)
XML2_SONAME = $(call soname,libxml-2.0,libxml2.so)
# GSL's small matrix routines (the solvers' covariances) use GSL's own CBLAS,
# the same arithmetic on every machine (OpenBLAS, linked, had taken them over
# with kernels chosen per CPU).
# fftw3-mpi has no .pc: each _mpi library before its base.
LIBS := -lfftw3f_mpi $(PKG_LIBS) -lgsl -lgslcblas -lm -lpthread

GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
GIT_DIRTY := $(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)

CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
          -Isrc -Itests $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS := $(SANFLAGS)

LIB_SRC := $(sort $(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/src/config/embedded.o
CMD_SRC := $(sort $(wildcard cmd/*.c))
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
EMBEDDED := $(wildcard configs/*.yaml configs/stations/*.yaml)

.PHONY: all deps check check-unit check-cli demo demo-recordings bench pipeline notebooks fuzz fuzz-long fuzz-run soak install clean help FORCE

all: $(BUILD)/heimdall

deps:
	@bash scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Complex arithmetic without C99's Inf/NaN recovery paths (__mulsc3): the
# signal code multiplies finite spectra only, and this halves its loops.
$(BUILD)/obj/src/dsp/%.o $(BUILD)/obj/src/sim/%.o: CFLAGS += -fcx-limited-range
$(BUILD)/obj/src/geo/geo.o: CFLAGS += -DHD_PROJ_SONAME='"$(PROJ_SONAME)"'
$(BUILD)/obj/src/nn/blas.o: CFLAGS += -DHD_BLAS_SONAME='"$(BLAS_SONAME)"'
$(BUILD)/obj/src/track/io.o: CFLAGS += -DHD_XML2_SONAME='"$(XML2_SONAME)"'
# net.c: loops over spectra vectorise at -O3 once sqrtf need not set errno
# and comparisons may be evaluated eagerly; results are unchanged (no
# reassociation, no fast-math).
$(BUILD)/obj/src/dsp/net.o: CFLAGS += -O3 -fno-trapping-math -fno-math-errno
# modtdoa.c: the same for its series and segment loops.
$(BUILD)/obj/src/dsp/modtdoa.o: CFLAGS += -O3 -fno-trapping-math -fno-math-errno
# nn.c: the training loops (GELU through nn_expf, layer norm, pooling)
# vectorise at -O3; no reassociation, so results stay deterministic.
$(BUILD)/obj/src/nn/nn.o: CFLAGS += -O3 -fno-trapping-math -fno-math-errno
# captures.c: the /iq unshuffle loop vectorises at -O3.
$(BUILD)/obj/src/capture/captures.o: CFLAGS += -O3
# locate.c: the dense grid's scan along g vectorises at -O3 (no reassociation:
# the same costs at every point, the same positions)
$(BUILD)/obj/src/locate/locate.o: CFLAGS += -O3

# The software identity is rebuilt every time so a binary names its commit.
$(BUILD)/obj/src/core/version.o: src/core/version.c FORCE
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DHD_GIT_COMMIT='"$(GIT_COMMIT)$(GIT_DIRTY)"' -c $< -o $@

# configs/ embedded into the binary (.incbin), so the default runs anywhere.
$(BUILD)/obj/src/config/embedded.o: src/config/embedded.S $(EMBEDDED)
	@mkdir -p $(dir $@)
	$(CC) -c $< -Wa,-I$(CURDIR)/configs -o $@

$(BUILD)/libheimdall.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/heimdall: $(CMD_OBJ) $(BUILD)/libheimdall.a
	$(CC) $(LDFLAGS) $(CMD_OBJ) $(BUILD)/libheimdall.a $(LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libheimdall.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(BUILD)/libheimdall.a $(LIBS) -lfftw3 -lxml2 -o $@

# Tests: unit binaries and CLI scripts, all TAP, run by prove.
# HEIMDALL points the scripts at the binary under test.
TEST_ENV := HEIMDALL=$(CURDIR)/$(BUILD)/heimdall BUILD=$(CURDIR)/$(BUILD) PYTHON=$(PYTHON) \
            OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
            ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# tests/logged keeps each test's output in $(BUILD)/test-logs; when a run
# fails, tests/failures prints the failing tests' "not ok" lines and
# diagnostics last (prove shows neither, and CI keeps only the tail)
TEST_LOGS = $(CURDIR)/$(BUILD)/test-logs
PROVE = rm -rf $(TEST_LOGS) && $(TEST_ENV) TEST_LOGS=$(TEST_LOGS) prove --exec $(CURDIR)/tests/logged --timer
FAILURES = || { echo; echo "== what the failing tests said ($(TEST_LOGS))"; tests/failures $(TEST_LOGS); exit 1; }
# make check runs TEST_JOBS tests at once (most of its wall time is waiting:
# loopback servers, the live soak's real-time minute, Slurm job states);
# the longest first, so the two slots stay full
TEST_JOBS ?= 2

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	cd $(CURDIR) && $(PROVE) -j$(TEST_JOBS) \
	    $(sort $(wildcard tests/e2e/*.t)) $(sort $(wildcard tests/cli/*.t)) $(UNIT_BIN) $(FAILURES)

# the live soak (tests/e2e/live_soak.t) for SOAK_SECONDS (1 h); make check runs it for 60 s
SOAK_SECONDS ?= 3600
soak: all
	cd $(CURDIR) && export SOAK_SECONDS=$(SOAK_SECONDS) && $(PROVE) tests/e2e/live_soak.t $(FAILURES)

check-unit: all $(UNIT_BIN)
	$(PROVE) $(UNIT_BIN) $(FAILURES)

check-cli: all
	$(PROVE) $(sort $(wildcard tests/cli/*.t)) $(FAILURES)

DEMO_DIR ?= results/demo
demo: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(DEMO_DIR)
	$(BUILD)/heimdall collect --force -o $(DEMO_DIR)/captures.h5
	$(BUILD)/heimdall featurize --force -o $(DEMO_DIR)/features.h5 $(DEMO_DIR)/captures.h5
	$(BUILD)/heimdall localize -q --force -o $(DEMO_DIR)/positions.geojson $(DEMO_DIR)/features.h5
	$(BUILD)/heimdall evaluate -q --force -o $(DEMO_DIR)/eval.h5 $(DEMO_DIR)/features.h5
	@echo
	@echo "demo: captures  $(DEMO_DIR)/captures.h5   (heimdall info $(DEMO_DIR)/captures.h5)"
	@echo "demo: features  $(DEMO_DIR)/features.h5"
	@echo "demo: positions $(DEMO_DIR)/positions.geojson, .kml (Google Earth), .jsonl"
	@echo "demo: scores    $(DEMO_DIR)/eval.h5, $(DEMO_DIR)/report.json"
	@echo "demo: map       $(DEMO_DIR)/eval_map.png (GMT; restyle: bash $(DEMO_DIR)/eval_map.sh); error CDF $(DEMO_DIR)/eval_cdf.png (cd $(DEMO_DIR) && gnuplot eval.gp)"
	@echo "demo: read them with: $(PYTHON) -c \"import h5py; f = h5py.File('$(DEMO_DIR)/eval.h5'); print(dict(f.attrs))\""

# Locate a transmitter from KiwiSDR recordings (issue 16): simulated 30 s HF
# captures exported as kiwiwav in the TDoA service's layout, imported,
# featurized, localized; prints the position, its ellipse and its error.
DEMO_REC_DIR ?= results/demo-recordings
demo-recordings: deps
	@$(MAKE) --no-print-directory all
	HEIMDALL=$(BUILD)/heimdall bash scripts/demo-recordings.sh $(DEMO_REC_DIR)

# Every bench line names the machine it ran on (CPU model, OpenBLAS core
# type, cores): a ratio means nothing without it.
# The core type is the one OpenBLAS picked on this CPU (heimdall --version
# asks it; OPENBLAS_CORETYPE overrides it).
BENCH_CPU := $(shell sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr -d '|')
bench: deps
	@$(MAKE) --no-print-directory all
	@BENCH_M="$(BENCH_CPU); OpenBLAS core $$($(BUILD)/heimdall --version | sed -n 's/.*(core \(.*\))$$/\1/p' | tr -d '|'); $$(nproc) cores"; \
	export BENCH_M; echo "bench: machine $$BENCH_M"; \
	for b in $(BENCH_SCRIPTS); do bash -o pipefail -c 'HEIMDALL=$(BUILD)/heimdall PYTHON=$(PYTHON) bash "$$0" | sed -u "/^bench /s|\$$| [machine: $$BENCH_M]|"' $$b || exit 1; done
BENCH_SCRIPTS ?= bench/featurize.sh bench/localize.sh bench/train.sh bench/mlat.sh bench/track.sh bench/checksum.sh bench/scale.sh bench/scale_sparse.sh bench/recordings.sh

# An experiment as file dependencies: make pipeline CONFIG=configs/experiments/<name>.yaml
# writes results/<name>/: the training campaign {captures,features}.h5 (the
# config's seed) and model.h5 trained on it; a separate test campaign
# test-{captures,features}.h5 (seed PIPE_TEST_SEED: the config's seed + 1000
# unless given) on which every method is scored — eval.h5 (+ report.json,
# positions.geojson) and eval_nn.h5 — so the network is never scored on the
# events it trained on. PIPE_LAUNCH="mpirun -np 2" trains on 2 ranks (as
# root: OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1).
# Each stage also depends on a stamp of the config sections it reads
# (heimdall stamp rewrites it only when they change), so editing one
# stage's settings reruns that stage and those after it; `make -n pipeline
# CONFIG=…` shows which (the stamps are refreshed even under -n: `+`).
ifdef CONFIG
PIPE_NAME := $(basename $(notdir $(CONFIG)))
PIPE_DIR ?= results/$(PIPE_NAME)
HD ?= $(BUILD)/heimdall
PIPE_SEED := $(or $(shell sed -n 's/^seed: *\([0-9][0-9]*\).*/\1/p' $(CONFIG) | head -n 1),1)
PIPE_TEST_SEED ?= $(shell echo $$(( $(PIPE_SEED) + 1000 )))
pipeline: $(PIPE_DIR)/eval.h5 $(PIPE_DIR)/positions.geojson $(PIPE_DIR)/eval_nn.h5
	@echo "pipeline: trained on the campaign of seed $(PIPE_SEED) ($(PIPE_DIR)/features.h5); every method scored on the test campaign of seed $(PIPE_TEST_SEED) ($(PIPE_DIR)/test-features.h5)"
	@echo "pipeline: results in $(PIPE_DIR)/ (check them: $(HD) verify -c $(CONFIG) $(PIPE_DIR))"
$(PIPE_DIR)/.stamp-%: FORCE | $(HD)
	+@mkdir -p $(PIPE_DIR) && $(HD) stamp -c $(CONFIG) -o $@ $*
$(PIPE_DIR)/.test-seed: FORCE
	+@mkdir -p $(PIPE_DIR) && { [ "$$(cat $@ 2>/dev/null)" = "$(PIPE_TEST_SEED)" ] || echo "$(PIPE_TEST_SEED)" > $@; }
$(PIPE_DIR)/captures.h5: $(PIPE_DIR)/.stamp-captures | $(HD)
	$(HD) collect -q --force -c $(CONFIG) -o $@
$(PIPE_DIR)/test-captures.h5: $(PIPE_DIR)/.stamp-captures $(PIPE_DIR)/.test-seed | $(HD)
	$(HD) collect -q --force -c $(CONFIG) --set seed=$(PIPE_TEST_SEED) -o $@
$(PIPE_DIR)/features.h5: $(PIPE_DIR)/captures.h5 $(PIPE_DIR)/.stamp-features | $(HD)
	$(HD) featurize -q --force -c $(CONFIG) -o $@ $<
$(PIPE_DIR)/test-features.h5: $(PIPE_DIR)/test-captures.h5 $(PIPE_DIR)/.stamp-features | $(HD)
	$(HD) featurize -q --force -c $(CONFIG) -o $@ $<
$(PIPE_DIR)/eval.h5: $(PIPE_DIR)/test-features.h5 $(PIPE_DIR)/.stamp-evaluation | $(HD)
	$(HD) evaluate -q --force -c $(CONFIG) -o $@ $<
$(PIPE_DIR)/positions.geojson: $(PIPE_DIR)/test-features.h5 $(PIPE_DIR)/.stamp-evaluation | $(HD)
	$(HD) localize -q --force -c $(CONFIG) -o $@ $<
$(PIPE_DIR)/model.h5: $(PIPE_DIR)/features.h5 $(PIPE_DIR)/.stamp-model | $(HD)
	$(PIPE_LAUNCH) $(HD) train -q --force -c $(CONFIG) -o $@ $<
$(PIPE_DIR)/eval_nn.h5: $(PIPE_DIR)/test-features.h5 $(PIPE_DIR)/model.h5 $(PIPE_DIR)/.stamp-evaluation | $(HD)
	$(HD) evaluate -q --force -c $(CONFIG) --method nn -m $(PIPE_DIR)/model.h5 -o $@ $<
else
pipeline:
	@echo "usage: make pipeline CONFIG=configs/experiments/<name>.yaml" >&2; exit 2
endif

notebooks: deps
	@$(MAKE) --no-print-directory all
	@HEIMDALL=$(BUILD)/heimdall bash scripts/notebooks.sh

# libFuzzer targets: every tests/fuzz/fuzz_*.c, built with clang against the
# library compiled with clang's sanitizers in build-fuzz/, each run for
# FUZZ_SECONDS (corpora under build-fuzz/corpus/, crashes fail the target).
# The HDF5 readers' targets (calib, model) edit real files made here by
# build/heimdall (build-fuzz/seeds/). `make fuzz-long` runs each for 10
# minutes (not part of check); every run ends with its corpus size.
FUZZ_SECONDS ?= 30
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Isrc -Itests $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(BUILD)/obj/src/config/embedded.o
FUZZ_SEEDS := $(FUZZ_BUILD)/seeds

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
-include $(wildcard $(FUZZ_BUILD)/obj/src/*/*.d)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_LIB_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJ) $(LIBS) -o $@

$(FUZZ_SEEDS)/.made: $(BUILD)/heimdall configs/smoke.yaml
	@mkdir -p $(FUZZ_SEEDS)
	$(BUILD)/heimdall collect -q --force -c configs/smoke.yaml -o $(FUZZ_SEEDS)/captures.h5
	$(BUILD)/heimdall featurize -q --force -c configs/smoke.yaml -o $(FUZZ_SEEDS)/features.h5 $(FUZZ_SEEDS)/captures.h5
	$(BUILD)/heimdall train -q --force -c configs/smoke.yaml --set train.epochs=2 -o $(FUZZ_SEEDS)/model.h5 $(FUZZ_SEEDS)/features.h5
	$(BUILD)/heimdall calibrate -q --force -o $(FUZZ_SEEDS)/calib.h5 $(FUZZ_SEEDS)/features.h5 >/dev/null
	@touch $@

fuzz: deps
	@$(MAKE) --no-print-directory $(BUILD)/obj/src/config/embedded.o $(BUILD)/heimdall
	@$(MAKE) --no-print-directory fuzz-run

fuzz-long: deps
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=600

fuzz-run: $(FUZZ_BIN) $(FUZZ_SEEDS)/.made
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
	  mkdir -p $(FUZZ_BUILD)/tmp; TMPDIR=$(CURDIR)/$(FUZZ_BUILD)/tmp HD_FUZZ_SEEDS=$(FUZZ_SEEDS) $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -malloc_limit_mb=256 \
	      $(FUZZ_BUILD)/corpus/$$n $$(ls -d tests/fuzz/corpus/$$n 2>/dev/null) \
	      >$(FUZZ_BUILD)/$$n.log 2>&1 \
	    || { tail -n 40 $(FUZZ_BUILD)/$$n.log; exit 1; }; \
	  tail -n 1 $(FUZZ_BUILD)/$$n.log; \
	  echo "fuzz: $$n: $$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' $(FUZZ_BUILD)/$$n.log) runs in $(FUZZ_SECONDS) s, corpus $$(ls $(FUZZ_BUILD)/corpus/$$n | wc -l) inputs ($$(du -sk $(FUZZ_BUILD)/corpus/$$n | cut -f1) KiB)"; done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/heimdall/configs/stations
	install -m 755 $(BUILD)/heimdall $(DESTDIR)$(PREFIX)/bin/heimdall
	install -m 644 configs/*.yaml $(DESTDIR)$(PREFIX)/share/heimdall/configs/
	install -m 644 configs/stations/*.yaml $(DESTDIR)$(PREFIX)/share/heimdall/configs/stations/

clean:
	rm -rf build build-san build-fuzz

help:
	@echo "make            build build/heimdall"
	@echo "make check      install missing Debian packages, build, run every TAP test (prove, TEST_JOBS=2 at once)"
	@echo "make check SANITIZE=1   the same under AddressSanitizer + UBSan (in build-san/)"
	@echo "make demo       install, build, run the pipeline on the embedded default; prints where results are"
	@echo "make demo-recordings  locate a transmitter from simulated KiwiSDR recordings (kiwiwav, TDoA layout)"
	@echo "make bench      benchmarks against peer implementations (ratios)"
	@echo "make notebooks  execute notebooks/*.ipynb headless on the demo results (results/notebooks/)"
	@echo "make pipeline CONFIG=configs/experiments/NAME.yaml   an experiment as file dependencies in results/NAME/"
	@echo "make fuzz       libFuzzer targets tests/fuzz/fuzz_*.c (clang), each FUZZ_SECONDS (30)"
	@echo "make fuzz-long  the same, each for 10 minutes (FUZZ_SECONDS=600; not part of check)"
	@echo "make soak [SOAK_SECONDS=3600]   the live soak: 32 real-time loopback KiwiSDR emulators for 1 h (60 s in check)"
	@echo "make install PREFIX=/usr/local   install the binary and configs"
	@echo "make fuzz [FUZZ_SECONDS=30]   build tests/fuzz/fuzz_*.c with clang (libFuzzer+ASan+UBSan), run each"
	@echo "make clean      remove build outputs"

FORCE:

# keep test objects between runs
.SECONDARY:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
