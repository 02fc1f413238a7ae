# `make run` starts the platform; `make test` runs the fast tier, `make test-slow` the slow one (CI runs both).
# Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint messages bench clean lock audit manage

# Installs exactly the lock (every package pinned, hashes checked): requirements/dev.txt is the runtime
# lock plus the tools. A deployment installs requirements/runtime.txt alone.
$(STAMP): requirements/dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $(STAMP)

# openapi-python-client, for tests/api/test_generated_client.py: its own virtualenv (requirements/clientgen.in).
CLIENTGEN := .venv-clientgen/.installed
$(CLIENTGEN): requirements/clientgen.txt
	@test -x .venv-clientgen/bin/python || $(PYTHON) -m venv .venv-clientgen
	.venv-clientgen/bin/python -m pip install --quiet --require-hashes -r requirements/clientgen.txt
	@touch $(CLIENTGEN)

# After editing requirements/*.in: resolve and hash both lock files again from PyPI (CONTRIBUTING.md).
# UPGRADE=1 moves every unpinned transitive package to its newest release as well.
lock:
	@test -x $(BIN)/uv || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/python -m pip install --quiet uv==0.13.10; }
	cd requirements && ../$(BIN)/uv pip compile runtime.in -o runtime.txt --generate-hashes --python-version 3.11 --custom-compile-command "make lock" --quiet $(if $(UPGRADE),--upgrade)
	cd requirements && ../$(BIN)/uv pip compile dev.in -o dev.txt --generate-hashes --python-version 3.11 --custom-compile-command "make lock" --quiet $(if $(UPGRADE),--upgrade)
	cd requirements && ../$(BIN)/uv pip compile clientgen.in -o clientgen.txt --generate-hashes --python-version 3.11 --custom-compile-command "make lock" --quiet $(if $(UPGRADE),--upgrade)

# Known vulnerabilities of every locked package (PyPI's advisories), against requirements/audit-allowlist.toml.
audit: $(STAMP)
	$(BIN)/python .ci/audit.py

run: $(STAMP)
	$(BIN)/python -m portal.launcher run

# The system tools the tests drive (command:Debian package): if some are missing, one line names the install.
TEST_TOOLS := node:nodejs npm:npm chromium:chromium coap-client-notls:libcoap3-bin mosquitto_sub:mosquitto-clients
PEERS := tests/peers/node_modules/.package-lock.json
# manage.py beside a running `make run` (another terminal), on its database and Redis:
# make manage ARGS="create_app --name X --json"
manage: $(STAMP)
	@$(BIN)/python -m portal.launcher manage -- $(ARGS)

# The fast tier: every test not marked `slow` (CONTRIBUTING.md, "Test tiers"). Extra pytest arguments:
# make test ARGS="-k login". A later -m in ARGS replaces the default selection.
test: $(STAMP) test-tools $(PEERS)
	$(BIN)/python -m portal.launcher exec -- $(BIN)/python -m pytest -m "not slow" $(ARGS)

# The slow tier: schemathesis, the generated client, chaos and SIGKILL, whole-platform and browser tests.
test-slow: $(STAMP) $(CLIENTGEN) test-tools $(PEERS)
	$(BIN)/python -m portal.launcher exec -- $(BIN)/python -m pytest -m slow $(ARGS)

.PHONY: test-tools
test-tools:
	@tools=""; packages=""; for tool in $(TEST_TOOLS); do \
	  command -v $${tool%%:*} >/dev/null 2>&1 || { tools="$$tools $${tool%%:*}"; packages="$$packages $${tool##*:}"; }; \
	done; [ -z "$$tools" ] || { echo "make test needs$$tools: apt-get install$$packages"; exit 1; }

# The real LwM2M clients of the ingress tests (npm, pinned by tests/peers/package-lock.json).
$(PEERS): tests/peers/package-lock.json
	npm ci --prefix tests/peers --no-audit --no-fund --loglevel=error

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# After editing locale/*/LC_MESSAGES/django.po (needs GNU gettext's msgfmt).
messages: $(STAMP)
	DATABASE_URL=postgres://unused/unused REDIS_URL=redis://unused $(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete
	DATABASE_URL=postgres://unused/unused REDIS_URL=redis://unused $(BIN)/python manage.py compilemessages

# Every hot path's benchmark (one: make bench BENCH=push); wrk makes auth_bench's load (apt-get install wrk).
BENCH ?= *
bench: $(STAMP)
	$(BIN)/python -m portal.launcher exec -- sh -c 'for b in bench/$(BENCH)_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done' 

clean:
	rm -rf $(VENV) .venv-clientgen staticfiles .pytest_cache .ruff_cache
