"""Measurement settings, as a plan file's ``[measure]`` table or CLI options set them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Upper bounds that catch a typo (1e300) before it overflows a timer or an array.
DAY_S = 86_400.0
MAX_COUNT = 10**12
#: Events one trigger stream may hold (their arrival and latency arrays live in memory).
MAX_STREAM_EVENTS = 10**8
#: The settings that bound a measurement window, which every record states (``windows``): the
#: untimed warm-up, and the timed window of the tight loop and LoadGen (the trigger stream's is
#: ``stream_duration_s``).
WARMUP_FIELDS = ("warmup_s", "warmup_queries")
WINDOW_FIELDS = ("min_duration_s", "min_query_count", "max_query_count")


class MeasureSettings(BaseModel):
    """How long and how hard to measure; unknown keys are refused (typos in plan files)."""

    # inf/nan are refused: an infinite window would never end (or overflow LoadGen's settings).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    warmup_s: float = Field(0.2, ge=0, le=DAY_S, description="Untimed run before measuring.")
    warmup_queries: int = Field(5, ge=0, le=MAX_COUNT, description="At least this many untimed queries.")
    min_duration_s: float = Field(1.0, gt=0, le=DAY_S, description="Measure at least this long.")
    min_query_count: int = Field(100, ge=1, le=MAX_COUNT, description="Measure at least this many queries.")
    max_query_count: int = Field(5_000_000, ge=1, le=MAX_COUNT, description="Stop after this many queries.")
    repeats: int = Field(5, ge=1, le=1000, description="Windows the tight loop splits into (stability).")
    accuracy_samples: int = Field(
        512, ge=1, le=10_000_000, description="Validation-set size of the accuracy pass."
    )
    seed: int = Field(0, description="Seed for random inputs when no data is given.")
    input_range: tuple[float, float] | None = Field(
        None,
        description="LO,HI of the random inputs when no data is given; default: the input type's "
        "whole range for an integer input, standard normal for a float one.",
    )
    idle_baseline_s: float = Field(
        2.0, ge=0, le=3600, description="Idle power read before each window where a meter exists; 0: none."
    )
    # LoadGen scenarios
    multi_stream_samples_per_query: int = Field(8, ge=1, le=1_000_000)
    server_target_latency_s: float | None = Field(
        None, gt=0, le=3600, description="Server latency bound; default: 10x the calibrated latency, >= 1 ms."
    )
    server_load_frac: float = Field(
        0.3, gt=0, le=1, description="Server target QPS as a fraction of calibrated capacity."
    )
    # trigger scenario
    event_rate_hz: float = Field(100_000.0, gt=0, le=1e9, description="Event arrival rate.")
    stream_duration_s: float = Field(1.0, gt=0, le=DAY_S, description="How long events arrive.")
    deadline_s: float = Field(1e-3, gt=0, le=3600, description="Each event's latency budget.")
    miss_frac_limit: float = Field(1e-3, gt=0, lt=1, description="Sustained means fewer misses.")
    rate_search_trials: int = Field(8, ge=0, le=100, description="Rates tried to find the sustained one.")
    rate_search_trial_s: float = Field(0.3, gt=0, le=DAY_S, description="Stream length per trial rate.")

    @field_validator("input_range", mode="before")
    @classmethod
    def _parse_range(cls, value):
        if isinstance(value, str):  # --set input_range=LO,HI
            parts = [p.strip() for p in value.split(",")]
            if len(parts) != 2 or not all(parts):
                raise ValueError(f"input_range {value!r}: give LO,HI (e.g. 0,255)")
            return tuple(parts)
        return value

    @field_validator("input_range")
    @classmethod
    def _range_ordered(cls, value):
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"input_range {value[0]:g},{value[1]:g}: LO must be below HI")
        return value

    @model_validator(mode="after")
    def _stream_fits_in_memory(self) -> MeasureSettings:
        events = self.event_rate_hz * max(self.stream_duration_s, self.rate_search_trial_s)
        if events > MAX_STREAM_EVENTS:
            raise ValueError(
                f"event_rate_hz x stream_duration_s is {events:.3g} events; at most {MAX_STREAM_EVENTS:.0e}"
            )
        return self

    def windows(self, fields: tuple[str, ...] = WARMUP_FIELDS + WINDOW_FIELDS) -> dict[str, Any]:
        """The window settings ``fields`` as a record states them, with ``window_preset``."""
        return {**{name: getattr(self, name) for name in fields}, "window_preset": self.window_preset()}

    def window_preset(self) -> str:
        """Which preset the windows are: ``quick``, ``default``, either ``(emulation)``, or ``custom``."""
        mine = self._window_values()
        for name, preset in (("quick", MeasureSettings.quick()), ("default", MeasureSettings())):
            if mine == preset._window_values():
                return name
            if mine == preset.for_emulation()._window_values():
                return f"{name} (emulation)"
        return "custom"

    def _window_values(self) -> tuple:
        fields = (*WARMUP_FIELDS, *WINDOW_FIELDS, "repeats", "stream_duration_s", "rate_search_trial_s")
        return tuple(getattr(self, name) for name in fields)

    def for_emulation(self) -> MeasureSettings:
        """Brief windows for a runner that emulates hardware in software (C-simulation, RTL).

        Its speed is the emulator's, a cost rather than a figure (50 ms per event for the L0
        teacher's C-simulation): a few queries say enough, where the normal minimum count would
        take half an hour at batch 256. Accuracy, the figure that matters there, is unchanged.
        """
        return self.model_copy(
            update={
                "warmup_s": 0.0,
                "warmup_queries": min(self.warmup_queries, 1),
                "min_duration_s": min(self.min_duration_s, 0.5),
                "min_query_count": min(self.min_query_count, 3),
                "repeats": 1,
                "stream_duration_s": min(self.stream_duration_s, 0.3),
                "rate_search_trials": min(self.rate_search_trials, 3),
            }
        )

    @classmethod
    def quick(cls) -> MeasureSettings:
        """Short settings for smoke runs and the quick benchmark suite."""
        return cls(
            warmup_s=0.05,
            min_duration_s=0.3,
            min_query_count=50,
            repeats=3,
            accuracy_samples=128,
            idle_baseline_s=0.5,
            stream_duration_s=0.3,
            rate_search_trials=5,
            rate_search_trial_s=0.15,
        )
