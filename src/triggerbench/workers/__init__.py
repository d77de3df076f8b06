"""Worker programs that run outside the triggerbench process, in another Python.

``protocol`` is the out-of-process protocol, both ends (framing, version handshake, serve
loop); ``vart_worker`` serves it inside the Vitis AI container. Both need only the standard
library and numpy, so they can be copied, side by side, into a vendor container whose Python is
older than triggerbench's (3.6). The parent side is ``triggerbench.runners.outofprocess``.
"""
