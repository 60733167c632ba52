"""The one exception type that means "the user gave us something we cannot use"."""


class InputError(ValueError):
    """Bad input: an unreadable file, a wrong shape or dtype, an absurd parameter.

    The message names the problem in one line. The CLI prints it and exits with status 2;
    anything else escaping the API is a bug.
    """


class ImageTooLarge(InputError):
    """An image over the pixel limit (a decompression-bomb guard), so servers can answer 413."""


class Cancelled(Exception):
    """Long work stopped because its progress callback returned False."""
