# fastlandmarks: `make test` and `make demo` set everything up on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# Two processes share two cores: one thread each keeps torch from oversubscribing them.
export OMP_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg

.PHONY: install sync test test-nbs test-py demo

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# Notebooks are the source: exporting and cleaning them must change nothing.
sync: install
	@snap=$$(mktemp -d); cp -r fastlandmarks nbs $$snap/; \
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean; \
	if ! diff -rq -x __pycache__ $$snap/fastlandmarks fastlandmarks || ! diff -rq $$snap/nbs nbs; then \
	  echo "nbdev-export / nbdev-clean changed the files above: commit notebooks and modules together, cleaned."; exit 1; fi; \
	rm -rf $$snap; $(BIN)/python tools/make_readme.py --check; echo "notebooks and library in sync"

test-nbs: install
	$(BIN)/nbdev-test --n-workers 2

test-py: install
	$(BIN)/pytest tests -n 2 -q

test: sync test-nbs test-py

# Break each published claim in a scratch copy and check that its tests fail (tools/mutation_check.py; about 10 minutes
# on 2 cores, so not part of `make test`).
.PHONY: mutation
mutation: install
	$(BIN)/python tools/mutation_check.py

# The main job: train an HRNet on 1000 synthetic faces (generated on first use), then predict on faces it never saw.
DEMO_SIZE := 96
demo: export OMP_NUM_THREADS = 2
demo: install
	$(BIN)/fastlandmarks train --data synthetic --n-synthetic 1000 --size $(DEMO_SIZE) --arch hrnet_w18_small --head hrnet \
	  --heatmap-size 24 --sigma 2.5 --epochs 16 --bs 32 --lr 1e-2 --pretrained False --patience 4 --out demo_out
	$(BIN)/python tools/demo_check.py demo_out $(DEMO_SIZE)

.PHONY: docs docs-check
# The offline docs site (nbdev-docs needs Quarto): notebooks executed on the CPU, rendered into docs/, then checked.
docs: install
	$(BIN)/python tools/build_docs.py --workers 2
	$(BIN)/python tools/check_docs.py

# The browser check: headless Chromium (Debian's, apt-get installed if missing) screenshots the index and one API page.
docs-check: install
	@test -f docs/index.html || $(MAKE) docs
	$(BIN)/python tools/check_docs.py
	tools/screens.sh docs core.html

# Benchmarks: the CPU set, then benchmarks/REPORT.md (7.5 min on 2 cores at a load average of 1.5), then the real faces
# when HELEN-29 is there ($$FASTLANDMARKS_REAL_DATA or ../shared/data/helen29; about an hour more, the presets trained as they are), with dlib beside them,
# how well each head's confidences rank its errors (about 30 min), the face detectors on them (2 min), then the latency of every head against dlib's shape predictor and its speed–accuracy
# picture from the real-faces table (about 20 min of timing), and head × body trainings on HELEN-29 with their int8 check (about 40 min), and the smoothing of videos made from them
# (15 clips of each of two motions).
BENCHES := encoding decoding pipeline accuracy
.PHONY: bench bench-quick
bench: install
	$(BIN)/pip install -q -e ".[bench]"
	for b in $(BENCHES); do $(BIN)/python benchmarks/bench_$$b.py || exit 1; done
	$(BIN)/python benchmarks/bench_real.py --out benchmarks/real/real_cpu.md
	$(BIN)/python benchmarks/bench_confidence.py --epochs 15
	$(BIN)/python benchmarks/bench_detect.py
	$(BIN)/python benchmarks/bench_video.py
	$(BIN)/python benchmarks/bench_speed_accuracy.py
	$(BIN)/python benchmarks/bench_latency.py --accuracy benchmarks/real/real_cpu.json --int8-from benchmarks/latency/accuracy_cpu.json
	$(BIN)/python benchmarks/report.py

# Every benchmark, the GPU one included, at toy sizes: checks that they run (writes to benchmarks/_out/quick/, not the report).
bench-quick: install
	for b in $(BENCHES) real confidence detect video gpu latency speed_accuracy; do $(BIN)/python benchmarks/bench_$$b.py --quick || exit 1; done
