"""The book, opened in a real browser: Debian's headless Chromium, driven by Playwright, over a local HTTP server.

Every page of the site built from the fast-mode lessons (``book_site``) is loaded at 1280 px with every request
off this machine refused, and must show no console error, load every image, render every formula with MathJax
and leave no raw TeX (nor ``$`` or ASCII ``x^2`` math outside code, the API pages' docstrings included) in its
text; no code cell or output may be wider than its column, every figure fills the column or links to its full
image, and no figure's text is shown below 10 pt (13.3 CSS px); every link inside the
site must resolve (the fragment too); each API page must document its objects; each lesson page must show its
lesson's figures with their captions and offer its executed notebook for download, and that notebook runs
alone in an empty folder. The verify page typesets every statement's math. The search page, opened from disk
(``file://``), shows results with snippets. One page's screenshot is kept.
"""

import functools
import importlib.util
import json
import os
import re
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
FLAGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
API_AREAS = ["reference", "accel", "layers", "convert", "models", "training", "analysis"]
PAGES = [
    "index.html",
    "idea.html",
    "notation.html",
    "backward.html",
    "verify.html",
    "performance.html",
    "design.html",
    *(f"lessons/{name}.html" for name in FIGURES),
    *(f"api/{area}.html" for area in API_AREAS),
]
# Kept after the run (git ignores docs/_build/), to look at: /tmp/pytest-of-* is shared and pruned.
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "_build" / "test-screenshots" / "lesson02.png"
RAW_TEX = ["$", "\\(", "\\[", "\\begin{"]
# Math left as ASCII in prose: a letter, digit or bracket followed by ^ (K^2, W^B, (n)^T). The docstrings of the
# API pages write theirs between single backquotes, which the book typesets (docs/ascii_math.py).
ASCII_POWER = re.compile(r"[\w)\]}]\^[\w({]")
# The smallest text a figure may show, in CSS px: 10 pt at 96 px per 72 pt.
MIN_FIGURE_TEXT_PX = 10 * 96 / 72
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
        tables: Array.from(document.querySelectorAll("article table")).map(t => [t.rows.length,
            Array.from(t.rows[0].cells).map(c => c.textContent.trim())]),
        column: (a => a.clientWidth - parseFloat(getComputedStyle(a).paddingLeft)
            - parseFloat(getComputedStyle(a).paddingRight))(document.querySelector("article") || document.body),
        wide: Array.from(document.querySelectorAll("article *"))
            .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && (["PRE", "TABLE"].includes(e.tagName)
                || ["auto", "scroll"].includes(getComputedStyle(e).overflowX)))
            .map(e => `${e.tagName} ${e.scrollWidth}>${e.clientWidth}: ${e.textContent.slice(0, 60)}`),
        nav: Array.from(document.querySelectorAll(".bd-sidebar-primary nav a.reference")).map(a => a.href),
        next: (document.querySelector("a.right-next") || {}).href,
        shownFigures: Array.from(document.querySelectorAll(".cell_output img")).map(i => ({
            width: i.getBoundingClientRect().width, linked: !!(i.closest("a") && i.closest("a").href === i.src),
            alt: i.alt, caption: i.closest("figure") ? i.closest("figure").textContent.trim() : ""})),
        articleImages: Array.from(document.querySelectorAll("article img")).map(i => ({
            src: i.src, natural: i.naturalWidth, width: i.getBoundingClientRect().width})),
        statementMath: Array.from(document.querySelectorAll("article table td .math")).length,
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
        if route.request.url.startswith((server, "file://")):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            chromium_sandbox=False,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
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


