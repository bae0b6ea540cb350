"""Math written for a terminal, typeset for the book: the project's ASCII notation turned into TeX for MathJax.

Text that is read in a terminal as well as in the book (docstrings, read by ``help()``; the statements of
``blueprint verify``, printed by the command) writes its math in plain ASCII between single backquotes::

    Eq. (2): `F_m^(n) = w_{n,m} B^(n)`; Eq. (9): `L = ||W^B W^B^T - I||_F`, `dL/dW^B = 2 (W W^T - I) W / L`

In reStructuredText a single-backquoted span is interpreted text of the default role, which ``conf.py`` makes
``ascii-math`` (code stays in double backquotes); the verify page converts its statements with
``marked_to_myst``. Both call ``tex``. The notation:

- ``_x``, ``_{n,m}``, ``^x``, ``^(n)``, ``^{...}``: sub- and superscripts; ``^(n)`` is the paper's filter index
  (a superscript in parentheses) and a script of several letters (``L_ortho``) is one script, upright;
  ``W^B^T`` is the transpose of ``W^B``.
- ``*`` convolution, ``x`` or ``@`` products as written, ``~=`` approximately, ``<=``, ``>=``, ``!=``, ``==``,
  ``->``, ``||A||`` a norm, ``<a, b>`` an inner product, ``{...}`` a set (braces not after ``_`` or ``^``),
  ``sum_m`` / ``sum_{m'}`` a sum, ``min``, ``max``, ``rank``, ``tr`` and Greek names (``alpha``, ``Sigma``) as
  TeX has them.
- Any other word of three letters or more (``col2im``, ``pad``) is a name, set upright; single letters and
  pairs (``dW``, ``dy``) are variables, set in italics.
"""

from __future__ import annotations

import re

GREEK = "alpha beta gamma delta epsilon eta theta lambda mu pi rho sigma tau phi psi omega Delta Sigma Phi Omega"
OPERATORS = {"sum": r"\sum", "min": r"\min", "max": r"\max", "exp": r"\exp", "log": r"\log"}
OPERATORS |= {name: "\\" + name for name in GREEK.split()}
NAMED = {"rank", "argmin", "argmax", "mean", "diag", "tr"}  # set as \operatorname
SYMBOLS = [  # longest first: "||" before "|", "<=" before "<"
    ("||", r"\Vert "),
    ("|", r"\vert "),
    ("~=", r"\approx "),
    ("<=", r"\le "),
    (">=", r"\ge "),
    ("!=", r"\ne "),
    ("==", "="),
    ("->", r"\to "),
    ("*", r"\ast "),
    ("...", r"\dots "),
    ("%", r"\%"),
    ("&", r"\&"),
    ("#", r"\#"),
    ("~", r"\sim "),
    ("{", r"\{"),
    ("}", r"\}"),
]
# One token: a braced or parenthesized script, a word, a symbol, or any single character.
TOKEN = re.compile(
    r"(?P<script>[_^])(?P<arg>\{[^{}]*\}|\([^()]*\)|[A-Za-z]+'*|\d+|.)"
    r"|(?P<word>[A-Za-z][A-Za-z0-9]*)"
    r"|(?P<angle><(?![=-])(?P<inner>[^<>]*)>)"
    r"|(?P<symbol>" + "|".join(re.escape(s) for s, _ in SYMBOLS) + r")"
    r"|(?P<other>.)",
    re.S,
)


def word(text: str) -> str:
    """A name in TeX: an operator or Greek letter, an upright name of three letters or more, else italics."""
    if text in OPERATORS:
        return OPERATORS[text] + " "
    if text in NAMED:
        return rf"\operatorname{{{text}}}"
    return rf"\mathrm{{{text}}}" if len(text) >= 3 else text


def script(kind: str, arg: str) -> str:
    """``_x`` / ``^(n)`` / ``_{n,m}`` / ``_ortho`` as a TeX script, always braced."""
    if arg.startswith("{"):
        body = tex(arg[1:-1])
    elif arg.startswith("("):  # the paper's ^(n): the parentheses are part of the script
        body = "(" + tex(arg[1:-1]) + ")"
    elif arg == "T" and kind == "^":
        body = r"\top"
    elif re.fullmatch(r"[A-Za-z]{2,}", arg):
        body = rf"\mathrm{{{arg}}}" if len(arg) >= 3 else arg
    else:
        body = tex(arg)
    return f"{kind}{{{body}}}"


def tex(ascii: str) -> str:
    """The TeX of one span of ASCII math (see the module's docstring)."""
    symbols = dict(SYMBOLS)
    out = []
    for m in TOKEN.finditer(ascii):
        if m["script"]:
            piece = script(m["script"], m["arg"])
            if out and out[-1].startswith("^") and m["script"] == "^":  # W^B^T: a superscript of a superscript
                out.append("{}")
            out.append(piece)
        elif m["word"]:
            out.append(word(m["word"]))
        elif m["angle"]:
            out.append(rf"\langle {tex(m['inner'])} \rangle ")
        elif m["symbol"]:
            out.append(symbols[m["symbol"]])
        else:
            out.append(m["other"])
    return "".join(out).strip()


BACKQUOTED = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def marked_to_myst(text: str) -> str:
    """``text`` with each single-backquoted ASCII span as MyST inline math (``$...$``), for a Markdown page.

    The TeX holds no ``|`` (norms are ``\\Vert``), so the result may stand in a Markdown table's cell.
    """
    return BACKQUOTED.sub(lambda m: f"${tex(m[1])}$", text)


def ascii_math_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """The reStructuredText role ``ascii-math`` (the default role of the book's docstrings): a math node of ``tex``."""
    from docutils import nodes

    return [nodes.math(rawtext, tex(text))], []
