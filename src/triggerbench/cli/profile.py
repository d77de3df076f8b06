"""``triggerbench profile``: per-layer profiles of one model on several runners."""

from __future__ import annotations
