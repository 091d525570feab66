"""One run on several processes (`torchrun`): the processes' context, and the parts the loop is
given for them (a sharding of the batches, a stepper over DistributedDataParallel, the hook
that keeps the processes in step)."""
