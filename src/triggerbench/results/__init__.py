"""The results store: write records atomically, read run and pytest-benchmark files alike."""

from triggerbench.results.store import load, load_records, write_record

__all__ = ["load", "load_records", "write_record"]
