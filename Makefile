# Everything bootstraps its own virtual environment from the project's files.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_CPU ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: venv test run lint bench bench-service bench-ui vendor screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# Install a CPU torch first where none is present, so the open range in pyproject
	# does not pull a multi-GB CUDA build.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_CPU)"
	$(BIN)/pip install -q -e ".[server,dev]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

run: $(STAMP)
	$(BIN)/python -m server.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/trainer_overhead.py

# The service benches need PostgreSQL and Redis (as `make test` does).
bench-service: $(STAMP)
	$(BIN)/python bench/metric_history.py
	$(BIN)/python bench/sse_fanout.py
	$(BIN)/python bench/sse_latency.py
	$(BIN)/python bench/scheduler_scale.py

# Refresh the dashboard's vendored uPlot from the npm registry (version + sha256 in VENDOR.json).
UPLOT_VERSION ?= 1.6.32
vendor:
	$(PY) scripts/vendor_ui.py $(UPLOT_VERSION)

# The dashboard screenshots in docs/screenshots, taken by the browser tests (needs PostgreSQL,
# Redis, chromium and chromium-driver, as `make test` does).
screenshots: $(STAMP)
	TRAINYARD_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/ui/test_browser.py

# The dashboard in headless Chromium: a 1,000,000-point chart, live point latency, 10,000 jobs.
bench-ui: $(STAMP)
	$(BIN)/python bench/ui_speed.py

clean:
	rm -rf $(VENV) var lightning_logs .pytest_cache
