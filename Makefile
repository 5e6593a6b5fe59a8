# `make demo` and `make test` set up everything they need on a fresh machine:
# a virtual environment in .venv, Debian's chromium for the browser tests and the demo, and
# Debian's PostgreSQL server for the tests that run on it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

.PHONY: install chromium system-python postgresql test demo bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Playwright drives Debian's chromium (no browser download is possible here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends chromium; }

# Roundup (tests/sites/roundup_site.py) refuses to run as root: as root the tests run it as
# `nobody` from a virtualenv of Debian's python3, which needs python3-venv.
system-python:
	@[ "$$(id -u)" != 0 ] || /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends python3 python3-venv; }

# The tests start throwaway PostgreSQL servers (tests/pg.py): Debian's server binaries.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends postgresql; }

# Two tests at a time (most wait on servers, browsers and think times), then, one at a time,
# those that measure capacity and timing and must have the machine to themselves.
test: install chromium system-python postgresql
	$(BIN)/pytest -n 2 --dist loadscope -m "not alone"
	$(BIN)/pytest -m alone

demo: install chromium
	$(BIN)/python -m tests.sites.demo

# Locust, the yardstick for play, lives in its own environment: it is no dependency of ours.
LOCUST := .bench/locust/bin/locust

$(LOCUST):
	$(PYTHON) -m venv .bench/locust
	.bench/locust/bin/pip install --quiet locust

bench: install $(LOCUST)
	@command -v nginx >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends nginx wrk; }
	$(BIN)/python bench/record_overhead.py
	$(BIN)/python bench/play_throughput.py --locust $(LOCUST) --no-profile
	$(BIN)/python bench/ui_speed.py
	$(BIN)/python bench/ui_live.py
	$(BIN)/python bench/ui_live.py --ui-core 1
	$(BIN)/python bench/convert_scale.py
	$(BIN)/python bench/parser_speed.py
	$(BIN)/python bench/capacity_saturation.py
	$(BIN)/python bench/distributed.py
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) dist build .pytest_cache test-artifacts .demo .bench
