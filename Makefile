# BHasile — the two commands of the README are `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
PYTHON ?= python3

.PHONY: install install-test run test test-postgresql system-deps translations benchmarks serve

## The application's runtime dependencies only (pyproject's [project] dependencies).
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

## Plus the test tools (pyproject's [test] extra: pytest, Playwright, schemathesis, hypothesis,
## the OpenID Connect mock).
install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

## Install, build the SQLite base with the demo park, serve on :5000 with short logs; the demo
## accounts (kept in instance/comptes-demo.txt, 0600) are the last lines, after « Running on ».
run: export BHASILE_LOG_FORMAT ?= text
run: install
	$(FLASK) bhasile init
	$(FLASK) bhasile demo --if-empty
	$(FLASK) bhasile rebuild
	$(FLASK) bhasile demo-users --quiet
	BHASILE_SCHEDULER=1 BHASILE_SHOW_DEMO_ACCOUNTS=1 $(PY) run.py

## Install (Python and system packages the tests drive) and run the whole suite on SQLite, on
## every core (pytest-xdist: TEST_WORKERS=0 runs it in this one process; a module's tests, and
## all the browser tests, stay together on one worker).
TEST_WORKERS ?= auto
PYTEST_PARALLEL = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup)

test: install-test system-deps
	$(PY) -m pytest $(PYTEST_PARALLEL) --durations=30

## The same suite against the local PostgreSQL server (own database names, per worker).
test-postgresql: install-test system-deps
	BHASILE_TEST_DATABASE=postgresql $(PY) -m pytest $(PYTEST_PARALLEL) --durations=30

## Debian packages the end-to-end tests use (a real browser, a real spreadsheet program) and
## the budget dialogue's documents need (LibreOffice Writer turns DOCX into PDF; pdftotext reads
## them back in the tests).
system-deps:
	@if [ "$$(id -u)" = 0 ] && { ! command -v chromium >/dev/null || ! command -v soffice >/dev/null \
		|| ! [ -e /usr/lib/libreoffice/program/libswlo.so ] || ! command -v pdftotext >/dev/null; }; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
			libreoffice-calc-nogui libreoffice-writer-nogui poppler-utils >/dev/null; \
	fi

translations: install
	$(PY) translations/sync.py

## Every speed figure of the closing notes (quick ones; load_test.py and schemathesis_run.py apart).
benchmarks: install-test
	for b in demo views grid aggregates documents campagnes import export jobs; do \
		$(PY) benchmarks/bench_$$b.py || exit 1; done

## Production serving: migrations and permissions first, then the scheduler in its own process,
## BHASILE_WORKERS job workers (0: none on this host) and gunicorn workers (DATABASE_URL defaults
## to the local PostgreSQL base « bhasile »).
serve: install
	@export DATABASE_URL="$${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/bhasile}"; \
	$(FLASK) db upgrade && $(FLASK) bhasile init || exit 1; \
	if $(FLASK) bhasile --help 2>/dev/null | grep -qw scheduler; then \
		BHASILE_SCHEDULER=0 $(FLASK) bhasile scheduler & SCHED=$$!; \
	fi; \
	if [ "$${BHASILE_WORKERS:-2}" -gt 0 ]; then \
		$(FLASK) bhasile worker --processes $${BHASILE_WORKERS:-2} & JOBS=$$!; \
	fi; \
	trap 'kill $$SCHED $$JOBS 2>/dev/null' EXIT INT TERM; \
	BHASILE_SCHEDULER=0 $(VENV)/bin/gunicorn --workers $${WEB_CONCURRENCY:-4} \
		--bind $${BHASILE_BIND:-127.0.0.1:8000} --timeout 120 --graceful-timeout 30 \
		--max-requests 5000 --max-requests-jitter 500 'run:app'
