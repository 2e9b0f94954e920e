# The README's commands. Every target sets itself up: a fresh machine needs only python3 and
# access to the package index.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pyproject.toml declares the `crmsync` command (cli/) that the venv installs (editable).
REQS := requirements-dev.txt layers/crmsync/requirements.txt cli/requirements.txt pyproject.toml
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | sha1sum | cut -c1-12)
export PYTHONPATH := $(CURDIR)/layers/crmsync:$(CURDIR)/cli:$(CURDIR)
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements-checkov.txt | sha1sum | cut -c1-12)
CHECKOV := $(CHECKOV_VENV)/bin/checkov --framework cloudformation --compact --quiet --skip-download
TRANSFORMED := .aws-sam/transformed-template.json
# `sam build` looks for a python3.13 on PATH; pyenv machines expose it this way.
SAM_PYENV := 3.13.0:3.11.7

.PHONY: demo test fuzz lint build bench schema venv clean local local-stop check-cli check-report

$(STAMP): $(REQS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -r layers/crmsync/requirements.txt -r cli/requirements.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

venv: $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

demo: venv
	$(BIN)/python -m local.demo

# A connector left running on this machine (moto, the Salesforce emulator, the HTTP API on
# localhost), seeded, its schedules ticking: `crmsync --local ...` talks to it.
local: venv
	$(BIN)/python -m local.runtime.local_stack start

local-stop: venv
	$(BIN)/python -m local.runtime.local_stack stop

# The command as a person sees it: a script of commands in tmux at 80 columns against the local
# stack (started if none runs); each screen in .local/screens/. Fails on a wider line or an error.
check-cli: venv
	$(BIN)/python -m local.runtime.check_cli

test: venv
	$(BIN)/pytest -n 2 --dist loadfile

# The bad-input corpus (tests/corpus, also part of `test`) with its counts per surface, and the
# input parsers' properties with five times their usual examples. Fails if anything crashed.
fuzz: venv
	CRMSYNC_FUZZ_EXAMPLES=1000 $(BIN)/pytest tests/corpus tests/unit/test_json_input.py tests/unit/test_input_properties.py

# cfn-lint is what `sam validate --lint` runs, here with file:line answers. checkov reads the
# template as written and after the SAM transform (the roles, schedules and event source
# mappings SAM makes); each finding left is skipped in the template with its reason.
lint: venv $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m local.sam_transform --output $(TRANSFORMED)
	$(CHECKOV) --file template.yaml
	$(CHECKOV) --file $(TRANSFORMED)

build: venv
	PYENV_VERSION=$(SAM_PYENV) $(BIN)/sam build
	$(BIN)/python -m local.check_build

# The configuration's published JSON Schema, from its models and the sample's comments (a test
# fails while config/crmsync.schema.json is not what this writes).
schema: venv
	$(BIN)/python -m crmsync.config.schema config/crmsync.sample.json > config/crmsync.schema.json.new
	mv config/crmsync.schema.json.new config/crmsync.schema.json

# The Lambda runtime's botocore has no awscrt (the venv has it through aws-sam-cli): sign as Lambda does.
bench: venv
	BOTO_DISABLE_CRT=true $(BIN)/python -m local.bench

# The HTML report as a person sees it: the page of a sample week (or, with
# REPORT_JSON=FILE, of `GET /report`'s answer saved from a stack), and a full-page screenshot of
# it by headless Chromium (Debian's package, installed when missing) to look at.
check-report: venv
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(BIN)/python -m local.check_report --html .demo/report.html --png .demo/report.png $(if $(REPORT_JSON),--from-json $(REPORT_JSON))

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .demo .local
