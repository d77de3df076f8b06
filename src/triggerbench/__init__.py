"""triggerbench: one model, every backend, one record."""

__version__ = "0.1.0"
