# scsession developer front door. `make` (or `make help`) lists the targets.
# Needs only Rust, Python 3 (>= 3.11) and, on a bare Debian, apt for python3-venv, libsqlite3-dev
# and pkg-config.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
DEMO_PORT ?= 8000
# The store servers `make demo` starts when nothing listens there (and stops when it ends).
DEMO_REDIS_PORT ?= 6379
DEMO_POSTGRES_PORT ?= 5432
# Where `make demo` keeps sessions: cookie, memory, redis or postgres (servers start on loopback).
STORE ?= cookie
PYTEST_ARGS ?=
BENCH_ARGS ?=

VENV := .venv
VENV_PY := $(VENV)/bin/python
# Stamps live inside .venv, so deleting .venv also forgets that the extension was installed there.
VENV_STAMP := $(VENV)/.stamp-requirements
BUILD_STAMP := $(VENV)/.stamp-build
# What the extension is built from. Python sources are not listed: `maturin develop` installs
# python/ in editable mode, so edits there need no rebuild. Cargo uses ./target (or
# $CARGO_TARGET_DIR) for every command here, maturin included.
RUST_SOURCES := $(shell find crates -name '*.rs' -o -name Cargo.toml 2>/dev/null) \
	Cargo.toml $(wildcard Cargo.lock .cargo/config.toml rust-toolchain.toml)
STUBTEST_ALLOWLIST := $(wildcard stubtest-allowlist.txt)
# What a wheel is made of besides RUST_SOURCES (`make dist` rebuilds when any of them changed).
PACKAGE_SOURCES := $(shell find python -name '*.py' -o -name '*.pyi' -o -name py.typed 2>/dev/null) \
	pyproject.toml README.md
DIST_STAMP := dist/.stamp-dist
# The manylinux tag the wheel must earn (maturin checks the symbols it uses). 2_34: what a wheel
# built on Debian 12 (glibc 2.36) needs; CI builds 2_17 (manylinux2014) in maturin-action's image.
MANYLINUX ?= manylinux_2_34
LOWEST_VENV := .venv-lowest
# The core's store features, read from its Cargo.toml so that a new store is checked alone too.
CORE_FEATURES = $(shell $(PYTHON) -c 'import tomllib; \
	f = tomllib.load(open("crates/scsession-core/Cargo.toml", "rb"))["features"]; \
	print(*sorted(set(f) - {"default"}))')

.PHONY: help venv build dist demo test test-lowest bench lint check-features format clean

help: ## list the targets (this text)
	@echo "usage: make TARGET   (variables: PYTHON=$(PYTHON) DEMO_PORT=$(DEMO_PORT) STORE=$(STORE) PYTEST_ARGS=... BENCH_ARGS=...)"
	@awk -F ':.*## ' '/^[a-z][a-z-]*:.*## / { printf "  %-15s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

venv: $(VENV_STAMP) ## create .venv and install requirements-dev.txt (again only when it changes)

$(VENV_STAMP): requirements-dev.txt
	@if ! $(VENV_PY) -m pip --version >/dev/null 2>&1; then \
		rm -rf $(VENV); \
		if ! $(PYTHON) -m venv $(VENV); then \
			echo "== $(PYTHON) -m venv failed; Debian ships venv/ensurepip separately: installing python3-venv"; \
			rm -rf $(VENV); \
			apt-get update; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv; \
			$(PYTHON) -m venv $(VENV); \
		fi; \
	fi
	$(VENV_PY) -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	@touch $@

build: $(BUILD_STAMP) ## compile the Rust extension into .venv (maturin develop --release) when sources changed

# Order-only on the venv: new dev requirements do not call for a rebuild, a new .venv does
# (its stamps go with it). The extension links the system's libsqlite3, the one Python's
# sqlite3 module uses (two copies of SQLite in one process corrupt each other's locks): the
# link needs its development files, which a bare Debian lacks.
$(BUILD_STAMP): $(RUST_SOURCES) pyproject.toml | $(VENV_STAMP)
	@if ! pkg-config --exists sqlite3 2>/dev/null; then \
		echo "== building links the system's SQLite: installing libsqlite3-dev and pkg-config"; \
		apt-get update; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y libsqlite3-dev pkg-config; \
	fi
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --release
	@touch $@

