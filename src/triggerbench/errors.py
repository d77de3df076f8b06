"""Exception and warning types; every triggerbench error is rooted at ``TriggerbenchError``."""


class TriggerbenchError(Exception):
    """Base of every error triggerbench raises on purpose."""


class UserInputError(TriggerbenchError):
    """A user mistake (unknown name, bad file, bad plan): shown as one line, exit code 2."""


class ResultsWriteError(TriggerbenchError):
    """A measured record could not be written (full disk, folder gone): the run stops."""


class RunnerUnavailableError(TriggerbenchError):
    """The runner's library, device or tool is missing on this host."""


class RunnerError(TriggerbenchError):
    """A runner failed while preparing or running a model (vendor errors are mapped here)."""


class ModelUnsupportedError(RunnerError):
    """The runner works here but does not take this model: the measurement is skipped, not failed.

    E.g. a float model given to the RTL flow, or a CNN too large to C-simulate.
    """


class ProfileUnavailableError(RunnerError):
    """The runner has no per-layer profiler, or none that works for this model: the profile is skipped.

    Its message is the reason, one line (``profile`` shows "not available for this backend: REASON").
    """


class SchemaVersionError(UserInputError):
    """A result file written with a schema version this version cannot read."""


class TriggerbenchSkippedFileWarning(UserWarning):
    """A result file left out of a load: unreadable, not a record, invalid, or from a newer version."""


class TriggerbenchUnstableWarning(UserWarning):
    """A measurement whose spread or sample count makes its figures doubtful."""
