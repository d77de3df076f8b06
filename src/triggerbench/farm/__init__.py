"""The nightly hardware farm: what each host has, and fanning a plan out over a Dask cluster.

``capabilities`` detects a host's devices and the Dask resources it advertises (``resources``
names them and says which each runner's job takes), ``host_config`` reads a host's own TOML,
``plan`` expands a plan into jobs, ``dispatch`` submits them and writes records as they arrive,
and ``task`` is what a worker runs for one job. History and regression checks live beside them.
"""
