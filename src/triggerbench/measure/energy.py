"""Power over a scenario's window: the idle baseline first, the window, a longer one if needed.

The meter is open around the whole scenario run, so its mean power is that of the scenario's
load (a server at 30 % load draws less than an offline run). The energy per inference is that
mean power over the scenario's throughput: the harness' own start-up inside the window (the
calibration, LoadGen's set-up) then never counts as inferences.

A window shorter than the meter resolves (NVML's counter steps every tens of ms) is followed by
a separate energy window of back-to-back queries, at least ``min_window_s`` long; its mean power
and inference count give the figures, and the record's notes say so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from triggerbench.measure.outcome import QueryFn
from triggerbench.power.base import EnergyWindow, PowerMeter
from triggerbench.schema import IdleBaseline, PowerFigures, PowerSource

#: The lengthened window is this many times the meter's minimum: a counter that steps every
#: ``min_window_s / 5`` then quantizes the energy by no more than a few percent.
_LENGTHEN_FACTOR = 2.0


@dataclass
class EnergyReading:
    """One job's meter, opened around the scenario with ``with reading:``.

    Args:
        meter: The meter paired with the runner's device; None when there is none.
        reason: Why there is no meter (or the meter's own availability note).
        idle_baseline_s: Seconds of idle reading before the window; 0 skips it.
    """

    meter: PowerMeter | None
    reason: str
    idle_baseline_s: float = 0.0
    window: EnergyWindow | None = None
    idle: EnergyWindow | None = None
    notes: list[str] = field(default_factory=list)

    def __enter__(self) -> EnergyReading:
        if self.meter is None:
            return self
        if self.idle_baseline_s > 0:
            try:
                self.idle = self._read(lambda: time.sleep(self.idle_baseline_s))
            except Exception as exc:  # the baseline is a refinement: its loss costs only itself
                self.notes.append(f"no idle baseline: {self.meter.source} meter failed: {exc}")
        try:
            self.meter.start()
        except Exception as exc:
            self._lose(exc)
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        # A polling meter (XRT) must stop even when the scenario failed.
        if self.meter is None:
            return
        try:
            self.window = self.meter.stop()
        except Exception as exc:  # e.g. xbutil stopped answering, Zeus measured nothing
            self._lose(exc)
        if exc_type is not None and self.meter is not None:  # no figures will be asked for
            self.meter.close()

    def _lose(self, exc: BaseException) -> None:
        assert self.meter is not None
        self.reason = f"{self.meter.source} meter failed: {exc}"
        self.meter.close()
        self.meter = None

    def _read(self, work) -> EnergyWindow:
        assert self.meter is not None
        self.meter.start()
        try:
            work()
        finally:
            window = self.meter.stop()
        return window

    def figures(
        self, query: QueryFn, batch_size: int, throughput_samples_per_s: float | None
    ) -> PowerFigures:
        """The record's power section; may run a lengthened window of ``query`` (runner still open)."""
        try:
            return self._figures(query, batch_size, throughput_samples_per_s)
        finally:
            if self.meter is not None:
                self.meter.close()

    def _figures(self, query: QueryFn, batch_size: int, throughput: float | None) -> PowerFigures:
        meter, window = self.meter, self.window
        if meter is None or window is None:
            return PowerFigures.unavailable(self.reason)
        notes = list(self.notes)
        if window.duration_s < meter.min_window_s or window.energy_j <= 0:
            length_s = max(meter.min_window_s, 0.05) * _LENGTHEN_FACTOR
            calls = 0

            def repeat() -> None:
                nonlocal calls
                end = time.perf_counter() + length_s
                while time.perf_counter() < end:
                    query()
                    calls += 1

            try:
                window = self._read(repeat)
            except Exception as exc:
                return PowerFigures.unavailable(f"{meter.source} meter failed: {exc}")
            notes.append(
                f"the scenario's window ({self.window.duration_s:.3g} s) is shorter than the "
                f"{meter.source} meter resolves ({meter.min_window_s:g} s): power and energy are "
                f"from a separate {window.duration_s:.3g} s window of back-to-back queries"
            )
            throughput = calls * batch_size / window.duration_s if window.duration_s > 0 else None
        if window.energy_j <= 0:
            reason = f"the meter counted zero energy over a {window.duration_s:.3g} s window"
            return _null_figures(meter, reason, window, notes)
        power_w = window.power_mean_w
        null_reasons: dict[str, str] = {}
        per_inference_j = power_w / throughput if throughput else None
        if per_inference_j is None:
            null_reasons["energy_per_inference_j"] = "no throughput was measured"
        idle = self._idle_figures(power_w, window, throughput)
        if idle is None:
            null_reasons["idle"] = (
                "no idle baseline: set idle_baseline_s > 0"
                if self.idle_baseline_s <= 0
                else "the idle baseline could not be read"
            )
        return PowerFigures(
            source=PowerSource(meter.source),
            power_mean_w=power_w,
            energy_j=window.energy_j,
            energy_per_inference_j=per_inference_j,
            scope=meter.scope,
            window_s=window.duration_s,
            energy_by_domain_j=dict(window.by_domain_j),
            idle=idle,
            notes=notes,
            null_reasons=null_reasons,
        )

    def _idle_figures(
        self, power_w: float, window: EnergyWindow, throughput: float | None
    ) -> IdleBaseline | None:
        if self.idle is None or self.idle.duration_s <= 0:
            return None
        idle_w = self.idle.power_mean_w
        return IdleBaseline(
            power_w=idle_w,
            duration_s=self.idle.duration_s,
            energy_above_idle_j=window.energy_j - idle_w * window.duration_s,
            energy_per_inference_above_idle_j=(power_w - idle_w) / throughput if throughput else None,
            null_reasons={} if throughput else {"energy_per_inference_above_idle_j": "no throughput"},
        )


def _null_figures(meter: PowerMeter, reason: str, window: EnergyWindow, notes: list[str]) -> PowerFigures:
    return PowerFigures(
        source=PowerSource(meter.source),
        scope=meter.scope,
        window_s=window.duration_s,
        notes=notes,
        null_reasons=dict.fromkeys(("power_mean_w", "energy_j", "energy_per_inference_j", "idle"), reason),
    )
