"""Sampler that keeps the sentences of one image next to each other."""
import math
from collections import OrderedDict
from typing import Iterator, List, Mapping, Optional, Sized, Tuple

import torch
from mmengine.dataset import BaseDataset
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from ..image_encoding.image_identity import image_key
from ..registry import DATA_SAMPLERS

__all__ = ['ImageGroupedSampler', 'group_indices_by_image']


def _info(dataset: Sized, i: int) -> Mapping:
    return dataset.get_data_info(i) if isinstance(
        dataset, BaseDataset) else dataset[i]


def group_indices_by_image(dataset: Sized) -> List[List[int]]:
    """Dataset indices grouped by image (:func:`image_key`: ``img_id``, else
    ``img_path``; a sample that names neither is its own group), in order of
    first appearance; each group keeps the dataset order."""
    groups: 'OrderedDict[str, List[int]]' = OrderedDict()
    for i in range(len(dataset)):
        key = image_key(_info(dataset, i))
        groups.setdefault(f'#{i}' if key is None else key, []).append(i)
    return list(groups.values())


def is_single_target(info: Mapping) -> bool:
    """Does the sample refer to exactly one object (``ann_ids`` of length
    one, ``no_target`` unset)?"""
    return not info.get('no_target', False) and \
        len(info.get('ann_ids') or ()) == 1


@DATA_SAMPLERS.register_module()
class ImageGroupedSampler(Sampler):
    """Yield the samples of one image consecutively.

    With ``RISAM(share_image_encoding=True)`` every run of samples of one
    image inside a batch costs one image-encoder pass.

    * Test (``shuffle=False``, default): every image's sentences in dataset
      order, images in order of first appearance; each sample exactly once.
    * Train (``shuffle=True``): each epoch the sentences of every image are
      shuffled and cut into groups of at most ``sentences_per_group`` (k);
      the groups are shuffled. Use a batch size that is a multiple of k.
      Every sample is still seen once per epoch (same epoch length as
      ``DefaultSampler``); a group may straddle two batches.

    Distributed: whole images are dealt to ranks as contiguous runs of the
    grouped order; ranks get equal counts, and a rank that is one short
    repeats its last sample *at its end*, exactly where mmengine's
    ``collect_results`` (rank-interleaved, then truncated to the dataset
    size) drops it, so each sample is evaluated once.

    Words first (``single_target_first=N``, training only): the first N
    samples each rank draws are single-target sentences only, in epochs
    over that subset; the epoch in which the N-th is drawn then goes on
    with a whole epoch of every sentence, and so do all later ones. N is
    per rank, like a batch size, so the phase ends at iteration N / batch
    size whatever the number of processes. For generalized RIS (gRefCOCO,
    generalized RefShapes): a model that cannot read a word yet is
    rewarded by multi-target sentences for segmenting every object, which
    delays reading the words (``docs/demo_generalized.md``). Resuming gives
    the same order (the phase follows from the epoch number).

    Args:
        dataset: the dataset (``get_data_info`` gives ``img_id`` /
            ``img_path``, and ``ann_ids`` / ``no_target`` for
            ``single_target_first``).
        shuffle: training order (see above).
        sentences_per_group: k of training groups; None = whole images.
        seed: shuffling seed (synchronised across ranks when None).
        single_target_first: samples each rank draws from the single-target
            sentences before every sentence is (0: none).
    """

    def __init__(self,
                 dataset: Sized,
                 *,
                 shuffle: bool = False,
                 sentences_per_group: Optional[int] = None,
                 seed: Optional[int] = None,
                 single_target_first: int = 0) -> None:
        if sentences_per_group is not None and sentences_per_group < 1:
            raise ValueError('sentences_per_group must be >= 1')
        if single_target_first < 0:
            raise ValueError('single_target_first must be >= 0, got '
                             f'{single_target_first}')
        if single_target_first and not shuffle:
            raise ValueError('single_target_first is for training: it needs '
                             'shuffle=True (a test order has every sample '
                             'once)')
        rank, world_size = get_dist_info()
        self.rank, self.world_size = rank, world_size
        self.dataset = dataset
        self.shuffle = shuffle
        self.k = sentences_per_group
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.groups = group_indices_by_image(dataset)
        self.num_samples = math.ceil(len(dataset) / world_size)
        self.single_target_first = single_target_first
        self._cached: Tuple[Optional[int], List[int]] = (None, [])
        self.single_groups: List[List[int]] = []
        if single_target_first:
            self.single_groups = [
                kept for kept in ([i for i in g if is_single_target(
                    _info(dataset, i))] for g in self.groups) if kept]
            if not self.single_groups:
                raise ValueError(
                    'single_target_first: no sample of the dataset has '
                    'exactly one target (ann_ids of length 1, no_target '
                    'unset)')

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for this epoch (called by mmengine's loops)."""
        self.epoch = epoch

    def _order(self, groups: Optional[List[List[int]]] = None) -> List[int]:
        groups = self.groups if groups is None else groups
        if not self.shuffle:
            return [i for g in groups for i in g]
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        chunks: List[List[int]] = []
        for g in groups:
            g = [g[j] for j in torch.randperm(len(g), generator=gen)]
            k = self.k or len(g)
            chunks.extend(g[s:s + k] for s in range(0, len(g), k))
        perm = torch.randperm(len(chunks), generator=gen).tolist()
        return [i for c in perm for i in chunks[c]]

    def _rank_slice(self, order: List[int]) -> List[int]:
        world = self.world_size
        n = math.ceil(len(order) / world)
        short = n * world - len(order)  # ranks world-short.. get n-1 real
        sizes = [n if r < world - short else n - 1 for r in range(world)]
        start = sum(sizes[:self.rank])
        mine = order[start:start + sizes[self.rank]]
        if len(mine) < n:
            mine = mine + mine[-1:] * (n - len(mine)) if mine else \
                order[:1] * n
        return mine

    def _epoch_order(self, groups: Optional[List[List[int]]] = None
                     ) -> List[int]:
        order = self._order(groups)
        return self._rank_slice(order) if self.world_size > 1 else order

    def _this_epoch(self) -> List[int]:
        if not self.single_target_first:
            return self._epoch_order()
        # kept per epoch: mmengine's LoggerHook asks len() every iteration
        if self._cached[0] != self.epoch:
            self._cached = (self.epoch, self._words_first_order())
        return self._cached[1]

    def _words_first_order(self) -> List[int]:
        single = self._epoch_order(self.single_groups)
        full_epochs, rest = divmod(self.single_target_first, len(single))
        if self.epoch < full_epochs:
            return single
        head = single[:rest] if self.epoch == full_epochs else []
        return head + self._epoch_order()

    def __iter__(self) -> Iterator[int]:
        return iter(self._this_epoch())

    def __len__(self) -> int:
        if self.single_target_first:
            return len(self._this_epoch())
        return self.num_samples if self.world_size > 1 else len(self.dataset)
