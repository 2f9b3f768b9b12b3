# revproxy.tls: one entry point for people and CI. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export ANSIBLE_CONFIG := $(CURDIR)/tests/ansible.cfg
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup demo demo-clean demo-nginx demo-nginx-clean test lint sanity unit integration bench constraints docs molecule package tools-constraints

help:
	@echo "make demo        run the role on localhost against a local demo HTTPS backend (root, Debian 12)"
	@echo "make demo-clean  stop and remove what the demo started"
	@echo "make demo-nginx  the same demo with the nginx_proxy role on this machine's nginx (127.0.0.1:8081)"
	@echo "make demo-nginx-clean  stop and remove what the nginx demo started"
	@echo "make test        set up and run lint, sanity, unit and integration tests"
	@echo "make bench       benchmarks (not part of make test)"
	@echo "make docs        build the collection's documentation site (antsibull-docs + Sphinx) in .build/docs/html"
	@echo "make package     build the tarball and check it (allow-list, galaxy-importer, installed check run)"

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@bash scripts/demo.sh up

demo-clean: setup
	@bash scripts/demo.sh clean

demo-nginx: setup
	@bash scripts/demo.sh nginx-up

demo-nginx-clean: setup
	@bash scripts/demo.sh nginx-clean

test: setup
	@bash scripts/test.sh

lint: setup
	@bash scripts/test.sh lint

sanity: setup
	@bash scripts/test.sh sanity

unit: setup
	@bash scripts/test.sh unit

integration: setup
	@bash scripts/test.sh integration

bench: setup
	@bash scripts/bench.sh

package: setup
	@bash scripts/test.sh package

docs: setup
	@bash scripts/docs.sh

tools-constraints:
	@bash scripts/tools-venv.sh && .build/tools-venv/bin/pip freeze | sed '1i # Pinned versions of everything requirements/tools.txt pulls in. Regenerate with: make tools-constraints' > requirements/tools-constraints.txt

molecule: setup
	@bash scripts/molecule.sh

constraints:
	@bash scripts/bootstrap.sh && $(VENV)/bin/pip freeze --exclude-editable | sed '1i # Pinned versions of everything requirements/dev.txt pulls in. Regenerate with: make constraints' > requirements/constraints.txt
