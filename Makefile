# The template's own commands. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

UV ?= uv
DEMO_DIR ?= build/demo
# Two workers: each baked project's checks are grouped on one worker, one project per worker.
PYTEST_ARGS ?= -n auto --dist loadgroup

.PHONY: help install demo test test-fast test-docker lint format clean lock bench bench-smoke

help: ## List the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## Install the template's dev tools (cookiecutter, pytest, ruff, mypy)
	@command -v $(UV) >/dev/null || { echo "error: uv is required: python3 -m pip install uv" >&2; exit 2; }
	$(UV) sync --locked

demo: install ## Bake a project into build/demo and serve it at http://127.0.0.1:8000/docs
	rm -rf $(DEMO_DIR)
	$(UV) run cookiecutter $(CURDIR) --no-input --output-dir $(DEMO_DIR) init_git=no
	$(MAKE) -C $(DEMO_DIR)/my_service install dev

test: install ## Correctness: hooks, baking, and each baked project's own checks (no benchmark)
	$(UV) run pytest $(PYTEST_ARGS)

test-fast: install ## Run the template tests that do not run a baked project's toolchain
	$(UV) run pytest -m "not slow and not docker" $(PYTEST_ARGS)

test-docker: install ## Build and run a baked project's image and compose stack (starts dockerd if needed)
	$(UV) run pytest -m docker -n 0 tests/test_docker.py
	@cat build/docker-report.md

lint: install ## ruff, ruff format and mypy --strict on the hooks and tests
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

format: install ## Fix lint and formatting in the hooks and tests
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

clean: ## Remove build/ (demo project, scratch files)
	rm -rf build

lock: install ## Re-lock the generated project's dependencies after editing its pyproject.toml
	rm -rf build/lock
	$(UV) run cookiecutter $(CURDIR) --no-input --output-dir build/lock init_git=no
	cd build/lock/my_service && $(UV) lock
	sed "s/^name = \"my-service\"$$/name = \"{{ cookiecutter.project_slug | replace('_', '-') }}\"/" \
		build/lock/my_service/uv.lock > '{{cookiecutter.project_slug}}/uv.lock'
	rm -rf build/lock

bench: install ## Measure bake, make feature, fresh-to-green, cold start and load: bench/results/
	$(UV) run python -m bench.run

bench-smoke: install ## The bench's quick mode into a scratch dir: complete report, no failed request
	$(UV) run python -m bench.smoke
