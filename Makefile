# Quick start: `make run` serves on the embedded defaults, `make test` runs the tests.
VENV := .venv/bin

.PHONY: run test test-slow lint bench bootstrap clean

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	$(VENV)/broadcaster serve --config config.yaml --data data

# Exits non-zero when a test fails and when no test ran (pytest exit code 5).
# Two workers (pytest-xdist), one test file per worker at a time: real servers and clients
# of one file never share a worker's time with another file's.
test: bootstrap
	$(VENV)/python -m pytest -m "not slow" -q -n 2 --dist loadfile

# The slow suite (51 min in a row under load: 200 server kills 20 min, a 10-minute outage,
# the 10-minute soak) runs on two workers too, except what measures one server's latency
# and memory (the soak under 1,000 speakers, previews and recording bombs under load): those
# run alone afterwards.
MEASURING := tests/faults/test_soak.py tests/integration/test_preview_fairness.py \
	tests/integration/test_recording_bombs.py
test-slow: bootstrap
	$(VENV)/python -m pytest -m slow -q -n 2 --dist loadfile $(MEASURING:%=--ignore=%)
	$(VENV)/python -m pytest -m slow -q $(MEASURING)

lint: bootstrap
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy broadcaster audio web
	$(VENV)/mypy tests benchmarks

bench: bootstrap
	$(VENV)/python -m benchmarks

clean:
	rm -rf data .pytest_cache
