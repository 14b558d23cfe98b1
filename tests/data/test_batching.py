import math
import random
from collections import Counter

import pytest
import torch
from lightning.fabric.utilities.data import _replace_dunder_methods
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSamplerWrapper, _IndexBatchSamplerWrapper
from lightning.pytorch.trainer.states import RunningStage
from lightning.pytorch.utilities.data import _update_dataloader
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler, SequentialSampler

from ser_lightning.data import CrossLingualDataModule, SyntheticCorpus
from ser_lightning.data.batching import DurationBatchSampler, EpochShuffleSampler, collate_utterances, padding_ratio
from ser_lightning.data.demo import SynthesisSpec, synthesize_corpus


def durations(n=400, seed=0):
    rng = random.Random(seed)
    return [rng.lognormvariate(1.0, 0.6) for _ in range(n)]


def iemocap_like(seed=0):
    """5531 log-normal lengths fitted to IEMOCAP's median 3.58 s and p90 8.69 s, clipped to 0.58-34.14 s."""
    sigma = (math.log(8.69) - math.log(3.58)) / 1.2816
    rng = random.Random(seed)
    return [min(34.14, max(0.58, rng.lognormvariate(math.log(3.58), sigma))) for _ in range(5531)]


def random_batches(n, epoch, size=16):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch)).tolist()
    return [order[i : i + size] for i in range(0, n, size)]


def repeated(batches, previous):
    """Share of ``batches`` that were also served (as the same set of indices) in ``previous``."""
    seen = {frozenset(b) for b in previous}
    return sum(frozenset(b) in seen for b in batches) / len(batches)


def majority_share(batches, labels):
    return sum(max(Counter(labels[i] for i in b).values()) / len(b) for b in batches) / len(batches)


def rank_batches(d, replicas, epoch=0, **kwargs):
    """Each rank's batches of one epoch, the sampler re-created with a DistributedSampler as Lightning does."""
    shards = []
    for rank in range(replicas):
        dist = DistributedSampler(range(len(d)), num_replicas=replicas, rank=rank, shuffle=kwargs.get("shuffle", True), seed=0)
        dist.set_epoch(epoch)
        shards.append(list(DurationBatchSampler(dist, d, **kwargs)))
    return shards


def assert_each_index_once(shards, n):
    served = [i for shard in shards for batch in shard for i in batch]
    assert sorted(served) == list(range(n))
    assert len({len(shard) for shard in shards}) == 1  # the same number of batches on every rank


@pytest.fixture(scope="session")
def demo_train(tmp_path_factory):
    """(durations, labels) of the demo's training split (configs/demo.yaml: en/de/it sources, ur target, 1 val and 1 test speaker)."""
    root = tmp_path_factory.mktemp("demo") / "synthetic"
    synthesize_corpus(root, SynthesisSpec())
    dm = CrossLingualDataModule(
        sources=[SyntheticCorpus(str(root), languages=["en", "de", "it"])],
        targets=[SyntheticCorpus(str(root), languages=["ur"])],
        batch_size=16,
        val_speakers=1,
        test_speakers=1,
    )
    dm.setup("fit")
    train = dm.datasets["train"]
    return train.durations, [u.label for u in train.utterances]


def test_every_index_once_per_epoch_and_batches_change_between_epochs():
    d = durations()
    sampler = DurationBatchSampler(RandomSampler(range(len(d)), generator=torch.Generator().manual_seed(0)), d, batch_size=16)
    first, second = list(sampler), list(sampler)
    assert sorted(i for b in first for i in b) == list(range(len(d)))
    assert sorted(i for b in second for i in b) == list(range(len(d)))
    assert all(len(b) <= 16 for b in first) and len(sampler) == len(first) == len(second)
    assert repeated(second, first) < 0.05


def test_training_padding_stays_under_5_percent_on_iemocap_like_lengths():
    d = iemocap_like()
    training = {}
    for max_seconds in (None, 120.0, 60.0):
        sampler = DurationBatchSampler(EpochShuffleSampler(len(d)), d, batch_size=16, max_seconds=max_seconds)
        epochs = [sampler.epoch_batches(epoch) for epoch in range(3)]
        training[max_seconds] = [padding_ratio(batches, d) for batches in epochs]
        assert all(padding < 0.05 for padding in training[max_seconds]), max_seconds
        assert all(repeated(epochs[e + 1], epochs[e]) < 0.05 for e in range(2)), max_seconds
    assert padding_ratio(random_batches(len(d), 0), d) > 0.5
    evaluation = DurationBatchSampler(SequentialSampler(range(len(d))), d, batch_size=16, shuffle=False).epoch_batches(0)
    assert padding_ratio(evaluation, d) < min(training[None]) / 2  # sorted: the least padding


