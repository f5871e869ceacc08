# Everything installs itself: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BENCH_VENV ?= .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
# The CUDA build of TensorFlow where an NVIDIA driver is present, the CPU build elsewhere.
TF_EXTRA ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
STAMP := $(VENV)/.keras_vis-installed-$(TF_EXTRA)
# tf-keras (needed by xplique) requires the `tensorflow` distribution, not `tensorflow-cpu`.
BENCH_TF_EXTRA := $(if $(filter gpu,$(TF_EXTRA)),gpu,tensorflow)
OUT ?= demo_output

.PHONY: install demo test test-fast bench gallery screenshot clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(TF_EXTRA),dev]"
	touch $@

demo: $(STAMP)
	$(VENV)/bin/keras-vis report --out $(OUT)

# Everything but the `slow` checks: the CI gate.
test: $(STAMP)
	$(PY) -m pytest

# The inner loop: the library's own floors, without keras.applications builds, notebooks, the
# browser, extra processes or the no-mutation sweep (`make test` runs them all).
FAST_MARKERS := not slow and not applications and not notebook and not browser and not subprocess \
	and not sweep
FAST_FOLDERS := tests/core tests/rules tests/attribution tests/maximization tests/deconv \
	tests/inspect tests/metrics
test-fast: $(STAMP)
	$(PY) -m pytest -m "$(FAST_MARKERS)" $(FAST_FOLDERS)

$(BENCH_VENV)/.bench-installed: pyproject.toml benchmarks/requirements.txt
	test -x $(BENCH_PY) || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e ".[$(BENCH_TF_EXTRA)]" -r benchmarks/requirements.txt
	$(BENCH_PY) -m pip install --quiet --no-deps -r benchmarks/requirements-nodeps.txt
	touch $@

bench: $(BENCH_VENV)/.bench-installed
	$(BENCH_PY) benchmarks/run_all.py

gallery: $(STAMP)
	$(PY) -m keras_vis.demo.gallery docs/gallery

# The README's picture of the explorer (needs chromium and chromium-driver).
screenshot: $(STAMP)
	$(PY) -m keras_vis.explorer.screenshot docs/explorer.png

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(OUT) .pytest_cache
