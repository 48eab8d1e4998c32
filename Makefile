# Quick start: `make run` serves on the embedded defaults, `make test` runs the tests.
VENV := .venv/bin

.PHONY: run test test-slow lint bench bootstrap clean

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	$(VENV)/broadcaster serve --config config.yaml --data data

# Exits non-zero when a test fails and when no test ran (pytest exit code 5).
# Two workers (pytest-xdist), one test file per worker at a time: real servers and clients
# of one file never share a worker's time with another file's. The slow suite stays serial:
# its soak measures one server's latency under 1,000 speakers and needs the machine.
test: bootstrap
	$(VENV)/python -m pytest -m "not slow" -q -n 2 --dist loadfile

test-slow: bootstrap
	$(VENV)/python -m pytest -m slow -q

lint: bootstrap
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy broadcaster audio web

bench: bootstrap
	$(VENV)/python -m benchmarks

clean:
	rm -rf data .pytest_cache
