# Story Assistant. `make run` installs and runs the app; `make test` installs and runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test install install-dev system-packages lint format migrations-check

run: install
	$(PY) manage.py serve --demo

test: install-dev system-packages
	$(PY) -m ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	PYTHONUNBUFFERED=1 $(PY) -m pytest

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

# llama-cpp-python is compiled for the CPU family, not for the exact machine: a native build takes AMX and AVX-512
# code paths that crash in the first model call on virtual machines that report those features.
LLAMA_CMAKE_ARGS := $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON,-DGGML_NATIVE=OFF)

# torch first, as the CPU build: anything that depends on it would otherwise pull the CUDA build.
# llama-cpp-python compiles once per virtual environment (5-10 minutes on 2 cores), never from pip's cache, which
# may hold a native build.
$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(PIP) install --no-cache-dir $$(grep '^llama-cpp-python==' requirements.txt)
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
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