def test_a_higher_padding_target_gives_wider_buckets_and_more_padding():
    d = iemocap_like()
    paddings = [padding_ratio(DurationBatchSampler(range(len(d)), d, 16, padding_target=t).epoch_batches(0), d) for t in (0.01, 0.05, 1.0)]
    assert paddings[0] < paddings[1] < paddings[2]
    assert abs(paddings[2] - padding_ratio(random_batches(len(d), 0), d)) < 0.05  # one bucket: random batches


def test_drop_last_and_eval_order_is_deterministic():
    d = durations(50)
    sampler = DurationBatchSampler(SequentialSampler(range(50)), d, batch_size=16, drop_last=True, shuffle=False)
    batches = list(sampler)
    assert [len(b) for b in batches] == [16, 16, 16]
    assert batches == list(sampler)
    assert all(max(d[i] for i in a) <= min(d[i] for i in b) for a, b in zip(batches, batches[1:]))  # sorted by duration


def test_drop_last_in_training_serves_only_full_batches():
    d = durations(203)
    batches = DurationBatchSampler(range(203), d, batch_size=16, drop_last=True).epoch_batches(0)
    assert batches and all(len(b) == 16 for b in batches)
    assert len({i for b in batches for i in b}) == 16 * len(batches)


def test_batch_count_and_sizes_are_the_same_every_epoch():
    d = iemocap_like()[:1500]
    for max_seconds in (None, 40.0):
        sampler = DurationBatchSampler(EpochShuffleSampler(len(d)), d, batch_size=16, max_seconds=max_seconds)
        sizes = []
        for epoch in range(3):
            sampler.sampler.set_epoch(epoch)
            batches = list(sampler)
            assert len(sampler) == len(batches)
            sizes.append(sorted(len(b) for b in batches))
        assert sizes[0] == sizes[1] == sizes[2]


def test_epoch_batches_is_a_function_of_seed_and_epoch_and_start_batch_skips_once():
    d = durations(300)
    make = lambda seed=0: DurationBatchSampler(EpochShuffleSampler(300), d, batch_size=16, seed=seed)
    sampler = make()
    assert sampler.epoch_batches(3) == make().epoch_batches(3) == sampler.epoch_batches(3)
    assert sampler.epoch_batches(3) != sampler.epoch_batches(4) and make(seed=1).epoch_batches(3) != sampler.epoch_batches(3)
    sampler.sampler.set_epoch(3)
    sampler.start_batch = 5
    assert list(sampler) == sampler.epoch_batches(3)[5:]
    assert list(sampler) == sampler.epoch_batches(3)  # consumed once
    assert len(sampler) == len(sampler.epoch_batches(3))


def test_seconds_budget_is_never_exceeded_except_by_a_single_longer_utterance():
    d = iemocap_like()[:2000] + [45.0, 80.0, 80.0]
    for max_seconds in (12.0, 30.0, 60.0, 120.0):
        for shuffle in (True, False):
            for replicas in (1, 2):
                shards = rank_batches(d, replicas, batch_size=16, shuffle=shuffle, max_seconds=max_seconds)
                assert_each_index_once(shards, len(d))
                for batch in (b for shard in shards for b in shard):
                    longest = max(d[i] for i in batch)
                    assert len(batch) <= 16
                    assert len(batch) * longest <= max_seconds or (len(batch) == 1 and longest > max_seconds), (max_seconds, batch)
                if max_seconds == 60.0:
                    assert max(len(b) for shard in shards for b in shard) == 16  # short utterances fill the batch
    alone = [b for b in DurationBatchSampler(range(len(d)), d, 16, max_seconds=60.0).epoch_batches(0) if max(d[i] for i in b) > 60]
    assert sorted(len(b) for b in alone) == [1, 1]


def test_every_utterance_once_per_epoch_under_1_2_and_3_ranks():
    for n in (101, 37, 5):
        d = durations(n)
        for shuffle in (True, False):
            for replicas in (1, 2, 3):
                for epoch in (0, 1):
                    assert_each_index_once(rank_batches(d, replicas, epoch, batch_size=8, shuffle=shuffle), n)


def test_ranks_follow_the_epoch_that_lightning_sets():
    d = durations(101)
    first, again, second = rank_batches(d, 2, 0, batch_size=8), rank_batches(d, 2, 0, batch_size=8), rank_batches(d, 2, 1, batch_size=8)
    assert first == again and first != second
    assert repeated(second[0] + second[1], first[0] + first[1]) < 0.05


