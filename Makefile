# `make run` starts the platform; `make test` runs the whole suite. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint messages bench clean manage

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m portal.launcher run

# manage.py beside a running `make run` (another terminal), on its database and Redis:
# make manage ARGS="create_app --name X --json"
manage: $(STAMP)
	@$(BIN)/python -m portal.launcher manage -- $(ARGS)

# Extra pytest arguments: make test ARGS="-k login"
test: $(STAMP)
	$(BIN)/python -m portal.launcher exec -- $(BIN)/python -m pytest $(ARGS)

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
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
