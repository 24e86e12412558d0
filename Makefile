# fashionnet — `make run` and `make test` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WEIGHTS := fashionnet/weights/fashionnet.safetensors

.DEFAULT_GOAL := help
.PHONY: help install data run test lint bench bench-baseline weights samples gpu-check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade 'pip>=25.1'  # 25.1: --group reads pyproject.toml's [dependency-groups]
	$(BIN)/pip install -q -c constraints.txt torch torchvision
	$(BIN)/pip install -q -c constraints.txt -e '.[export,heic]' --group dev
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install fashionnet (editable, with test tools)

data: ## Install FashionMNIST (Debian package dataset-fashion-mnist) when root + apt allow it
	@if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then \
		echo "FashionMNIST is installed in /usr/share/datasets/fashion-mnist"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && apt-get install -y -q dataset-fashion-mnist; \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
		sudo apt-get update -q && sudo apt-get install -y -q dataset-fashion-mnist; \
	else \
		echo "Cannot install the Debian package here. Either run 'fashionnet data --download' (needs internet)"; \
		echo "or put the four official *-ubyte.gz files in a folder and set FASHIONNET_DATA to it."; \
	fi

run: install ## Classify the sample images that ship with fashionnet (the main demo)
	$(BIN)/fashionnet predict fashionnet/samples --top-k 2
	$(BIN)/fashionnet predict fashionnet/samples/photos --top-k 2

test: install ## Run the test suite
	$(BIN)/pytest -q

lint: install ## ruff check, ruff format --check and mypy (configured in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install data ## Run the benchmarks, record them, compare with benchmarks/baseline.json
	$(BIN)/python benchmarks/run.py

bench-baseline: install data ## Run the benchmarks and make them the new committed baseline (on purpose only)
	$(BIN)/python benchmarks/run.py --save-baseline

weights: install data ## Retrain the shipped weights with the documented default recipe (seed 0, one thread)
	OMP_NUM_THREADS=1 $(BIN)/fashionnet train --seed 0 --device cpu --out $(WEIGHTS) --force --no-optimizer-state

samples: install data ## Re-export the sample images (first test image of each class) that ship
	$(BIN)/python tools/make_samples.py

gpu-check: install ## Train, evaluate, predict and export on the GPU and the CPU, and compare (no GPU: says so)
	$(BIN)/python tools/gpu_check.py

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
