import shutil
import subprocess

import pytest

from triggerbench.reports.render import to_html, to_latex, to_markdown
from triggerbench.reports.table import Notes, Table

HOSTILE = "evil|name\n<script>alert(1)</script> 100% & #1 _x_ {y} $z ~ ^ \\"


def hostile_table() -> Table:
    notes = Notes()
    return Table(
        name="t",
        title="Backends: " + HOSTILE,
        caption="caption " + HOSTILE,
        columns=["backend", "events/s"],
        rows=[
            [notes.cell(HOSTILE, "note " + HOSTILE), notes.cell("12.3 k")],
            [notes.cell("µs — Δ ×"), notes.cell("1")],
        ],
        notes=notes.texts,
        excluded=["x (single-stream, batch 1): failed — " + HOSTILE],
        numeric=(1,),
    )


def test_markdown_escapes_what_would_break_the_table_or_inject_markup():
    text = to_markdown(hostile_table())
    table_lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table_lines) == 3  # header + 2 rows: the newline did not split a row
    for line in table_lines:
        unescaped_pipes = line.replace("\\|", "").count("|")
        assert unescaped_pipes == 3, line  # the name's | is escaped
    assert "<script>" not in text and "\\<script\\>" in text
    assert "12.3 k" in text and "¹" in text and "---:" in text


def test_html_escapes_everything():
    text = to_html(hostile_table())
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert text.count("<tr>") == 3 + 1  # header, 2 rows, 1 footnote
    assert "<sup>1</sup>" in text


def test_latex_escapes_specials_and_uses_booktabs():
    text = to_latex(hostile_table())
    assert "\\toprule" in text and "\\midrule" in text and "\\bottomrule" in text
    for raw, escaped in (("100%", "100\\%"), ("& #1", "\\& \\#1"), ("_x_", "\\_x\\_"), ("$z", "\\$z")):
        assert escaped in text, raw
    assert "µ" not in text and "$\\mu$s" in text and "$\\Delta$" in text
    body = text.split("\\midrule")[1].split("\\bottomrule")[0]
    assert body.count("\\\\") == 2  # two rows: the newline in a name did not add one


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs texlive)")
def test_latex_table_compiles_in_a_beamer_frame(tmp_path):
    (tmp_path / "table.tex").write_text(to_latex(hostile_table()))
    (tmp_path / "slides.tex").write_text(
        "\\documentclass{beamer}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\begin{document}\n"
        "\\begin{frame}{Backends}\\input{table.tex}\\end{frame}\n\\end{document}\n"
    )
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "slides.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "slides.pdf").stat().st_size > 1000
