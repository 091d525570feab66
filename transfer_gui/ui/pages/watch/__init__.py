"""Following a run as it trains: the live display the Train page and the Watch view share
(`live`), and the view that follows a run folder written by another process (`view`)."""
