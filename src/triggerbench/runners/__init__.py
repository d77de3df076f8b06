"""Runners: one module per backend, the ``Runner`` contract and the entry-point registry."""

from triggerbench.runners.base import Runner, RunnerDescription, RunnerOptions

__all__ = ["Runner", "RunnerDescription", "RunnerOptions"]
