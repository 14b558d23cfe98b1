import random

import torch
from torch.utils.data import BatchSampler, DistributedSampler, RandomSampler, SequentialSampler

from lightning.pytorch.trainer.states import RunningStage
from lightning.pytorch.utilities.data import _update_dataloader
from lightning.fabric.utilities.data import _replace_dunder_methods
from torch.utils.data import DataLoader

from ser_lightning.data.batching import DurationBatchSampler, EpochShuffleSampler, collate_utterances, padding_ratio


def durations(n=400, seed=0):
    rng = random.Random(seed)
    return [rng.lognormvariate(1.0, 0.6) for _ in range(n)]


def test_every_index_once_per_epoch_and_batches_change_between_epochs():
    d = durations()
    sampler = DurationBatchSampler(RandomSampler(range(len(d)), generator=torch.Generator().manual_seed(0)), d, batch_size=16)
    first, second = list(sampler), list(sampler)
    assert sorted(i for b in first for i in b) == list(range(len(d)))
    assert all(len(b) <= 16 for b in first)
    assert first != second


def test_grouping_cuts_padding_against_random_batches():
    d = durations()
    indices = list(RandomSampler(range(len(d)), generator=torch.Generator().manual_seed(0)))
    random_batches = [indices[i : i + 16] for i in range(0, len(indices), 16)]
    grouped = list(DurationBatchSampler(indices, d, batch_size=16))
    assert padding_ratio(grouped, d) < 0.1 < padding_ratio(random_batches, d)


def test_drop_last_and_eval_order_is_deterministic():
    d = durations(50)
    sampler = DurationBatchSampler(SequentialSampler(range(50)), d, batch_size=16, drop_last=True, shuffle=False)
    batches = list(sampler)
    assert [len(b) for b in batches] == [16, 16, 16]
    assert batches == list(sampler)


def test_ranks_get_disjoint_shards_and_equal_batch_counts():
    d = durations(101)
    shards = []
    for rank in range(2):
        dist = DistributedSampler(range(len(d)), num_replicas=2, rank=rank, shuffle=True, seed=0)
        shards.append(list(DurationBatchSampler(dist, d, batch_size=8)))
    assert len(shards[0]) == len(shards[1])
    seen = [{i for b in shard for i in b} for shard in shards]
    assert len(seen[0] & seen[1]) <= 1  # DistributedSampler pads 101 to 102 with one repeat
    assert seen[0] | seen[1] == set(range(101))


def test_lightning_reinstantiates_it_with_a_distributed_sampler():
    d = durations(101)
    with _replace_dunder_methods(BatchSampler):  # how Lightning builds user dataloaders, recording init arguments
        loader = DataLoader(list(range(101)), batch_sampler=DurationBatchSampler(EpochShuffleSampler(101), d, batch_size=8, seed=3))
    shards = []
    for rank in range(2):
        dist = DistributedSampler(loader.dataset, num_replicas=2, rank=rank, shuffle=True, seed=0)
        sharded = _update_dataloader(loader, dist, mode=RunningStage.TRAINING)
        assert isinstance(sharded.batch_sampler, DurationBatchSampler) and sharded.batch_sampler.sampler is dist
        assert sharded.batch_sampler.durations is d and sharded.batch_sampler.seed == 3
        shards.append({i for batch in sharded.batch_sampler for i in batch})
    assert shards[0] | shards[1] == set(range(101)) and len(shards[0] & shards[1]) <= 1


def test_epoch_shuffle_is_a_function_of_seed_and_epoch():
    sampler = EpochShuffleSampler(20, seed=1)
    first = list(sampler)
    sampler.set_epoch(1)
    assert sorted(first) == list(range(20)) and list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_collate_pads_and_keeps_lengths_and_meta():
    items = [
        {"wave": torch.ones(5), "label": 1, "meta": {"language": "en"}},
        {"wave": torch.ones(3) * 2, "label": 0, "meta": {"language": "ur"}},
    ]
    batch = collate_utterances(items)
    assert batch["waves"].shape == (2, 5)
    assert batch["lengths"].tolist() == [5, 3]
    assert batch["waves"][1].tolist() == [2, 2, 2, 0, 0]
    assert batch["labels"].tolist() == [1, 0]
    assert batch["meta"] == {"language": ["en", "ur"]}
