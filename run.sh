#!/usr/bin/env bash
# The project's three entry points. Each sets up .venv on first use (CPU build of torch, then this package).
#   ./run.sh demo   trains a baseline CNN and its BSConv-U twin on scikit-learn's bundled digits
#   ./run.sh test   runs the whole test suite, one pytest-xdist worker per core, and prints its 15 slowest tests
#   ./run.sh docs   executes the lessons and builds the book, a static site, into docs/_build/html
set -euo pipefail
cd "$(dirname "$0")"
venv=.venv
stamp="$venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ]; then
    # torch first, so the unpinned 'torch>=2.3' of pyproject.toml is already satisfied and pip never
    # resolves a multi-GB CUDA build by itself. On this project's machines torch==2.13.0 is a CPU wheel on
    # disk; elsewhere set BLUEPRINT_TORCH_INDEX (e.g. https://download.pytorch.org/whl/cpu) to choose the
    # build, or install the torch you want into .venv before the first run: one already there is kept.
    if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
        "$venv/bin/pip" install --quiet "torch==2.13.0" ${BLUEPRINT_TORCH_INDEX:+--index-url "$BLUEPRINT_TORCH_INDEX"}
    fi
    "$venv/bin/pip" install --quiet -e ".[test]"
    rm -f "$venv"/.installed-*
    touch "$stamp"
fi
cmd="${1:-}"
shift || true
case "$cmd" in
    demo) exec "$venv/bin/blueprint" demo "$@" ;;
    test)
        # tests/test_docs.py opens the book in Debian's headless Chromium (Playwright's own download cannot be
        # used here); installed once, then found in place.
        if [ ! -x /usr/bin/chromium ]; then
            echo "run.sh: installing Debian's chromium for tests/test_docs.py" >&2
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
                echo "run.sh: could not install chromium (apt-get install chromium); tests/test_docs.py will fail" >&2
        fi
        # -n auto: one pytest-xdist worker per core (tests/conftest.py keeps the tests of the book, built once, on
        # one of them). Flags given after `test` come later and win (e.g. -n 0).
        exec "$venv/bin/python" -m pytest -n auto --durations=15 "$@" ;;
    docs) exec "$venv/bin/python" docs/build.py "$@" ;;
    *) echo "usage: ./run.sh demo|test|docs [args...]" >&2; exit 2 ;;
esac
