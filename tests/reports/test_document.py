import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from triggerbench.results.store import write_record

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


def tb(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "triggerbench.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def one_line_error(proc, message):
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture()
def results(tmp_path, report_records):
    folder = tmp_path / "results"
    for r in report_records:
        write_record(r, folder)
    return folder


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_report_all_formats_is_complete_and_byte_identical(tmp_path, results):
    first = tb("report", results, "--format", "all", "--out", tmp_path / "a")
    assert first.returncode == 0, first.stderr
    second = tb("report", results, "--format", "all", "--out", tmp_path / "b")
    assert second.returncode == 0, second.stderr
    a, b = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert a == b
    names = set(a)
    assert {"report.md", "report.tex", "report.html", "tables/fpga-resources.tex"} <= names
    assert any(n.startswith("figures/") and n.endswith(".png") for n in names)
    assert any(n.startswith("figures/") and n.endswith(".pdf") for n in names)
    md = (tmp_path / "a" / "report.md").read_text()
    for title in ("Backends: muon-l0-teacher", "FPGA resource occupancy", "Inference time per event"):
        assert title in md
    assert "Performance versus quantization level" in md
    html = (tmp_path / "a" / "report.html").read_text()
    assert "data:image/png;base64," in html and "<link" not in html and 'src="http' not in html


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs texlive)")
def test_report_tex_compiles(tmp_path, results):
    assert tb("report", results, "--format", "tex", "--out", tmp_path / "r").returncode == 0
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
        cwd=tmp_path / "r",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="chromium not installed (CI installs it with apt)")
def test_html_report_renders_in_a_headless_browser(tmp_path, results):
    assert tb("report", results, "--format", "html", "--out", tmp_path / "r").returncode == 0
    page = (tmp_path / "r" / "report.html").resolve()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    # A script run after load writes what rendered into the DOM, which --dump-dom then prints.
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.read_text().replace(
            "</body>",
            "<script>window.addEventListener('load',()=>{const r={images:[...document.images].map(i=>"
            "[i.naturalWidth,i.naturalHeight]),tables:[...document.querySelectorAll('table.tb')].map(t=>"
            "t.tBodies[0].rows.length)};document.body.setAttribute('data-probe',JSON.stringify(r));});"
            "</script></body>",
        )
    )
    dom = subprocess.run(
        [chromium(), *flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    raw = dom.stdout.split('data-probe="', 1)[1].split('"', 1)[0].replace("&quot;", '"')
    probe_result = json.loads(raw)
    assert probe_result["images"] and all(w > 0 and h > 0 for w, h in probe_result["images"])
    assert len(probe_result["tables"]) >= 4 and all(n > 0 for n in probe_result["tables"])
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-html.png"
    proc = subprocess.run(
        [chromium(), *flags, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and shot.stat().st_size > 10_000, proc.stderr[-2000:]


def test_bad_report_input_is_one_line(tmp_path, results):
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(tb("report", empty, "--out", tmp_path / "r"), "no records to report")
    one_line_error(
        tb("report", results, "--baseline", "tpu", "--out", tmp_path / "r"), "baseline runner 'tpu'"
    )
    one_line_error(tb("report", results, "--part", "xc7a35t", "--out", tmp_path / "r"), "--part 'xc7a35t'")
    one_line_error(tb("report", results, "--format", "pdf"), "--format 'pdf': use one of md, tex, html")
    one_line_error(tb("report", results, "--layout", "pie"), "--layout 'pie'")
    one_line_error(tb("report", results, "--workload", "nope"), "--workload 'nope': no records")
    keras_only = tmp_path / "keras-only"
    keras_only.mkdir()
    for p in results.glob("*keras*.json"):
        shutil.copy(p, keras_only)
    one_line_error(
        tb("report", keras_only, "--layout", "fpga", "--out", tmp_path / "r"),
        "layout 'fpga': no matching records; it needs records with FPGA resource figures",
    )
    one_line_error(
        tb(
            "report",
            results,
            "--layout",
            "quantization",
            "--workload",
            "muon-l0-teacher",
            "--out",
            tmp_path / "r",
        ),
        "layout 'quantization': no matching records; it needs records of the bit-width scan",
    )
    newer = tmp_path / "newer.json"
    raw = json.loads(next(results.glob("*.json")).read_text())
    raw["schema_version"] = 99
    newer.write_text(json.dumps(raw))
    one_line_error(tb("report", newer, "--out", tmp_path / "r"), "newer than this triggerbench reads")
