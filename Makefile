# Two commands do all set-up themselves on a machine with only Python 3.11:
#   make demo   fill a sample timeline with the offline generator
#   make test   run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.test-tools

.PHONY: demo test setup bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# Use the system ffmpeg when there is one, else the pinned static build.
	@if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install --quiet -e '.[dev]'; \
	else \
	  $(BIN)/python -m pip install --quiet -e '.[dev,ffmpeg]'; \
	fi
	touch $(STAMP)

setup: $(STAMP)

$(TSTAMP): $(STAMP)
	@# Headless Chromium for the report's screenshot test: best effort, only as root with apt-get;
	@# without it that one test is skipped.
	-@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
	    && ! command -v google-chrome >/dev/null 2>&1 && ! command -v google-chrome-stable >/dev/null 2>&1 \
	    && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium with apt-get (for tests/test_report.py)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "could not install chromium; the report screenshot test will be skipped"; \
	fi
	touch $(TSTAMP)

demo: $(STAMP)
	$(BIN)/python sample_timelines/demo.py

test: $(TSTAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/conform_ratio.py
	$(BIN)/python bench/edl_5000.py
	$(BIN)/python bench/batch_concurrency.py
	$(BIN)/python bench/colour_match.py

clean:
	rm -rf $(VENV) build *.egg-info demo_output
