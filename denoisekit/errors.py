"""The one exception type that means "the user gave us something we cannot use"."""


class InputError(ValueError):
    """Bad input: an unreadable file, a wrong shape or dtype, an absurd parameter.

    The message names the problem in one line. The CLI prints it and exits with status 2;
    anything else escaping the API is a bug.
    """


class Cancelled(Exception):
    """Long work stopped because its progress callback returned False."""