def png_texts(data: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG (keyword -> text)."""
    texts, at = {}, 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        if kind == b"tEXt":
            keyword, _, text = data[at + 8 : at + 8 + length].partition(b"\0")
            texts[keyword.decode("latin-1")] = text.decode("latin-1")
        at += 12 + length
    return texts


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
    assert ASCII_POWER.findall(facts["text"]) == [], f"{page}: ASCII math (x^2) left in the text"
    if page.startswith("lessons/"):
        assert facts["math"] > 0
    if page.startswith("api/"):
        assert facts["documented"] > 0, f"{page} documents nothing"
    if screenshot is not None:
        assert screenshot.stat().st_size > 10_000
        print(f"screenshot: {screenshot}")


@pytest.mark.parametrize("page", PAGES)
def test_page_fits_1280_pixels_with_no_sideways_scrolling_and_full_width_figures(page, server, browser):
    facts = visit(browser, urljoin(server, page))
    assert facts["wide"] == [], f"{page}: code, outputs or tables wider than the column"
    for figure in facts["shownFigures"]:
        assert figure["width"] >= 0.9 * facts["column"] or figure["linked"], f"{page}: a small figure, no link"
        assert figure["linked"], f"{page}: a figure that a click does not enlarge"


@pytest.mark.parametrize("page", PAGES)
def test_no_figure_text_is_shown_below_10_points(page, server, browser):
    """Every image of the page says (``blueprint.plotting.save``) its smallest font and DPI: scaled to the width
    it is shown at, that font must be at least 10 pt (a figure drawn 11 in wide and shown at the column's 7 in
    would show its 9 pt labels at 5.7 pt)."""
    from blueprint.plotting import DPI_KEY, FONT_KEY

    for image in visit(browser, urljoin(server, page))["articleImages"]:
        texts = png_texts(fetch(image["src"]))
        assert FONT_KEY in texts and DPI_KEY in texts, f"{page}: {image['src']} was not saved by blueprint.plotting"
        font_px = float(texts[FONT_KEY]) / 72 * float(texts[DPI_KEY])  # in the PNG's own pixels
        shown_px = font_px * image["width"] / image["natural"]
        assert shown_px >= MIN_FIGURE_TEXT_PX, f"{page}: {image['src']} shows its smallest text at {shown_px:.1f} px"


def test_verify_page_shows_the_table_or_says_there_is_none(server, browser):
    facts = visit(browser, urljoin(server, "verify.html"))
    if importlib.util.find_spec("blueprint.commands.verify") is not None:  # the condition docs/pages.py uses
        from blueprint.verification import EQUATIONS

        (rows, header), *_ = facts["tables"]
        assert header[-3:] == ["max error", "tolerance", "verdict"] and rows == len(EQUATIONS) + 1
        # Each statement's math (single backquotes, as the command prints it) is typeset, none left as text.
        assert facts["statementMath"] == sum(e.statement.count("`") // 2 for e in EQUATIONS) > len(EQUATIONS)
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
    shown = [
        output
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(shown) == len(FIGURES[name])
    figures = facts["shownFigures"]
    assert all(figure["alt"] and figure["caption"] for figure in figures), f"{name}: a figure without caption"


def test_downloaded_notebook_runs_alone_in_an_empty_folder(server, browser, tmp_path):
    """Lesson 2's notebook, as its page offers it, executed with only the packages (blueprint) on the path."""
    import nbformat
    from nbclient import NotebookClient

    name = "02_regular_to_bsconv_u"
    (download,) = visit(browser, urljoin(server, f"lessons/{name}.html"))["downloads"]
    notebook = nbformat.reads(fetch(download).decode(), as_version=4)
    folder = tmp_path / "empty"
    folder.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "MPLBACKEND": "Agg",
        "BLUEPRINT_TUTORIAL_FAST": "1",
    }
    env.pop("BLUEPRINT_TUTORIAL_OUT", None)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute(
        env=env
    )  # raises CellExecutionError if a cell fails
    assert sorted(p.name for p in (folder / "figures").iterdir()) == sorted(FIGURES[name])


def test_search_from_disk_shows_results_with_snippets(book_site, browser):
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto((book_site / "search.html").as_uri() + "?q=blueprint", wait_until="load")
    page.wait_for_selector("#search-results p.search-summary", timeout=30_000)  # the search has finished
    # Every page found by its text (not an API object, which shows its description instead) gets its snippet.
    page.wait_for_function(
        """() => {
        const pages = document.querySelectorAll("#search-results ul li.kind-text");
        return pages.length > 0 && document.querySelectorAll("li.kind-text p.context").length === pages.length;
    }""",
        timeout=30_000,
    )
    snippets = page.eval_on_selector_all("li.kind-text p.context", "ps => ps.map(p => p.textContent)")
    page.close()
    assert errors == [], "console errors (a CORS error per result means the snippets were fetched)"
    assert len(snippets) >= 3 and all("blueprint" in s.lower() for s in snippets)


def test_idea_page_code_runs():
    """The code of the hand-written idea page (docs/book/idea.md) runs and its asserts hold."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "book" / "idea.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "docs/book/idea.md", "exec"), {})


def test_front_page_starts_with_the_idea_and_links_the_paper_and_the_authors_code(server, browser):
    facts = visit(browser, urljoin(server, "index.html"))
    assert facts["nav"][0].endswith("/idea.html") and facts["next"].endswith("/idea.html")
    assert "https://arxiv.org/abs/2003.13549" in facts["links"]
    assert "https://github.com/zeiss-microscopy/BSConv" in facts["links"]
    assert len(re.findall(r"about \d+ minutes[^;]*; needs ", facts["text"])) == len(
        FIGURES
    )  # study time, prerequisites
