# Everything a fresh machine needs is installed by these targets into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Tools that nbgrader and Jupyter start as subprocesses (alembic, jupyter-*)
# must come from the venv too.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: lab test lint format release benchmark clean

# Jupyter refuses to run as root unless told (containers and CI machines often do).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)  ## start the course: JupyterLab on the student notebooks
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/

test: $(STAMP)  ## run the whole test suite (what CI runs)
	@echo "==> lint: ruff check and ruff format --check"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "==> tests: pytest (about 11 minutes on 2 quiet cores; the long groups say when they start)"
	# The notebooks run two at a time on two cores: one BLAS thread each
	# avoids oversubscription (spinning OpenBLAS threads slow them badly).
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest

# pip prints each package as it goes (no --quiet): the install takes minutes.
$(STAMP): pyproject.toml
	@echo "==> install 1/3: the virtual environment $(VENV)"
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@echo "==> install 2/3: an up-to-date pip"
	$(BIN)/python -m pip install --upgrade pip
	@echo "==> install 3/3: dlcore, the course (Jupyter, nbgrader) and the test tools, about 2 minutes:"
	@echo "    pip lists each package it fetches, then installs them all at once (a minute without output)"
	$(BIN)/python -m pip install -e '.[course,dev]'
	touch $(STAMP)
	@echo "==> installed into $(VENV)"

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

release: $(STAMP)  ## regenerate notebooks/ from solutions/
	$(BIN)/python -m autograder release

benchmark: $(STAMP)  ## dlcore against NumPy, naive loops and (if installed) PyTorch
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
