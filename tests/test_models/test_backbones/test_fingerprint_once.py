"""The frozen encoder's fingerprint is hashed once per model, not per step.

``state_fingerprint`` reads every weight (2.5 GB for SAM ViT-H in fp32);
training from the feature cache checks the fingerprint at every step, so
the digest must be kept, and dropped only when the weights change.
"""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from projects.risam.image_encoding import FeatureCacheMismatch, FeatureCacheWriter
from projects.risam.models.backbones import base_visual_backbone

TINY = 'configs/risam/_base_/models/risam_tiny.py'
SIZE = 64


def _model(**kw):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = Config.fromfile(TINY).model
    cfg.data_preprocessor.size = (SIZE, SIZE)
    cfg.update(kw)
    return MODELS.build(cfg)


@pytest.fixture
def digests(monkeypatch):
    """Every full hash of a module's weights, by module."""
    calls = []
    digest = base_visual_backbone._digest

    def counting(module):
        calls.append(module)
        return digest(module)

    monkeypatch.setattr(base_visual_backbone, '_digest', counting)
    return calls


def _data(img_ids=(0, 1, 0)):
    torch.manual_seed(1)
    imgs = {i: torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8)
            for i in set(img_ids)}
    samples = []
    for k, i in enumerate(img_ids):
        ds = SegDataSample(metainfo=dict(text=f'shape {k}', img_id=i,
                                         img_shape=(SIZE, SIZE),
                                         ori_shape=(SIZE, SIZE)))
        gt = torch.zeros(1, SIZE, SIZE, dtype=torch.uint8)
        gt[:, 8 * k:8 * k + 24, 16:40] = 1
        ds.gt_sem_seg = PixelData(data=gt)
        samples.append(ds)
    return dict(inputs=[imgs[i] for i in img_ids], data_samples=samples)


def _write_cache(model, out_dir):
    model.eval()
    with torch.no_grad():
        batch = model.data_preprocessor(_data((0, 1)), True)
        taps = model.backbone.encode(batch['inputs'])
    writer = FeatureCacheWriter(out_dir=str(out_dir),
                                fingerprint=model.backbone.fingerprint(),
                                input_size=(SIZE, SIZE))
    for b in range(2):
        writer.add(str(b), [t[b] for t in taps])
    writer.close()


def test_five_cached_steps_hash_the_encoder_once(tmp_path, digests):
    _write_cache(_model(), tmp_path)
    digests.clear()
    model = _model(feature_cache=str(tmp_path)).train()
    encoded = []
    model.backbone.encode = lambda x: encoded.append(len(x))
    opt = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(5):
        batch = model.data_preprocessor(copy.deepcopy(_data()), True)
        loss = sum(model.loss(**batch).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert digests == [model.backbone.encoder]  # once, in the first step
    assert encoded == []  # every map came from the cache
    assert losses[-1] < losses[0]  # the steps trained


def test_fingerprint_follows_the_weights(digests):
    backbone = _model().backbone
    first = backbone.fingerprint()
    assert backbone.fingerprint() == first and len(digests) == 1
    # other encoder weights through load_state_dict (in-place copies)
    other = _model().backbone.encoder.state_dict()
    other = {k: v + 1 if v.is_floating_point() else v
             for k, v in other.items()}
    backbone.encoder.load_state_dict(other)
    changed = backbone.fingerprint()
    assert changed['encoder_sha256'] != first['encoder_sha256']
    assert len(digests) == 2
    # the same weights loaded back: the first digest again
    backbone.encoder.load_state_dict(_model().backbone.encoder.state_dict())
    assert backbone.fingerprint() == first
    # a dtype change: the encoder computes something else (fp32 and bf16
    # are said by the config's encoder_dtype, see _digest)
    backbone.encoder.to(torch.float64)
    assert backbone.fingerprint()['encoder_sha256'] != first['encoder_sha256']
    backbone.encoder.to(torch.float16)
    fp16 = backbone.fingerprint()['encoder_sha256']
    assert fp16 != first['encoder_sha256']
    assert len(digests) == 5
    # one in-place write to one weight
    backbone.encoder.to(torch.float32).load_state_dict(
        _model().backbone.encoder.state_dict())
    assert backbone.fingerprint() == first
    with torch.no_grad():
        next(backbone.encoder.parameters())[0].add_(1e-3)
    assert backbone.fingerprint() != first


def test_a_cache_is_refused_once_the_encoder_changes(tmp_path):
    _write_cache(_model(), tmp_path)
    model = _model(feature_cache=str(tmp_path)).train()
    batch = model.data_preprocessor(_data(), True)
    model.loss(**batch)  # verified, runs
    with torch.no_grad():
        next(model.backbone.encoder.parameters()).mul_(2)
    with pytest.raises(FeatureCacheMismatch, match='different frozen encoder'):
        model.loss(**model.data_preprocessor(_data(), True))
