"""Worker programs that run outside the triggerbench process, in another Python.

Each worker is one self-contained file (standard library and numpy only) so it can be copied
into a vendor container whose Python is older than triggerbench's. The parent side is
``triggerbench.runners.outofprocess``; the protocol is JSON lines (see ``vart_worker``).
"""
