"""Loading a history root: nights ordered by their records' times, corrupt nights skipped, the cache."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta

import pandas as pd
import pytest
from history_nights import START, commit_of, write_night, write_series
from records import PERF_OK, make_record

import triggerbench.farm.history as history_module
from triggerbench.errors import TriggerbenchSkippedFileWarning, UserInputError
from triggerbench.farm.history import CACHE_DIR_NAME, load_history
from triggerbench.results.compare_figures import FIGURES
from triggerbench.results.store import write_record

THROUGHPUT = next(f for f in FIGURES if f.name == "throughput")


def test_nights_are_ordered_by_their_records_timestamps_not_by_folder_names(tmp_path):
    # Copied by hand: folder names sort the other way round from the nights' times.
    for night, folder in ((0, "zz-oldest"), (1, "mm-middle"), (2, "aa-newest")):
        write_night(tmp_path, night, throughput=1000.0 + night, folder=folder)
    history = load_history(tmp_path)
    assert [n.name for n in history.nights] == ["zz-oldest", "mm-middle", "aa-newest"]
    assert [n.commit for n in history.nights] == [commit_of(0), commit_of(1), commit_of(2)]
    assert [n.time_utc for n in history.nights] == [pd.Timestamp(START + timedelta(days=d)) for d in range(3)]
    nightly = history.nightly(THROUGHPUT)
    assert nightly["night_index"].tolist() == [0, 1, 2]
    assert nightly["value"].tolist() == [1000.0, 1001.0, 1002.0]


def _record(when, commit, throughput, status="ok"):
    env = dict(hostname="h", platform="p", python_version="3.11", triggerbench_version="0", git_commit=commit)
    perf = {**PERF_OK, "throughput_samples_per_s": throughput}
    if status != "ok":
        return make_record(status=status, timestamp_utc=when, environment=env)
    return make_record(timestamp_utc=when, environment=env, performance=perf)


def test_a_night_is_the_median_time_and_most_common_commit_of_its_records(tmp_path):
    night = tmp_path / "night"
    # A straggler copied from a month earlier moves neither the night's time nor its commit.
    write_record(_record(START, "a" * 40, 900.0), night)
    write_record(_record(START + timedelta(hours=1), "a" * 40, 1000.0), night)
    write_record(_record(START + timedelta(hours=2), "a" * 40, 1100.0), night)
    write_record(_record(START - timedelta(days=30), "b" * 40, 5000.0), night)
    write_record(_record(START + timedelta(hours=3), "a" * 40, 0.0, status="failed"), night)
    [loaded] = load_history(tmp_path).nights
    assert loaded.time_utc == pd.Timestamp(START + timedelta(hours=1))
    assert loaded.commit == "a" * 40 and loaded.n_records == 5
    [row] = load_history(tmp_path).nightly(THROUGHPUT).to_dict("records")
    assert row["value"] == 1050.0 and row["n_records"] == 4  # median of the ok records only


def test_a_corrupt_night_is_skipped_with_a_warning_naming_it_and_the_others_kept(tmp_path):
    write_series(tmp_path, [1000.0, 1010.0])
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "a.json").write_text("{not json")
    (tmp_path / "garbled" / "b.json").write_text('{"schema_version": 6}')
    (tmp_path / "empty").mkdir()
    half = write_night(tmp_path, 2, throughput=1020.0)
    (half / "truncated.json").write_text("")
    with pytest.warns(TriggerbenchSkippedFileWarning) as caught:
        history = load_history(tmp_path)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith(f"skipped {tmp_path / 'garbled'}: night left out") for m in messages)
    assert any(m.startswith(f"skipped {tmp_path / 'empty'}: night left out: no records") for m in messages)
    assert any(m.startswith(f"skipped {half / 'truncated.json'}: empty file") for m in messages)
    assert [n.commit for n in history.nights] == [commit_of(0), commit_of(1), commit_of(2)]
    # The warnings come again from the cache: a warm load hides no broken file.
    skipped = []
    load_history(tmp_path, on_skip=skipped.append)
    assert sorted(s.path.name for s in skipped) == ["empty", "garbled", "truncated.json"]


def test_a_warm_load_reads_the_cache_not_the_record_files(tmp_path, monkeypatch):
    write_series(tmp_path, [1000.0, 990.0, 1010.0], workloads=("a", "b"))
    cold = load_history(tmp_path)
    assert sorted(p.stem for p in (tmp_path / CACHE_DIR_NAME).iterdir()) == sorted(
        n.name for n in cold.nights
    )

    def no_validation(*args, **kwargs):
        raise AssertionError("record files validated again although none changed")

    monkeypatch.setattr(history_module, "load_records", no_validation)
    warm = load_history(tmp_path)
    assert warm.nights == cold.nights
    pd.testing.assert_frame_equal(warm.records, cold.records)
    assert warm.records["timestamp_utc"].dt.tz is not None


def test_the_cache_of_a_night_is_invalidated_when_one_of_its_files_changes(tmp_path):
    folders = write_series(tmp_path, [1000.0, 1000.0, 1000.0])
    load_history(tmp_path)  # fills the cache
    [path] = folders[1].glob("*.json")
    stat = path.stat()
    text = path.read_text()
    old = '"throughput_samples_per_s": 1000.0'
    assert text.count(old) == 1
    path.write_text(text.replace(old, old.replace("1000", "2000")))  # same size: only the time tells
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert path.stat().st_size == stat.st_size
    assert load_history(tmp_path).nightly(THROUGHPUT)["value"].tolist() == [1000.0, 2000.0, 1000.0]


def test_an_added_file_and_a_removed_night_are_seen_and_the_stale_cache_pruned(tmp_path):
    folders = write_series(tmp_path, [1000.0, 1000.0, 1000.0])
    load_history(tmp_path)
    write_record(_record(START + timedelta(days=2), commit_of(2), 3000.0), folders[2])
    shutil.rmtree(folders[0])
    history = load_history(tmp_path)
    assert [n.name for n in history.nights] == [folders[1].name, folders[2].name]
    assert history.nights[1].n_records == 2
    assert sorted(p.stem for p in (tmp_path / CACHE_DIR_NAME).iterdir()) == [folders[1].name, folders[2].name]


def test_no_cache_writes_nothing(tmp_path):
    write_series(tmp_path, [1000.0])
    assert len(load_history(tmp_path, cache=False).nights) == 1
    assert not (tmp_path / CACHE_DIR_NAME).exists()


def test_a_missing_root_is_a_user_error_and_loose_files_are_no_night(tmp_path):
    with pytest.raises(UserInputError, match="no such history folder"):
        load_history(tmp_path / "nope")
    write_record(_record(START, "a" * 40, 1000.0), tmp_path)  # directly in the root
    assert load_history(tmp_path).nights == []


def test_a_damaged_cache_file_is_read_afresh_not_trusted(tmp_path):
    write_series(tmp_path, [1000.0, 1100.0])
    cold = load_history(tmp_path)
    for damage in ('{"fingerprint": 1}', "[]", "{"):
        for cache_file in (tmp_path / CACHE_DIR_NAME).iterdir():
            cache_file.write_text(damage)
        pd.testing.assert_frame_equal(load_history(tmp_path).records, cold.records)
    # A cache entry with the right fingerprint but damaged columns is not trusted either.
    cache_file = next((tmp_path / CACHE_DIR_NAME).iterdir())
    entry = json.loads(cache_file.read_text())
    entry["columns"]["numbers"].pop("timestamp_utc")
    cache_file.write_text(json.dumps(entry))
    pd.testing.assert_frame_equal(load_history(tmp_path).records, cold.records)
