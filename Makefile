# Billing Centre: thin targets; the logic lives in scripts/ (see README.md).
#   make run    install everything, migrate, seed the demo, serve http://127.0.0.1:8000
#   make test   install everything, run the whole test suite (DATABASE_URL selects the database)
SHELL := /bin/bash
PY := .venv/bin/python
MANAGE := $(PY) manage.py
CELERY := .venv/bin/celery

.DEFAULT_GOAL := help
.PHONY: help setup run test lint fmt migrate seed messages compilemessages lock bench worker beat backup restore rehearsal

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

setup:  ## system packages (when root), .venv, Python packages from requirements.lock
	@bash scripts/setup.sh

run:  ## setup, migrate, seed an empty database, print the demo logins, serve :8000
	@bash scripts/run.sh

test: ## setup, then the whole suite: make test ARGS="tests/accounts -x"
	@bash scripts/test.sh $(ARGS)

lint: setup  ## ruff check and ruff format --check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt: setup  ## ruff format and ruff check --fix
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

migrate: setup  ## apply migrations
	$(MANAGE) migrate --no-input

seed: setup  ## (re)create the demo data (idempotent) and print the logins
	@bash scripts/seed.sh

messages: setup  ## extract translatable strings into locale/{ko,en}
	mkdir -p locale
	$(MANAGE) makemessages -l ko -l en -e html,txt,py,css --ignore=.venv --ignore=var --ignore=bench/data --ignore=test-artifacts --no-obsolete
	$(MANAGE) makemessages -d djangojs -l ko -l en --ignore=.venv --ignore=var --ignore=var/staticfiles --no-obsolete

compilemessages: setup  ## compile locale/*.po into .mo
	$(MANAGE) compilemessages --ignore=.venv

lock: ## regenerate requirements.lock from .venv (pyproject.toml pins win)
	@bash scripts/lock.sh

bench: setup  ## performance benchmarks (bench/RESULTS.md): make bench ARGS="--only tables --iterations 30"
	$(PY) bench/run.py $(ARGS)

rehearsal: setup  ## nginx, 2 web hosts, PgBouncer, S3, workers on 127.0.0.1 under load, a host and a worker killed: make rehearsal ARGS="--duration 60"
	@bash scripts/rehearsal.sh $(ARGS)

worker: setup  ## a Celery worker on every queue (needs REDIS_URL; without it tasks run eagerly in-process)
	$(CELERY) -A billing_centre worker -Q payments,documents,mail,celery --loglevel=INFO

beat: setup  ## the Celery beat scheduler, one only (needs REDIS_URL; its state is in the database)
	$(CELERY) -A billing_centre beat --loglevel=INFO

backup: setup  ## database dump + stored files into var/backups/<time>/ (or DEST=...): docs/operations.md
	@bash scripts/backup.sh $(DEST)

restore: setup  ## restore a backup into DATABASE_URL and the storage: make restore BACKUP=var/backups/... [ARGS=--force]
	@bash scripts/restore.sh "$(BACKUP)" $(ARGS)
