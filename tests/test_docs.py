"""The book, opened in a real browser: Debian's headless Chromium, driven by Playwright, over a local HTTP server.

Every page of the site built from the fast-mode lessons (``book_site``) is loaded with every request off this
machine refused, and must show no console error, load every image, render every formula with MathJax and leave
no raw TeX in its text; every link inside the site must resolve (the fragment too); each API page must document
its objects; each lesson page must show its lesson's figures and offer its executed notebook for download. One
page's screenshot is kept.
"""
import functools
import importlib.util
import json
import struct
import threading
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import pytest

from book import FIGURES

CHROMIUM = Path("/usr/bin/chromium")
# Chromium without its background services: nothing but the pages reaches the network.
FLAGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run"]  # fmt: skip
API_AREAS = ["reference", "accel", "layers", "convert", "models", "training", "analysis"]
PAGES = ["index.html", "idea.html", "verify.html", "performance.html", "design.html",
         *(f"lessons/{name}.html" for name in FIGURES), *(f"api/{area}.html" for area in API_AREAS)]
# Kept after the run (git ignores docs/_build/), to look at: /tmp/pytest-of-* is shared and pruned.
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "_build" / "test-screenshots" / "lesson02.png"
RAW_TEX = ["$$", "\\(", "\\[", "\\begin{"]
RAW_RST = [".. py:", ".. automodule::", ":module:"]  # autodoc output that was not parsed as reStructuredText
FACTS = """() => {
    const prose = document.body.cloneNode(true);
    prose.querySelectorAll("pre, code, script, style, mjx-container, .highlight").forEach(e => e.remove());
    const math = Array.from(document.querySelectorAll(".math"));
    return {
        text: prose.textContent,
        brokenImages: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
        math: math.length,
        unrendered: math.filter(m => !m.querySelector("mjx-container")).map(m => m.textContent.slice(0, 80)),
        mathErrors: document.querySelectorAll("mjx-merror").length,
        links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
        figures: Array.from(document.querySelectorAll(".cell_output img")).map(i => [i.naturalWidth, i.naturalHeight]),
        downloads: Array.from(document.querySelectorAll("a.download")).map(a => a.href),
        documented: document.querySelectorAll("dl.py").length,
        preformatted: Array.from(document.querySelectorAll("pre")).map(p => p.textContent).join("\\n"),
    };
}"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def server(book_site):
    """The site over HTTP on 127.0.0.1 (a free port), for as long as the module's tests run."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(book_site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    """Headless Chromium with a fresh profile; requests off the local server are refused and recorded."""
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: `apt-get install chromium` (./run.sh test installs it)"
    from playwright.sync_api import sync_playwright

    offsite = []

    def only_local(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            chromium_sandbox=False, args=FLAGS, viewport={"width": 1280, "height": 900})  # fmt: skip
        context.route("**/*", only_local)
        context.offsite, context.visited = offsite, {}
        yield context
        context.close()


def visit(browser, url: str, screenshot: Path | None = None) -> dict:
    """Open ``url``, wait for MathJax to finish, and return what ``FACTS`` found plus the console's errors.

    Each page is visited once per session; later calls for the same ``url`` return the same facts (unless they
    ask for a screenshot).
    """
    if url in browser.visited and screenshot is None:
        return browser.visited[url]
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    page.evaluate("async () => { if (window.MathJax && MathJax.startup) await MathJax.startup.promise; }")
    facts = page.evaluate(FACTS)
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
    page.close()
    browser.visited[url] = {**facts, "errors": errors}
    return browser.visited[url]


@functools.cache
def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def png_size(path: Path) -> list[int]:
    """(width, height) from a PNG's IHDR chunk."""
    return list(struct.unpack(">II", path.read_bytes()[16:24]))


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_offline_with_every_image_and_formula_rendered(page, server, browser):
    screenshot = SCREENSHOT if page.startswith("lessons/02") else None
    facts = visit(browser, urljoin(server, page), screenshot)
    assert facts["errors"] == [], f"{page}: console errors"
    assert browser.offsite == [], f"{page} asked for something off this machine"
    assert facts["brokenImages"] == []
    assert facts["unrendered"] == [] and facts["mathErrors"] == 0, f"{page}: formulas MathJax did not render"
    assert [tex for tex in RAW_TEX if tex in facts["text"]] == [], f"{page}: raw TeX left in the text"
    assert [rst for rst in RAW_RST if rst in facts["text"]] == [], f"{page}: raw reStructuredText left in the text"
    if page.startswith("lessons/"):
        assert facts["math"] > 0
    if page.startswith("api/"):
        assert facts["documented"] > 0, f"{page} documents nothing"
    if screenshot is not None:
        assert screenshot.stat().st_size > 10_000
        print(f"screenshot: {screenshot}")


def test_verify_page_shows_the_table_or_says_there_is_none(server, browser):
    facts = visit(browser, urljoin(server, "verify.html"))
    if importlib.util.find_spec("blueprint.commands.verify") is not None:  # the condition docs/pages.py uses
        assert "blueprint verify: seed" in facts["preformatted"]
    else:
        assert "This version of blueprint has no" in facts["text"]


@pytest.mark.parametrize("page", PAGES)
def test_every_link_inside_the_site_resolves(page, server, browser):
    for link in visit(browser, urljoin(server, page))["links"]:
        if not link.startswith(server):
            continue
        target, fragment = urldefrag(link)
        html = fetch(target)  # raises on a 404
        if fragment:
            assert f'id="{fragment}"'.encode() in html, f"{page}: {link} names no element of {target}"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_lesson_page_shows_its_figures_and_offers_its_notebook(name, server, browser, executed_lessons):
    facts = visit(browser, urljoin(server, f"lessons/{name}.html"))
    assert facts["figures"] == [png_size(executed_lessons / "figures" / figure) for figure in FIGURES[name]]
    (download,) = facts["downloads"]
    assert download.endswith(f"/{name}.ipynb")
    notebook = json.loads(fetch(download))
    shown = [output for cell in notebook["cells"] for output in cell.get("outputs", [])
             if "image/png" in output.get("data", {})]  # fmt: skip
    assert len(shown) == len(FIGURES[name])