# The sdist builds from source like a checkout (system SQLite, see below). The wheel carries its
# own SQLite (feature bundled-sqlite): a manylinux wheel may not need the system's libsqlite3.
# `-i $(VENV_PY)`: the interpreter `make build` uses, so that cargo keeps pyo3's build (a change
# of interpreter rebuilds pyo3 and all that depends on it).
dist: $(DIST_STAMP) ## build an sdist and a manylinux wheel (SQLite bundled) into dist/

# The stamp gets the time the build started: a source edited during the build is newer.
$(DIST_STAMP): $(RUST_SOURCES) $(PACKAGE_SOURCES) | $(VENV_STAMP)
	@mkdir -p dist && touch $@.started
	rm -f dist/scsession-*
	$(VENV)/bin/maturin sdist --out dist
	$(VENV)/bin/maturin build --release --features bundled-sqlite --compatibility $(MANYLINUX) \
		-i $(VENV_PY) --out dist
	@mv $@.started $@

demo: build ## serve the example shop on http://127.0.0.1:8000/ (DEMO_PORT; STORE=memory, redis, postgres: started on DEMO_REDIS_PORT / DEMO_POSTGRES_PORT, stopped at the end)
	@# A store server the demo starts (on DEMO_REDIS_PORT / DEMO_POSTGRES_PORT) is stopped when
	@# the demo ends: Ctrl-C, `kill` of make, or uvicorn exiting. start_store.sh writes what it
	@# started into a marker file, and only that is stopped; a server found running stays. Uvicorn
	@# runs in the background so that this shell can pass a SIGTERM (make forwards only that) on.
	@marker="$$(mktemp /tmp/scsession-demo-started.XXXXXX)"; \
	trap 'bash examples/shop/start_store.sh stop "$$marker"; rm -f "$$marker"' EXIT; \
	DEMO_REDIS_PORT=$(DEMO_REDIS_PORT) DEMO_POSTGRES_PORT=$(DEMO_POSTGRES_PORT) \
		bash examples/shop/start_store.sh "$(STORE)" "$$marker"; \
	secret="$${SESSION_SECRET:-}"; \
	if [ -z "$$secret" ]; then \
		secret="$$($(VENV_PY) -m scsession keygen)"; \
		echo "SESSION_SECRET is not set: using a new random one (sessions end with this server)."; \
	fi; \
	url="$${SCSESSION_STORE_URL:-}"; \
	case "$(STORE)" in \
		redis) url="$${url:-redis://127.0.0.1:$(DEMO_REDIS_PORT)/0}" ;; \
		postgres) url="$${url:-postgresql://postgres@127.0.0.1:$(DEMO_POSTGRES_PORT)/postgres}" ;; \
	esac; \
	echo "scsession shop, $(STORE) sessions: open http://127.0.0.1:$(DEMO_PORT)/"; \
	server=; trap 'if [ -n "$$server" ]; then kill -TERM "$$server" 2>/dev/null || true; fi' INT TERM; \
	SESSION_SECRET="$$secret" SCSESSION_STORE="$(STORE)" SCSESSION_STORE_URL="$$url" \
		$(VENV_PY) -m uvicorn --app-dir examples shop.app:app \
		--host 127.0.0.1 --port $(DEMO_PORT) & server=$$!; \
	status=0; wait "$$server" || status=$$?; \
	while kill -0 "$$server" 2>/dev/null; do status=0; wait "$$server" || status=$$?; done; \
	exit $$status

test: build ## Rust tests, clippy, then pytest (PYTEST_ARGS=... passes options on)
	cargo test --workspace
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

# Tests that do not depend on Starlette's version, or need more than Python (a browser, the
# axum example, wrk) are left out; so are the demo's and the wheel's, which use .venv's make.
# Three warnings come from the old Starlette itself with today's anyio (httpx2 needs >= 4.10)
# and python-multipart, not from scsession, and are ignored by name: a deprecated anyio alias,
# the old module name `multipart`, and the lifespan streams Starlette 0.37's TestClient never
# closes (anyio warns when they are garbage-collected, in whichever test runs then).
LOWEST_PYTEST_ARGS := --ignore=tests/browser --ignore=tests/test_axum_interop.py \
	--ignore=tests/test_bench_smoke.py --ignore=tests/test_demo.py --ignore=tests/test_dist.py \
	-W "ignore:The anyio.abc.BlockingPortal alias is deprecated:DeprecationWarning" \
	-W "ignore:Unclosed <MemoryObject:ResourceWarning" \
	-W "ignore:Please use \`import python_multipart\` instead.:PendingDeprecationWarning"

