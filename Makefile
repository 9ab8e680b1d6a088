# Two commands: `make up` (install, start the stack, run the demo) and `make test` (install, run the suite);
# `make lint` runs bandit and pip-audit (CI runs it before the tests).
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed-stamp

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: install up test lint worker web bench clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install.sh
	PYTHON=$(PYTHON) scripts/install.sh
	@touch $(STAMP)

up: install
	scripts/up.sh

test: install
	scripts/test.sh $(ARGS)

lint: install
	scripts/lint.sh

bench: install
	@echo "Benchmarks live in bench/; each prints its figures and the machine it ran on."
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var staticfiles
