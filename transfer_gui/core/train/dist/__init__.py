"""One run on several processes (`torchrun`): the parts the loop is given for them (a sharding
of the batches, a stepper over DistributedDataParallel, the hook that keeps the processes in
step) and the launch scripts. The processes' context (`Ranks`) is `train.ranks`, a layer below
the hooks that read it."""
