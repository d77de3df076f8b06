"""Render a ``Table`` as Markdown, LaTeX (booktabs) or HTML, escaping every string from a record.

A runner name or an error message may hold ``|``, a newline, ``<script>`` or ``%``: each format
escapes what is special to it, so no record can break a table or inject markup.
"""

from __future__ import annotations

import html
import re

from triggerbench.reports.table import Cell, Table

_SUPERSCRIPT = str.maketrans("0123456789,", "⁰¹²³⁴⁵⁶⁷⁸⁹˒")


def _one_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", str(text))


# --- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown punctuation (CommonMark: any ASCII punctuation may be escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", _one_line(text))


def _md_cell(cell: Cell) -> str:
    marks = ",".join(map(str, cell.notes)).translate(_SUPERSCRIPT)
    return md_escape(cell.text) + marks


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table with its caption, footnotes and excluded records."""
    align = ["---:" if i in table.numeric else ":---" for i in range(len(table.columns))]
    lines = [f"**{md_escape(table.title)}** — {md_escape(table.caption)}", ""]
    lines.append("| " + " | ".join(md_escape(c) for c in table.columns) + " |")
    lines.append("|" + "|".join(align) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    lines.append("")
    for number, note in enumerate(table.notes, 1):
        lines.append(f"{str(number).translate(_SUPERSCRIPT)} {md_escape(note)}  ")
    if table.excluded:
        lines += ["", "Not in this table:", ""]
        lines += [f"- {md_escape(line)}" for line in table.excluded]
    return "\n".join(lines).rstrip() + "\n"


# --- LaTeX ------------------------------------------------------------------------------------

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # Unicode that pdflatex's default input encoding cannot typeset on its own.
    "µ": r"$\mu$",
    "—": "---",
    "–": "--",
    "Δ": r"$\Delta$",
    "×": r"$\times$",
    "±": r"$\pm$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "→": r"$\rightarrow$",
    "·": r"$\cdot$",
    "≈": r"$\approx$",
    "…": r"\ldots{}",
    "’": "'",
    "★": r"$\star$",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX's special characters and map the Unicode the reports use to LaTeX."""
    out = []
    for ch in _one_line(text):
        if ch in _TEX_SPECIAL:
            out.append(_TEX_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append("?")  # pdflatex stops on an unknown UTF-8 character; never let a name do that
    return "".join(out)


def _tex_cell(cell: Cell) -> str:
    marks = ",".join(map(str, cell.notes))
    return tex_escape(cell.text) + (rf"\textsuperscript{{{marks}}}" if marks else "")


def to_latex(table: Table) -> str:
    r"""A ``table`` with a booktabs ``tabular``, ready to ``\input`` into a beamer frame.

    Needs ``\usepackage{booktabs}`` in the preamble (``report.tex`` has it).
    """
    spec = "".join("r" if i in table.numeric else "l" for i in range(len(table.columns)))
    lines = [
        f"% triggerbench table {table.name}: generated from result records, do not edit",
        r"\begin{table}",
        r"\centering",
        r"\scriptsize",
        rf"\caption{{{tex_escape(table.title)}: {tex_escape(table.caption)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(tex_escape(c) for c in table.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(_tex_cell(c) for c in row) + r" \\" for row in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = [rf"\textsuperscript{{{n}}}{tex_escape(t)}" for n, t in enumerate(table.notes, 1)]
    if table.excluded:
        notes.append("Not in this table: " + "; ".join(tex_escape(line) for line in table.excluded))
    if notes:
        lines.append(r"\par\smallskip\parbox{\linewidth}{\tiny " + r"\\ ".join(notes) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


# --- HTML -------------------------------------------------------------------------------------


def _html_cell(cell: Cell, tag: str = "td", numeric: bool = False) -> str:
    marks = ",".join(map(str, cell.notes))
    sup = f"<sup>{marks}</sup>" if marks else ""
    cls = ' class="num"' if numeric else ""
    return f"<{tag}{cls}>{html.escape(_one_line(cell.text))}{sup}</{tag}>"


def to_html(table: Table) -> str:
    """A ``<table>`` with caption, footnotes in ``<tfoot>`` and the excluded records below."""
    width = len(table.columns)
    head = "".join(f"<th>{html.escape(_one_line(c))}</th>" for c in table.columns)
    body = "\n".join(
        "<tr>" + "".join(_html_cell(c, numeric=i in table.numeric) for i, c in enumerate(row)) + "</tr>"
        for row in table.rows
    )
    notes = "".join(
        f'<tr><td colspan="{width}"><sup>{n}</sup> {html.escape(_one_line(t))}</td></tr>'
        for n, t in enumerate(table.notes, 1)
    )
    parts = [
        f'<table class="tb" id="{html.escape(table.name)}">',
        f"<caption><b>{html.escape(table.title)}</b> — {html.escape(_one_line(table.caption))}</caption>",
        f"<thead><tr>{head}</tr></thead>",
        f"<tbody>\n{body}\n</tbody>",
        f"<tfoot>{notes}</tfoot>" if notes else "",
        "</table>",
    ]
    if table.excluded:
        items = "".join(f"<li>{html.escape(_one_line(line))}</li>" for line in table.excluded)
        parts.append(f'<p class="excluded">Not in this table:</p><ul class="excluded">{items}</ul>')
    return "\n".join(p for p in parts if p) + "\n"


RENDERERS = {"md": to_markdown, "tex": to_latex, "html": to_html}
