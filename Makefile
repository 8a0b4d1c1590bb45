# Two commands do all set-up: `make run` (pipeline on the sample data) and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast validate accuracy bench bench-quarters sample clean

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

test: $(STAMP)
	$(PY) -m pytest -q

# The inner loop: everything but the end-to-end runs, signals and benchmarks marked slow, on
# both cores. `make test` (and CI) runs everything, one test at a time.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -n 2

accuracy: $(STAMP)
	$(PY) -m tools.evaluate --sample sample_data/config.yaml --generated 200000
	$(PY) -m tools.febrl

bench: $(STAMP)
	$(PY) -m tools.bench

bench-quarters: $(STAMP)
	$(PY) -m tools.bench --quarters

sample: $(STAMP)
	$(VENV)/bin/hnf-match sample --families 300 --seed 2026 --out sample_data

clean:
	rm -rf $(VENV) out .cache
