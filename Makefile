# The README's two commands: `make up` and `make test`. Both work on a fresh
# Debian 12 machine: they install what they need (apt and pip) first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# System packages kumo drives: QEMU, the guest image's build tools, networking; the
# console's browser tests drive Debian's headless Chromium.
APT_PACKAGES := python3-venv python3-dev gcc qemu-system-x86 qemu-utils busybox-static \
  dnsmasq-base haproxy keepalived iproute2 nftables etcd-server dosfstools mtools syslinux \
  syslinux-common procps prometheus knot knot-dnsutils bind9 chromium chromium-driver iperf3
PYTEST_ARGS ?=
# axe-core, the console's accessibility check in the browser tests (test-time only).
AXE_VERSION := 4.14.1
AXE_JS := $(VENV)/axe/node_modules/axe-core/axe.min.js

.PHONY: up test faults deps apt venv axe lint clean

up: deps
	$(BIN)/kumo up

test: deps axe lint
	@date -u +"pytest starts %FT%TZ"
	$(BIN)/pytest -q -p no:cacheprovider --durations=30 $(PYTEST_ARGS)
	@date -u +"pytest ends %FT%TZ"

# The fault-injection suite (tests/faults): live clouds, faults injected by hand, each
# diagnosed by `kumo doctor`. Not part of `make test` (its fast subset is tests/doctor).
faults: deps
	KUMO_FAULTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/faults tests/doctor $(PYTEST_ARGS)

deps: apt venv
	@date -u +"deps ready %FT%TZ"

axe: $(AXE_JS)
$(AXE_JS): $(VENV)/.apt-done
	@# npm: the machine's own (nodesource's nodejs bundles it and conflicts with Debian's npm)
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends npm; }
	npm install --prefix $(VENV)/axe --no-audit --no-fund axe-core@$(AXE_VERSION)
	@touch $@

apt: $(VENV)/.apt-done
$(VENV)/.apt-done: Makefile
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

venv: $(VENV)/.pip-done
$(VENV)/.pip-done: pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build src/*.egg-info
