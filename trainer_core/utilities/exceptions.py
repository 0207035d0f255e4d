"""Exceptions raised for a wrong configuration: each message says what to change."""


class MisconfigurationException(Exception):
    """The trainer, module or data was set up in a way that cannot run."""


class _TunerExitException(Exception):
    """Raised by a tuner callback run from ``Tuner``: ends the run after tuning, as a success."""
