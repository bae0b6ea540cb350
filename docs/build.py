"""``./run.sh docs``: execute every lesson, lay out the book's sources and build the static site with Sphinx.

    python docs/build.py [--fast] [--out docs/_build] [--no-execute] [--no-site] [--serve]

Writes into ``--out``: ``figures/`` (what the lessons save), ``notebooks/`` (the executed notebooks and
``runs.json``), ``src/`` (the Sphinx sources: generated pages, the lesson notebooks, ``docs/api/``), ``html/``
(the site: open ``html/index.html``; it needs no network, and its search shows snippets from
``file://`` too, from ``html/_static/search-texts.js``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat

import figure_captions
import lessons
import pages
import performance
import search_texts

DOCS = Path(__file__).resolve().parent


def stage_sources(out: Path, runs: list[lessons.Run], fast: bool) -> Path:
    """Write the Sphinx sources into ``out/src`` (replacing what was there) and return that folder."""
    src = out / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(DOCS / "api", src / "api")
    shutil.copytree(out / lessons.NOTEBOOKS, src / "notebooks")
    for page in (DOCS / "book").glob("*.md"):  # the hand-written pages: idea, notation, backward passes, design
        shutil.copy(page, src / page.name)
    (src / "index.md").write_text(pages.index_page(runs))
    (src / "verify.md").write_text(pages.verify_page(fast))
    shutil.copytree(DOCS / "measurements", src / "measurements")
    (src / "performance.md").write_text(performance.performance_page())
    (src / "lessons").mkdir()
    for run in runs:
        notebook = pages.lesson_page(run, out / lessons.NOTEBOOKS / f"{run.name}.ipynb")
        nbformat.write(notebook, src / "lessons" / f"{run.name}.ipynb")
    return src


def build_site(src: Path, html: Path) -> None:
    """Sphinx, from scratch, with every warning an error (a broken reference or docstring fails the build)."""
    from sphinx.cmd.build import build_main

    print(f"docs: building the site into {html} ...", flush=True)
    shutil.rmtree(html, ignore_errors=True)  # no page or download left over from an earlier build
    status = build_main(
        [
            "-b",
            "html",
            "-E",
            "-W",
            "--keep-going",
            "-q",
            "-c",
            str(DOCS),
            "-d",
            str(src.parent / "doctrees"),
            str(src),
            str(html),
        ]
    )
    if status != 0:
        sys.exit(f"docs: sphinx failed (exit {status}); its warnings are above")
    figure_captions.write(html)
    search_texts.write(html)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docs/build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS / "_build", help="output folder (default docs/_build)")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="run the lessons in fast mode (BLUEPRINT_TUTORIAL_FAST=1) and blueprint verify on 2 cases",
    )
    parser.add_argument("--no-execute", action="store_true", help="reuse the lessons executed by an earlier build")
    parser.add_argument("--no-site", action="store_true", help="execute the lessons only")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="then serve the site on http://127.0.0.1:8000/ until Ctrl-C (file:// works too)",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    runs = lessons.load_runs(out) if args.no_execute else lessons.execute_all(out, args.fast)
    if not args.no_site:
        build_site(stage_sources(out, runs, args.fast), out / "html")
        print(f"docs: open {out / 'html' / 'index.html'}")
    if args.serve:
        serve(out / "html")
    return 0


def serve(html: Path, port: int = 8000) -> None:
    """The site over HTTP on 127.0.0.1:``port`` until interrupted."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    with ThreadingHTTPServer(("127.0.0.1", port), functools.partial(SimpleHTTPRequestHandler, directory=html)) as httpd:
        print(f"docs: serving http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    sys.exit(main())
