"""One image-encoder pass per image, identical to the per-sentence path."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from projects.risam.datasets import ImageGroupedSampler

from .conftest import tiny_config

TINY = 'configs/risam/_base_/models/risam_tiny.py'


def _model(**kw):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = Config.fromfile(TINY).model
    cfg.update(kw)
    return MODELS.build(cfg)


def count_encoded(model):
    """Record the number of images of every ``backbone.encode`` call."""
    calls = []
    encode = model.backbone.encode

    def counting(images):
        calls.append(len(images))
        return encode(images)

    model.backbone.encode = counting
    return calls


def _batch(img_ids, texts):
    torch.manual_seed(1)
    imgs = {i: torch.randint(0, 256, (3, 128, 112), dtype=torch.uint8)
            for i in set(img_ids)}
    samples = []
    for i, t in zip(img_ids, texts):
        ds = SegDataSample(metainfo=dict(text=t, img_id=i, img_shape=(128,
                                         112), ori_shape=(128, 112)))
        g = torch.zeros(1, 128, 112, dtype=torch.uint8)
        g[:, 10 * i:10 * i + 40, 20:70] = 1
        ds.gt_sem_seg = PixelData(data=g)
        samples.append(ds)
    return dict(inputs=[imgs[i] for i in img_ids], data_samples=samples)


IDS = [3, 3, 7, 3, 7, 9, 7]
TEXTS = ['red square', 'the big one', 'left circle', 'blue', 'top', 'it',
         'the small green triangle']


def test_predict_shared_equals_per_sentence():
    shared, single = _model().eval(), _model(share_image_encoding=False).eval()
    n_shared, n_single = count_encoded(shared), count_encoded(single)
    with torch.no_grad():
        a = shared.test_step(_batch(IDS, TEXTS))
        b = single.test_step(_batch(IDS, TEXTS))
    assert n_shared == [3] and n_single == [7]
    for x, y in zip(a, b):
        torch.testing.assert_close(x.seg_logits.data, y.seg_logits.data,
                                   atol=1e-5, rtol=1e-5)
        assert torch.equal(x.pred_sem_seg.data, y.pred_sem_seg.data)


def test_loss_and_gradients_shared_equal_per_sentence():
    grads = []
    for share in (True, False):
        model = _model(share_image_encoding=share).train()
        data = model.data_preprocessor(_batch(IDS, TEXTS), True)
        losses = model.loss(**data)
        sum(losses.values()).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
        grads[-1]['loss'] = sum(losses.values()).detach()
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], atol=1e-5,
                                   rtol=1e-4)


def test_same_id_different_pixels_is_not_shared():
    model = _model().eval()
    data = _batch([1, 1], ['a', 'b'])
    data['inputs'][1] = data['inputs'][1].flip(-1)  # e.g. a random flip
    calls = count_encoded(model)
    with torch.no_grad():
        model.test_step(data)
    assert calls == [2]


class _Toy:
    def __init__(self, ids):
        self.ids = ids

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return dict(img_id=self.ids[i], img_path=f'{self.ids[i]}.png')


def test_sampler_test_order_groups_images():
    ds = _Toy([5, 2, 5, 9, 2, 5])
    assert list(ImageGroupedSampler(ds)) == [0, 2, 5, 1, 4, 3]


def test_sampler_train_groups_of_k_cover_every_sample_once():
    ds = _Toy([i // 7 for i in range(70)])  # 10 images x 7 sentences
    sampler = ImageGroupedSampler(ds, shuffle=True, sentences_per_group=4,
                                  seed=0)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert sorted(order) == list(range(70))
        runs, start = [], 0  # maximal runs of one image
        for i in range(1, 71):
            if i == 70 or ds.ids[order[i]] != ds.ids[order[start]]:
                runs.append(i - start)
                start = i
        assert max(runs) <= 8 and sum(r in (3, 4) for r in runs) >= 16
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first


@pytest.mark.parametrize('world', [2, 3, 4])
def test_sampler_distributed_collect_gives_each_sample_once(world):
    ds = _Toy([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4])
    parts = []
    for rank in range(world):
        s = ImageGroupedSampler(ds)
        s.rank, s.world_size = rank, world
        s.num_samples = -(-len(ds) // world)
        parts.append(list(s))
    assert len({len(p) for p in parts}) == 1
    # mmengine collect_results: interleave ranks, truncate to dataset size
    collected = [i for row in zip(*parts) for i in row][:len(ds)]
    assert sorted(collected) == list(range(len(ds)))


def test_runner_metrics_identical_grouped_vs_per_sentence(
        small_refshapes, tmp_path):
    results, passes = [], []
    for grouped in (False, True):
        cfg = tiny_config(small_refshapes, tmp_path / str(grouped))
        cfg.model.share_image_encoding = grouped
        cfg.test_dataloader.batch_size = 8
        cfg.test_dataloader.sampler = dict(type='risam.ImageGroupedSampler') \
            if grouped else dict(type='DefaultSampler', shuffle=False)
        runner = Runner.from_cfg(copy.deepcopy(cfg))
        count = [0]
        encode = runner.model.backbone.encode

        def counting(x, _encode=encode, _count=count):
            _count[0] += len(x)
            return _encode(x)

        runner.model.backbone.encode = counting
        results.append(runner.test())
        passes.append(count[0])
    n_samples = len(runner.test_dataloader.dataset)
    assert passes[0] == n_samples
    assert passes[1] <= 6 + n_samples // 8  # images + batch boundaries
    assert passes[1] < passes[0] / 3
    assert results[0] == results[1]
    assert set(results[0]) >= {'oIoU', 'mIoU', 'Pr@50'}
