"""Sphinx configuration of the book: the lessons as executed notebooks, the API from the docstrings.

``docs/build.py`` executes the lessons and lays out the sources in ``<out>/src``; this file says how Sphinx
turns them into HTML. Nothing here reaches the network: MathJax is copied from the ``sphinx-mathjax-offline``
package into ``_static/mathjax``, and the theme ships its own fonts and scripts.
"""

project = "blueprint"
author = "blueprint contributors"
copyright = "the blueprint contributors; BSConv by Haase & Amthor, CVPR 2020"

extensions = [
    "myst_nb",  # notebooks (.ipynb) and MyST markdown (.md) as pages, outputs inline
    "sphinx.ext.autodoc",  # the API pages, from the docstrings
    "sphinx.ext.napoleon",  # their "Args:" sections
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 from a PyPI package into _static/mathjax: no CDN
]

# The lessons arrive executed (docs/build.py runs them, timed, in the lessons' own folder setup); Sphinx only
# renders what they printed and drew.
nb_execution_mode = "off"
nb_execution_raise_on_error = True
nb_output_stderr = "remove"  # kernel warnings (e.g. Numba's) are not part of a lesson
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# notebooks/ holds the clean executed notebooks that each lesson page offers for download; they are files to
# download, not pages.
exclude_patterns = ["notebooks/**", "**/.ipynb_checkpoints"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_js_files = ["book.js"]  # search snippets from file://
html_title = "blueprint: Blueprint Separable Convolutions"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,  # each lesson links its executed notebook itself
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
}
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # figures are drawn on white; an unset mode is logged as a console error
# The theme's sidebar without its search field: the header already has one.
html_sidebars = {"**": ["navbar-logo.html", "icon-links.html", "sbt-sidebar-nav.html"]}

# Docstrings write their math in ASCII between single backquotes (`F_m^(n) = w_{n,m} B^(n)`, readable in
# help()); as the default role of reStructuredText, ascii-math typesets it (docs/ascii_math.py).
default_role = "ascii-math"


def setup(app):
    import ascii_math  # docs/, on the path of docs/build.py, which runs Sphinx

    app.add_role("ascii-math", ascii_math.ascii_math_role)
