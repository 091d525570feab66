"""`python -m transfer_gui`: the command line, or the application with no command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
