"""Errors a user can act on: each carries a one-line message that names the problem."""


class RadimpressError(Exception):
    """A problem with the user's input, profile or environment (not a bug in radimpress)."""


class ProfileError(RadimpressError):
    """The profile YAML is missing, malformed, or has an unknown or invalid field."""


class InputDataError(RadimpressError):
    """The report export cannot be read or lacks what the workflow needs."""


class ModelUnavailableError(RadimpressError):
    """A base model named in the profile is not available on this machine."""


class ReviewScoresMissingError(RadimpressError):
    """The judge needs reviewers' scores that are not there yet."""


class InjectedFailure(RuntimeError):
    """A failure the profile asked for, to exercise retries (never used outside tests and demos)."""
