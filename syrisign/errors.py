"""The base of every error a person can meet: the CLI and the HTTP API print its message on one line."""


class SyriSignError(Exception):
    """An error with a message that says what happened and what to do."""
