"""``triggerbench history`` and ``triggerbench farm check``: trends and regressions over nights."""

from __future__ import annotations
