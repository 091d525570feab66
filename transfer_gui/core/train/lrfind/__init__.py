"""The learning-rate range test: `sweep` runs it on the one loop, `curve` smooths the losses
it records and suggests a rate (no torch there, so the window can redraw a partial sweep)."""
