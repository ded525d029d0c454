"""The base of every error a user can fix; the CLI prints these as one line, no traceback."""


class ScalingError(Exception):
    """Bad input or state that the user can fix; the message says how."""
