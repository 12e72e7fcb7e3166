"""ImageGroupedSampler(single_target_first=N): words first, then sets.

The first N samples drawn are single-target sentences only; the epoch in
which the N-th is drawn then goes on with a whole epoch of every sentence.
The generalized demo config ties N to its learning-rate restart."""
from collections import Counter
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS

from projects.risam.datasets import ImageGroupedSampler
from projects.risam.datasets.image_grouped_sampler import is_single_target

GREF_CONFIG = Path(__file__).resolve().parents[2] / \
    'configs/risam/risam_tiny-vit_1xb16-5500it_grefshapes-128x128.py'


class _Refs:
    """Refer-like samples: 12 images x 6 sentences; per image 3 single-,
    2 multi- and 1 no-target sentence."""

    def __init__(self):
        self.infos = []
        for img in range(12):
            for j, ann_ids in enumerate(([1], [2], [3], [1, 2], [1, 2, 3],
                                         [])):
                self.infos.append(dict(img_id=img, ann_ids=ann_ids,
                                       no_target=not ann_ids, sent=j))

    def __len__(self):
        return len(self.infos)

    def __getitem__(self, i):
        return self.infos[i]


SINGLE = [i for i in range(72) if i % 6 < 3]  # 36 single-target samples


def _sampler(ds, first, **kw):
    return ImageGroupedSampler(ds, shuffle=True, sentences_per_group=3,
                               seed=7, single_target_first=first, **kw)


def _epochs(sampler, n):
    out = []
    for e in range(n):
        sampler.set_epoch(e)
        order = list(sampler)
        assert len(order) == len(sampler)
        out.append(order)
    return out


def test_is_single_target():
    assert is_single_target(dict(ann_ids=[4], no_target=False))
    assert not is_single_target(dict(ann_ids=[4, 5], no_target=False))
    assert not is_single_target(dict(ann_ids=[], no_target=True))
    assert not is_single_target(dict(ann_ids=[4], no_target=True))
    assert not is_single_target(dict(img_id=1))


def test_first_n_samples_are_single_target_then_every_sentence():
    ds = _Refs()
    # 100 = two whole epochs of the 36 single-target samples, then 28
    e0, e1, e2, e3 = _epochs(_sampler(ds, 100), 4)
    assert sorted(e0) == sorted(e1) == SINGLE  # whole single-target epochs
    assert len(e2) == 28 + 72
    assert set(e2[:28]) <= set(SINGLE) and len(set(e2[:28])) == 28
    assert sorted(e2[28:]) == list(range(72))  # a whole epoch of all kinds
    assert sorted(e3) == list(range(72))
    stream = e0 + e1 + e2
    assert all(is_single_target(ds[i]) for i in stream[:100])
    # after the words-first phase the order is the plain sampler's
    plain = ImageGroupedSampler(ds, shuffle=True, sentences_per_group=3,
                                seed=7)
    plain.set_epoch(2)
    assert e2[28:] == list(plain)
    plain.set_epoch(3)
    assert e3 == list(plain)


def test_words_first_keeps_images_grouped_and_reshuffles():
    ds = _Refs()
    e0, e1 = _epochs(_sampler(ds, 72), 2)
    assert e0 != e1
    runs = Counter()
    start = 0
    for i in range(1, len(e0) + 1):
        if i == len(e0) or ds[e0[i]]['img_id'] != ds[e0[start]]['img_id']:
            runs[i - start] += 1
            start = i
    assert max(runs) <= 6 and runs[3] >= 8  # groups of k=3 of one image


def test_resumed_sampler_gives_the_same_stream():
    ds = _Refs()
    assert _epochs(_sampler(ds, 50), 3) == _epochs(_sampler(ds, 50), 3)


def test_quota_that_is_a_whole_number_of_epochs_has_no_head():
    e0, e1 = _epochs(_sampler(_Refs(), 36), 2)
    assert sorted(e0) == SINGLE and sorted(e1) == list(range(72))


def test_distributed_each_rank_draws_its_quota_in_step(monkeypatch):
    import projects.risam.datasets.image_grouped_sampler as mod
    ds = _Refs()
    streams = []
    for rank in range(2):
        monkeypatch.setattr(mod, 'get_dist_info', lambda r=rank: (r, 2))
        streams.append(_epochs(_sampler(ds, 25), 3))
    # equal epoch lengths on both ranks (DDP steps in lockstep)
    assert [len(e) for e in streams[0]] == [len(e) for e in streams[1]]
    for s in streams:  # 25 on each rank, 18 per single-target epoch
        flat = [i for e in s for i in e]
        assert all(is_single_target(ds[i]) for i in flat[:25])
        assert len(s[1]) == 7 + 36
    # the ranks' single-target epochs are disjoint halves of the subset
    assert sorted(streams[0][0] + streams[1][0]) == SINGLE


def test_bad_arguments_are_one_line_errors():
    ds = _Refs()
    with pytest.raises(ValueError, match='shuffle=True'):
        ImageGroupedSampler(ds, single_target_first=10)
    with pytest.raises(ValueError, match='>= 0'):
        _sampler(ds, -1)
    only_multi = _Refs()
    only_multi.infos = [i for i in only_multi.infos
                        if len(i['ann_ids']) != 1]
    with pytest.raises(ValueError, match='exactly one target'):
        _sampler(only_multi, 10)


def test_generalized_demo_restarts_the_schedule_where_the_phase_ends():
    cfg = Config.fromfile(str(GREF_CONFIG))
    loader = cfg.train_dataloader
    iters = cfg.single_target_iters
    assert loader.sampler.single_target_first == iters * loader.batch_size
    assert 0 < iters < cfg.train_cfg.max_iters
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=cfg.optim_wrapper.optimizer.lr)
    scheds = [PARAM_SCHEDULERS.build(dict(s, optimizer=opt))
              for s in cfg.param_scheduler]
    lrs = []
    for _ in range(cfg.train_cfg.max_iters):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        for s in scheds:
            s.step()
    peak, floor = cfg.optim_wrapper.optimizer.lr, 1e-5
    assert lrs[iters - 1] == pytest.approx(floor, rel=1e-3)
    assert lrs[iters] == pytest.approx(peak * 0.1, rel=1e-3)  # warm-up
    assert lrs[iters + 50] == pytest.approx(peak, rel=1e-2)
    assert lrs[-1] == pytest.approx(floor, rel=1e-2)
    assert max(lrs[:iters]) == pytest.approx(peak, rel=1e-3)
