# Two entry points a newcomer needs; both create the virtualenv on first use.
#   make compare   # the seed-002 12-arrangement study, quick profile, on bundled data
#   make test      # the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The real corpora (IMDB, Brown) sit beside the repository on the team's machines.
export RNNLAB_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: install compare demo test test-fast lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,all]'
	# Build rnnlab's fused C++ kernels once now (cached; without a compiler: a warning, and
	# the layers use PyTorch's paths).
	$(PY) -c "from rnnlab.core import kernels; print(kernels.status())"
	touch $(STAMP)

# The browser tests drive Debian's Chromium headless; install it where we may (root, apt).
BROWSER_STAMP := $(VENV)/.browser
$(BROWSER_STAMP): $(STAMP)
	scripts/install_browser.sh
	touch $(BROWSER_STAMP)

install: $(STAMP)

compare: $(STAMP)
	$(VENV)/bin/rnnlab compare --profile quick --out studies/quick

# What a 2-layer bidirectional LSTM returns on a padded batch (the README's example), in seconds.
demo: $(STAMP)
	$(PY) examples/outputs_explained.py

# pytest exits 5 when it collects nothing; that is not a failure of the suite.
# One pytest-xdist worker per logical CPU (`make test TEST_WORKERS=0`: one process): the
# tests are single-threaded (tests/conftest.py), so two workers on two CPUs halve the wall
# time without oversubscribing; `worksteal` evens out the few long end-to-end tests. Tests
# marked `alone` watch the machine's CPU (the thread governor) and would only see the other
# worker, so they run afterwards, by themselves.
TEST_WORKERS ?= logical
PYTEST := $(PY) -m pytest -q -p no:cacheprovider
test: $(STAMP) $(BROWSER_STAMP)
	$(PY) -m ruff check src tests benchmarks examples scripts
	$(PYTEST) -n $(TEST_WORKERS) --dist worksteal -m "not quarantine and not alone"; \
	  rc=$$?; [ $$rc -eq 5 ] || [ $$rc -eq 0 ] || exit $$rc
	$(PYTEST) -m "alone and not quarantine"; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

test-fast: $(STAMP)
	$(PYTEST) -n $(TEST_WORKERS) --dist worksteal -m "not slow and not quarantine and not alone"

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks examples scripts

bench: $(STAMP)
	$(VENV)/bin/rnnlab bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info
