"""Where a run trains: in the window (the Train page's thread), on every GPU of this computer
(torchrun in a child process, followed through its run folder), or on a cluster (a launch
script and the run configuration written for the user to submit)."""
