# Two commands set everything up: `make demo` and `make test`. Both (re)create .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and pinned so pip takes the local CPU wheel instead of pulling CUDA builds;
# override e.g. `make test TORCH_SPEC='torch>=2.13'` on a GPU machine.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/scaling demo

# pytest exits 5 when nothing was collected: that is a failure here, as any non-zero code.
test: $(STAMP)
	$(BIN)/python -m pytest -q --nbmake tests notebooks

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check scaling tests analysis

clean:
	rm -rf $(VENV) build *.egg-info
