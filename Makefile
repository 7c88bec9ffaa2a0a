# Modelyard: `make run` serves the gateway locally, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test soak lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/modelyard serve

# The soak (tests/soak/test_soak.py) runs 150 mixed requests here, about twenty seconds on moto;
# `make soak` runs the full 2,000 (moto's transactions make that minutes, not seconds).
test: $(STAMP) lint
	$(BIN)/cfn-lint template.yaml
	MODELYARD_SOAK_REQUESTS=$${MODELYARD_SOAK_REQUESTS:-150} $(BIN)/python -m pytest

soak: $(STAMP)
	MODELYARD_SOAK_REQUESTS=2000 $(BIN)/python -m pytest tests/soak/test_soak.py -s -p no:logging

lint: $(STAMP)
	$(BIN)/ruff check functions tests bench scripts
	$(BIN)/ruff format --check functions tests bench scripts
	$(BIN)/mypy functions/modelyard

format: $(STAMP)
	$(BIN)/ruff check --fix functions tests bench scripts
	$(BIN)/ruff format functions tests bench scripts

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py --write

clean:
	rm -rf $(VENV) .aws-sam build dist *.egg-info