def test_ranks_cannot_share_fewer_utterances_than_ranks():
    with pytest.raises(ValueError, match="fewer devices"):
        rank_batches([1.0], 2, batch_size=8)
    sampler = DurationBatchSampler(DistributedSampler(range(10), num_replicas=2, rank=0), [1.0] * 9, batch_size=4)
    with pytest.raises(ValueError, match="durations"):
        list(sampler)


def test_lightning_reinstantiates_it_with_a_distributed_sampler_and_all_arguments():
    d = durations(101)
    labels = [i % 3 for i in range(101)]
    for train in (True, False):
        with _replace_dunder_methods(BatchSampler):  # how Lightning builds user dataloaders, recording init arguments
            inner = EpochShuffleSampler(101) if train else SequentialSampler(range(101))
            batches = DurationBatchSampler(
                inner, d, 8, shuffle=train, seed=3, max_seconds=20.0, padding_target=0.1, min_bucket_batches=3, labels=labels
            )
            loader = DataLoader(list(range(101)), batch_sampler=batches)
        shards = []
        for rank in range(2):
            dist = DistributedSampler(loader.dataset, num_replicas=2, rank=rank, shuffle=train, seed=0)
            sharded = _update_dataloader(loader, dist, mode=RunningStage.TRAINING if train else RunningStage.TESTING)
            sampler = sharded.batch_sampler
            assert isinstance(sampler, DurationBatchSampler) and sampler.sampler is dist
            assert sampler.durations is d and sampler.labels is labels and sampler.seed == 3 and sampler.shuffle is train
            assert (sampler.max_seconds, sampler.padding_target, sampler.min_bucket_batches, sampler.batch_size) == (20.0, 0.1, 3, 8)
            shards.append(list(sharded.batch_sampler))
        assert_each_index_once(shards, 101)


def test_predicting_under_ddp_serves_every_window_once_through_lightnings_wrappers():
    d = durations(101)
    with _replace_dunder_methods(BatchSampler):
        loader = DataLoader(list(range(101)), batch_sampler=DurationBatchSampler(SequentialSampler(range(101)), d, 8, shuffle=False, drop_last=True))
    shards = []
    for rank in range(2):
        dist = UnrepeatedDistributedSamplerWrapper(loader.sampler, num_replicas=2, rank=rank, shuffle=False)
        sharded = _update_dataloader(loader, dist, mode=RunningStage.PREDICTING)
        assert isinstance(sharded.batch_sampler, _IndexBatchSamplerWrapper) and sharded.batch_sampler.drop_last is False
        shards.append([batch.tolist() for batch in sharded])
        assert shards[-1] == sharded.batch_sampler.seen_batch_indices
    assert_each_index_once(shards, 101)


def test_demo_training_batches_change_every_epoch_and_keep_the_class_mix(demo_train):
    d, labels = demo_train
    assert len(d) == 576
    sampler = DurationBatchSampler(EpochShuffleSampler(len(d)), d, batch_size=16, labels=labels)
    epochs = [sampler.epoch_batches(epoch) for epoch in range(5)]
    assert all(repeated(epochs[e + 1], epochs[e]) < 0.05 for e in range(4))
    random_share = sum(majority_share(random_batches(len(d), e), labels) for e in range(5)) / 5
    share = sum(majority_share(batches, labels) for batches in epochs) / 5
    assert abs(share - random_share) < 0.1, (share, random_share)
    assert sum(padding_ratio(b, d) for b in epochs) / 5 < sum(padding_ratio(random_batches(len(d), e), d) for e in range(5)) / 5
    for replicas in (1, 2):
        for shuffle in (True, False):
            assert_each_index_once(rank_batches(d, replicas, batch_size=16, shuffle=shuffle, labels=labels), len(d))


def test_options_are_checked_with_the_fix_named():
    d = durations(20)
    for kwargs, option in [
        ({"max_seconds": 0.0}, "max_seconds"),
        ({"max_seconds": -5.0}, "max_seconds"),
        ({"padding_target": 0.0}, "padding_target"),
        ({"padding_target": 1.5}, "padding_target"),
        ({"min_bucket_batches": 0}, "min_bucket_batches"),
        ({"labels": [0] * 19}, "labels"),
        ({"batch_size": 0}, "batch_size"),
    ]:
        with pytest.raises(ValueError, match=option):
            DurationBatchSampler(range(20), d, **{"batch_size": 4, **kwargs})
    with pytest.raises(ValueError, match="durations"):
        DurationBatchSampler(range(25), d, 4).epoch_batches(0)


def test_window_batches_is_still_accepted_with_a_warning():
    d = durations(40)
    with pytest.warns(FutureWarning, match="window_batches"):
        sampler = DurationBatchSampler(range(40), d, 8, False, True, 100, 0)
    assert sorted(i for b in sampler for i in b) == list(range(40))


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
