"""Ranks of a torchrun run split every epoch's samples (the process group itself: tests/integration/cli)."""

import pytest

from model.training.distributed import Distributed


@pytest.mark.parametrize("n", [10, 11])
def test_ranks_split_the_epoch(n):
    order = list(range(100, 100 + n))
    shards = []
    for rank in range(2):
        dist = Distributed.__new__(Distributed)          # the rank bookkeeping only, no process group
        dist.world, dist.rank = 2, rank
        shards.append(dist.shard(order))
    assert len(shards[0]) == len(shards[1]) == n // 2      # equal steps per rank, or DDP would hang
    assert not set(shards[0]) & set(shards[1])
    assert set(shards[0]) | set(shards[1]) == set(order[:n // 2 * 2])
