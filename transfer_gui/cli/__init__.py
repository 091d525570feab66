"""The command line: `transfer-gui` with no command opens the window, with one runs the same
engine in the terminal.

- `main`: the parser and the commands that need one engine call each (scan, train, evaluate,
  predict, export, cache, backbones);
- `options`: the training-recipe options shared by `train`, `compare` and `lr-find`;
- `strategies`: the `compare` and `lr-find` commands;
- `console`: progress lines, tables and JSON on the terminal.
"""

from .main import build_parser, main, train_config

__all__ = ["build_parser", "main", "train_config"]
