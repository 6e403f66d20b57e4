# Two commands matter: `make run` (serve the hotline locally) and `make test`.
# Both build .venv with Python 3.10 first (Rasa 3.6 runs on 3.10 only).

VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  := $(BIN)/python
STAMP   := $(VENV)/.installed
# A working python3.10 (PATH, pyenv, or $PYTHON310); see scripts/find-python310.
PY310   := $(shell scripts/find-python310)

.PHONY: setup run test lint format train nlu-report bench bench-pipelines browser nginx postgres clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@if [ -z "$(PY310)" ]; then \
	  echo "error: no working Python 3.10 found (Rasa 3.6 needs it). Install one (e.g. 'pyenv install 3.10') or set PYTHON310=/path/to/python3.10, and retry." >&2; \
	  exit 1; fi
	@echo "using $(PY310)"
	test -x $(PYTHON) || $(PY310) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip wheel
	$(PYTHON) -m pip install --quiet -r requirements.lock
	$(PYTHON) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

train: setup
	$(BIN)/hotline train

run: train
	$(BIN)/hotline serve --host 127.0.0.1 --port 5000

# Browser tests drive Debian's Chromium; scripts/ensure-chromium installs it when
# it can (root with apt-get) and says what to do otherwise.
browser:
	@scripts/ensure-chromium

# The deployment test runs deploy/nginx/hotline.conf in Debian's nginx (high ports, no
# root needed to run it); scripts/ensure-nginx installs nginx-light when it can.
nginx:
	@scripts/ensure-nginx

# The database tests run on SQLite and again on PostgreSQL: tests/conftest.py starts a
# throwaway server with scripts/ensure-postgres (a unix socket in a temp folder, stopped
# at the end); HOTLINE_TEST_DATABASE_URL points them at one of your own instead.
postgres:
	@scripts/ensure-postgres install

test: train browser nginx postgres
	$(PYTHON) -m pytest -q

# Every top-level package of the project (not tests/); settings in pyproject.toml [tool.mypy].
PACKAGES := accounts bot jobs messaging nlu outreach registry reporting responses review scamcheck settings storage throttle weburl

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# One run: held-out accuracy, 5-fold CV, per-intent recall, per-voice accuracy, harmful
# outcomes and the CV-chosen fallback threshold for the product and the baselines side
# by side, plus the held-out/training overlap; written to docs/nlu-heldout.md and
# docs/nlu-cross-validation.md (a few minutes of CPU, niced).
nlu-report: train
	OMP_NUM_THREADS=1 nice -n 10 $(BIN)/hotline nlu-evaluate --cross-validation

# Raw NLU, load through `hotline serve` at 1/10/50 senders, the 100k push, OCR: one run,
# figures into docs/benchmarks.md (about 6 minutes; run it on a quiet machine).
bench: train
	$(PYTHON) bench/run.py

# Trains each candidate NLU pipeline into a temporary folder (minutes of CPU each) and
# prints the comparison table for docs/nlu-evaluation.md.
bench-pipelines: setup
	nice -n 10 $(PYTHON) bench/pipelines.py

clean:
	rm -rf $(VENV) models
