"""Where a run computes: the device it asks for, and the processes ``torchrun`` starts (DistributedDataParallel,
NCCL on GPUs, gloo on the CPU).  Without torchrun's environment the run is one process and every method is a no-op."""

import os

from ..errors import EDCError


def resolve_device(name):
    """``auto`` -> cuda when PyTorch sees a GPU, else cpu; EDCError for cuda on a machine without one."""
    import torch
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EDCError("--device cuda was asked for but PyTorch sees no CUDA GPU; use --device cpu.")
    return name


class Distributed:
    """torchrun environment (WORLD_SIZE/RANK/LOCAL_RANK); a single process when absent."""

    def __init__(self, device):
        import torch
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        if self.world > 1:
            import torch.distributed as dist
            if device.startswith("cuda"):
                torch.cuda.set_device(self.local_rank)
                self.device = f"cuda:{self.local_rank}"
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")

    @property
    def main(self):
        return self.rank == 0

    def wrap(self, model):
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel
        ids = [self.local_rank] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    def shard(self, order):
        """This rank's share of an epoch's sample ``order``: equal lengths on all ranks (or DDP would hang)."""
        if self.world == 1:
            return order
        n = len(order) // self.world * self.world or len(order)
        return order[:n][self.rank::self.world]

    def barrier(self):
        if self.world > 1:
            import torch.distributed as dist
            dist.barrier()

    def all_sum(self, array):
        if self.world == 1:
            return array
        import torch
        import torch.distributed as dist
        t = torch.as_tensor(array, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.cpu().numpy()
