"""The command line's exit statuses, defined once for every command."""

from __future__ import annotations

EXIT_OK = 0  # done (a training run that completed or stopped early by itself)
EXIT_ERROR = 1  # an error the message names, or a prediction that could not read a file
EXIT_USAGE = 2  # options that make no sense (argparse's own status for usage errors)
EXIT_CANCELLED = 130  # stopped by Ctrl-C (128 + SIGINT, as shells report it)
EXIT_PIPE = 141  # the output's reader went away (`... | head`: 128 + SIGPIPE)


def for_run(status: str) -> int:
    """The exit status for a run (or comparison) that ended with `status`."""
    return EXIT_CANCELLED if status == "cancelled" else EXIT_OK
