"""The bundled application's entry point: `transfer_gui.cli:main`, made safe for a frozen
executable (worker processes started by multiprocessing re-enter here)."""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    # torch.compile writes C++ that needs torch's headers, which the bundle leaves out: with
    # `--compile` the model runs uncompiled instead of failing after a minute of trying.
    os.environ.setdefault("TORCH_COMPILE_DISABLE", "1")
    from transfer_gui.cli import main

    sys.exit(main())
