"""What a use case can refuse, as exceptions; ``pulse.http.errors`` maps each to an HTTP status."""


class PulseError(Exception):
    """A refusal the caller can act on; the message is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownUser(PulseError, LookupError):
    """No profile for this user."""


class UnknownSegment(PulseError, LookupError):
    """No such segment (or no popularity for it in the served model)."""


class UnknownItem(PulseError, LookupError):
    """The served model has no such item."""


class InvalidRequest(PulseError, ValueError):
    """The request is well-formed JSON but asks for something impossible."""


class ModelUnavailable(PulseError):
    """No model version has been promoted (or none could be loaded yet)."""


class UnknownErasure(PulseError, LookupError):
    """No erasure job with this id."""


class UnknownExperiment(PulseError, LookupError):
    """No experiment with this id."""


class Conflict(PulseError):
    """The request contradicts the stored state (an experiment's variants after it started)."""


class UnknownExport(PulseError, LookupError):
    """No export with this id."""


class UnknownModelVersion(PulseError, LookupError):
    """No model version with this name in the model bucket."""
