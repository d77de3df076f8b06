import pandas as pd

from triggerbench.results.select import latest, runs_per_key


def test_latest_compares_times_not_strings():
    # A whole-second stamp has no fraction: as text "05Z" sorts after "05.500000Z".
    frame = pd.DataFrame(
        {
            "workload.name": ["w", "w", "w"],
            "runner.name": ["r", "r", "s"],
            "timestamp_utc": ["2026-01-01T03:04:05.500000Z", "2026-01-01T03:04:05Z", None],
            "figure": [2.0, 1.0, 3.0],
        }
    )
    keys = ("workload.name", "runner.name", "runner.device")  # an absent column is a key too
    assert latest(frame, keys)["figure"].tolist() == [2.0, 3.0]
    assert runs_per_key(frame, keys).tolist() == [2, 1]