test-lowest: ## pytest with the lowest Starlette and FastAPI pyproject.toml claims (.venv-lowest; a few minutes)
	@if ! $(LOWEST_VENV)/bin/python -m pip --version >/dev/null 2>&1; then \
		rm -rf $(LOWEST_VENV); $(PYTHON) -m venv $(LOWEST_VENV); \
	fi
	$(LOWEST_VENV)/bin/python -m pip install --disable-pip-version-check --quiet \
		-r requirements-lowest.txt
	VIRTUAL_ENV=$(CURDIR)/$(LOWEST_VENV) $(LOWEST_VENV)/bin/maturin develop --release
	@# The floors pyproject.toml claims must be the versions installed here.
	$(LOWEST_VENV)/bin/python -c 'import importlib.metadata as m, re, tomllib; \
		p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		claims = [*p["dependencies"], *p["optional-dependencies"]["fastapi"]]; \
		floors = dict(re.fullmatch(r"([a-z]+)>=([0-9.]+)", c).groups() for c in claims); \
		got = {n: m.version(n) for n in floors}; \
		assert got == floors, f"installed {got}, pyproject.toml claims {floors}"; \
		print("== lowest:", got)'
	$(LOWEST_VENV)/bin/python -m pytest $(LOWEST_PYTEST_ARGS) $(PYTEST_ARGS)

bench: build ## compare with other session middlewares (Python, drawn into docs/bench.png; axum vs tower-sessions), bound writes, contention (BENCH_ARGS=--quick: smoke run)
	$(VENV_PY) benches/bench_middleware.py $(BENCH_ARGS)
	@# The axum layer against tower-sessions 0.15, in process (benches/axum-bench; starts its own
	@# redis-server, which the Python bench above installs when missing).
	cargo run --release --quiet -p scsession-axum-bench -- $(if $(findstring --quick,$(BENCH_ARGS)),--quick)
	$(VENV_PY) benches/bench_bound.py $(if $(findstring --quick,$(BENCH_ARGS)),--rounds 1 --writes 20)
	$(VENV_PY) benches/bench_contention.py $(if $(findstring --quick,$(BENCH_ARGS)),--quick)
	@# The issue's load (16 connections) did not make the old code fail here; 256 did (2 processes).
	$(if $(findstring --quick,$(BENCH_ARGS)),,$(VENV_PY) benches/bench_contention.py --connections 256)

# `make test` runs the same clippy: whichever comes second finds it done (cargo caches the result).
lint: build ## ruff, ruff format --check, mypy --strict, stubtest, cargo fmt --check, clippy, cargo doc, check-features
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy --strict python/scsession tests
	$(VENV_PY) -m mypy.stubtest scsession._core $(if $(STUBTEST_ALLOWLIST),--allowlist $(STUBTEST_ALLOWLIST))
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	@# The Rust crates' docs as docs.rs builds them: no broken or private links.
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features
	@$(MAKE) --no-print-directory check-features

# Clippy rather than `cargo check`: it checks as much and turns warnings (an import unused
# without some feature) into errors. The lib alone, then with its tests: dev-dependencies add
# tokio features that could hide one the lib forgot to ask for.
check-features: ## the core has no pyo3 in its dependencies and builds with no store and with each store alone
	@deps="$$(cargo tree -p scsession-core -e normal --all-features --prefix none)"; \
	if grep -i '^pyo3' <<<"$$deps"; then \
		echo "== scsession-core depends on pyo3 (above): the core never sees Python" >&2; exit 1; \
	fi; \
	echo "== scsession-core: no pyo3 among its dependencies"
	@features="$(CORE_FEATURES)"; [ -n "$$features" ] || { echo "== no store features read" >&2; exit 1; }
	@for features in "" $(CORE_FEATURES); do \
		for targets in "" --all-targets; do \
			echo "== scsession-core, features: $${features:-none} $$targets"; \
			cargo clippy --quiet -p scsession-core --no-default-features \
				$${features:+--features $$features} $$targets -- -D warnings; \
		done; \
	done

# Fixes first, then the formatter, so that code moved by a fix ends up formatted too.
format: venv ## apply ruff fixes, ruff format and cargo fmt
	$(VENV)/bin/ruff check --fix-only
	$(VENV)/bin/ruff format
	cargo fmt --all

clean: ## remove build outputs (dist/ too) and caches (keeps .venv and .venv-lowest; rm -rf them for fresh ones)
	cargo clean
	rm -f python/scsession/_core*.so $(BUILD_STAMP)
	rm -rf dist
	rm -rf .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
