"""A record whose tail percentiles are null (too few queries) and the windows in the header."""

from records import perf_few_queries

from triggerbench.measure.settings import MeasureSettings
from triggerbench.reports.backends import backend_tables
from triggerbench.reports.latency import latency_table
from triggerbench.reports.provenance import caption_context, provenance, windows
from triggerbench.reports.render import to_markdown
from triggerbench.results.store import to_frame

P99_NOTE = "no p99: p99 needs >= 100 queries, 64 measured"


def thin_keras(report_records):
    """The report records, keras at batch 1 of the teacher measured on only 64 queries."""
    out = []
    for r in report_records:
        if r.workload.name == "muon-l0-teacher" and r.runner.name == "keras" and r.runner.batch_size == 1:
            r = r.model_copy(update={"performance": r.performance.model_validate(perf_few_queries(64))})
        out.append(r)
    return out


def test_the_builder_follows_the_rule():
    perf = perf_few_queries(64)
    assert perf["latency_p90_s"] is not None and perf["latency_p99_s"] is None
    assert perf["null_reasons"] == {
        "latency_p99_s": "p99 needs >= 100 queries, 64 measured",
        "latency_p999_s": "p99.9 needs >= 1,000 queries, 64 measured",
    }


def test_backend_table_shows_a_null_p99_as_a_dash_with_its_reason(report_records):
    tables = backend_tables(to_frame(thin_keras(report_records)), batch=1)
    table = next(t for t in tables if "muon-l0-teacher" in t.name)
    row = next(r for r in table.rows if r[0].text == "keras")
    cell = dict(zip(table.columns, row, strict=True))["p99 latency"]
    assert cell.text == "—"
    assert [table.notes[i - 1] for i in cell.notes] == [P99_NOTE]
    assert table.tidy.loc[table.tidy["runner"] == "keras", "latency_p99_s"].isna().all()
    markdown = to_markdown(table)
    assert "no p99: p99 needs" in markdown and "100 queries, 64 measured" in markdown  # ">=" escaped


def test_latency_table_shows_p50_and_a_dash_for_the_null_p99(report_records):
    table = latency_table(to_frame(thin_keras(report_records)))
    row = next(r for r in table.rows if r[0].text == "muon-l0-teacher")
    cell = dict(zip(table.columns, row, strict=True))["keras"]
    assert cell.text.endswith("(—)") and not cell.text.startswith("—")
    assert P99_NOTE in [table.notes[i - 1] for i in cell.notes]


def _settings_records(report_records, settings: dict):
    return [
        r.model_copy(update={"scenario": r.scenario.model_copy(update={"settings": settings})})
        for r in report_records
    ]


def test_the_header_states_quick_windows(report_records):
    quick = MeasureSettings.quick()
    records = _settings_records(report_records, {**quick.windows(), "repeats": quick.repeats})
    frame = to_frame(records)
    text = windows(frame)
    assert text == "min 0.3 s / 50 queries per point; warm-up 0.05 s / 5 queries (quick mode)"
    assert ("measurement windows", text) in provenance(frame)
    assert f"measurement windows {text}" in caption_context(frame)


def test_the_header_lists_distinct_windows_and_trigger_streams(report_records):
    custom = MeasureSettings(min_duration_s=2.0, min_query_count=500, max_query_count=10_000)
    loadgen = {"min_duration_ms": 300, "min_query_count": 64, "max_query_count": 5_000_000}
    trigger = {**MeasureSettings.quick().windows(("warmup_s", "warmup_queries")), "stream_duration_s": 0.3}
    settings = [custom.windows(), {**loadgen, **MeasureSettings.quick().windows(("warmup_s",))}, trigger]
    records = [
        r.model_copy(update={"scenario": r.scenario.model_copy(update={"settings": settings[i % 3]})})
        for i, r in enumerate(report_records)
    ]
    text = windows(to_frame(records))
    assert text.startswith("min 0.3 s / 64 queries, 2 s / 500 queries per point (at most 10,000 queries)")
    assert "; trigger streams 0.3 s; warm-up 0.05 s, 0.05 s / 5 queries, 0.2 s / 5 queries" in text
    assert text.endswith("(mixed: custom windows; quick mode)")


def test_records_without_windows_say_so(report_records):
    assert windows(to_frame(_settings_records(report_records, {}))) == "windows not recorded"
