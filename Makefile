# Dossier: `make demo` serves the demo, `make test` runs the whole suite (README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= ./data
PORT   ?= 8000
PYTEST_ARGS ?=
# Test processes: each has its own PostgreSQL cluster, Dovecot and browser; 0 runs in this one.
PYTEST_WORKERS ?= 2

.PHONY: demo test serve lint typecheck translations translations-update bench clean

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
	$(BIN)/pybabel compile -d web/translations

# After changing UI strings: refresh the catalogs, then translate the new entries in cs/, sk/ and pl/.
translations-update: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k N_ -k Text -k FieldSpec:2 --no-location \
		--sort-output -o web/translations/messages.pot .
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations --width 100

demo: $(VENV)/.installed translations
	DOSSIER_HOME=$(DATA) $(BIN)/dossier demo --port $(PORT)

serve: $(VENV)/.installed translations
	DOSSIER_HOME=$(DATA) $(BIN)/dossier serve --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy crm web connector mail_archive doc_library calendar_bridge search

test: $(VENV)/.installed-test translations lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python bench/api.py
	$(BIN)/python bench/mail.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache *.egg-info
