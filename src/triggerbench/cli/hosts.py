"""``triggerbench hosts``: what this host has, the runners it enables, the Dask resources it advertises."""

from __future__ import annotations
