# Dossier: `make demo` serves the demo, `make test` runs the whole suite (README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= ./data
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: demo test serve lint typecheck translations bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project's declared dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d web/translations -f --statistics 2>&1 | grep -v '^$$' || true

demo: $(VENV)/.installed translations
	DOSSIER_HOME=$(DATA) $(BIN)/dossier demo --port $(PORT)

serve: $(VENV)/.installed translations
	DOSSIER_HOME=$(DATA) $(BIN)/dossier serve --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy crm web

test: $(VENV)/.installed-test translations lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
