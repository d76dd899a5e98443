# Two commands do all the set-up: `make demo` and `make test`. Both create .venv when missing and are idempotent:
# the install re-runs only when pyproject.toml or constraints.txt changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.alnb-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint docs bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,docs]'
	@touch $(STAMP)

# A short C-PEAL study (the full one: `alnb study cpeal --out runs/cpeal`): long-tailed digits, 5 seeds, paired
# differences with bootstrap intervals; prints the headline table, writes report.md and figures to runs/demo.
demo: $(STAMP)
	$(BIN)/alnb study cpeal --tasks digits-lt10 --methods cpeal,random,badge \
		--seeds 0,1,2,3,4 --rounds 5 --mechanism-sizes 2 --out runs/demo

# Lint and type-check first (seconds), then the tests.
test: $(STAMP)
	$(BIN)/ruff check alnb tests scripts
	$(BIN)/python -m mypy
	@bash .ci/browser-deps.sh
	$(BIN)/python -m pytest

# The documentation site, offline, into build/docs (open build/docs/index.html): notebooks 03-06 are executed
# (myst-nb caches them in build/.jupyter_cache, so a rebuild re-runs only changed ones); warnings are errors.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs build/docs

lint: $(STAMP)
	$(BIN)/ruff check alnb tests scripts

clean:
	rm -rf $(VENV) runs .pytest_cache
