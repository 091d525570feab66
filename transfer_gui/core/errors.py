"""The exceptions that mean "the user's input is wrong", shown as one clear line (CLI) or a
dialog (GUI) rather than a traceback.

Each layer defines its own error (`ConfigError`, `DataError`, `RunError`, ...) as a subclass of
`UserError`, so this base module needs to know none of them."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a condition the user can act on: the message is the whole story."""


USER_ERRORS: tuple[type[BaseException], ...] = (UserError, OSError)
