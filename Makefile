# hashrc: `make run` sets up and runs the emulated experiment then the dashboard;
# `make test` sets up (system packages included) and runs ruff and the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=
# system packages the tests need: a real browser for the dashboard check, a real MQTT broker
SYSTEM_PACKAGES := chromium chromium-driver mosquitto

.PHONY: run test venv install install-test system-deps lint bench clean mutation

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

venv: $(PY)

install: $(PY)
	$(PY) -m pip install -q -e .

install-test: $(PY)
	$(PY) -m pip install -q -e ".[test]"

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

run: install  # replaces the previous `make run` in runs/demo (said in the README)
	$(VENV)/bin/hashrc demo --overwrite $(ARGS)

lint: install-test
	$(VENV)/bin/ruff check .

test: system-deps install-test lint
	$(PY) -m pytest -q -p no:cacheprovider $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# mutation testing of the reservoir analysis (config: [tool.mutmut] in pyproject.toml);
# slow, so not part of `make test`; ARGS narrows it, e.g. ARGS='"reservoir.stats*"'
mutation: install-test
	$(VENV)/bin/mutmut run $(ARGS); $(VENV)/bin/mutmut results

bench: install
	$(PY) bench/demo_speed.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache *.egg-info
