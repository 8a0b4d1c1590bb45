# Two commands do all set-up: `make run` (pipeline on the sample data) and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast validate accuracy bench bench-quarters bench-spark sample clean browser

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/hnf-match run --config sample_data/config.yaml

validate: $(STAMP)
	$(VENV)/bin/hnf-match validate --config sample_data/config.yaml

# Everything, on both cores (about 8 minutes here; 13 one test at a time).
test: $(STAMP) browser
	$(PY) -m pytest -q -n 2

# The review page's browser test drives Debian's chromium through its chromium-driver. They
# are installed when missing and we are root; otherwise that test is skipped and says why.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium chromium-driver; \
	else echo "chromium/chromium-driver missing and not root: the review page's browser test will be skipped"; fi

# The inner loop: everything but the end-to-end runs, signals and benchmarks marked slow, on
# both cores. `make test` (and CI) runs everything, on both cores too.
test-fast: $(STAMP) browser
	$(PY) -m pytest -q -m "not slow" -n 2

accuracy: $(STAMP)
	$(PY) -m tools.evaluate --sample sample_data/config.yaml --generated 200000
	$(PY) -m tools.febrl

bench: $(STAMP)
	$(PY) -m tools.bench

bench-quarters: $(STAMP)
	$(PY) -m tools.bench --quarters

# Both engines on generated 200k and 1M rows (Spark on local[2]); ROWS="200000" for one size.
bench-spark: $(STAMP)
	$(PY) -m tools.bench_spark $(if $(ROWS),--rows $(ROWS))

sample: $(STAMP)
	$(VENV)/bin/hnf-match sample --families 300 --seed 2026 --out sample_data

clean:
	rm -rf $(VENV) out .cache
