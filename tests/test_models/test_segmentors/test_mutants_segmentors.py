"""RISAM details that mutation testing found unguarded.

``encode_decode`` and ``extract_feat`` (mmseg's API) had no fast test at
all: ``encode_decode(inputs, metas)`` must be the tensor-mode logits of the
metas' sentences, bilinearly resized to the padded input size;
``extract_feat`` the visual features. ``postprocess_result`` had no test of
its ``pad_shape`` / ``img_shape`` fallbacks nor of 3-value shapes. The
maps that dataloader workers hand over (``risam.LoadCachedFeatures``) were
reached only by a slow training test.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from projects.risam.image_encoding import CACHED_TAPS_KEY, FeatureCache, FeatureCacheWriter
from projects.risam.models import RISAM

TINY = 'configs/risam/_base_/models/risam_tiny.py'
TEXTS = ['the small red square at the top left', 'circle']


def _model():
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(TINY).model)
    return model.eval()


def _metas():
    return [dict(text=t, img_shape=(64, 64), ori_shape=(64, 64))
            for t in TEXTS]


def test_encode_decode_is_forward_resized_to_the_input():
    model = _model()
    inputs = torch.randn(2, 3, 64, 64)
    samples = [SegDataSample(metainfo=m) for m in _metas()]
    with torch.no_grad():
        got = model.encode_decode(inputs, _metas())
        raw = model._forward(inputs, samples)
        swapped = model.encode_decode(inputs, _metas()[::-1])
    assert raw.shape[-1] < 64 and got.shape == (2, 1, 64, 64)
    want = F.interpolate(raw, size=(64, 64), mode='bilinear',
                         align_corners=False)
    assert torch.allclose(got, want, atol=1e-5)
    # the sentences are read from the metas: swapping them changes the maps
    assert (swapped - got).abs().max() > 1e-3


def test_extract_feat_is_the_visual_features():
    model = _model()
    inputs = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        got = model.extract_feat(inputs)
        want = model.extract_visual(inputs)
    assert len(got) == len(want) > 0
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def _post(logits, meta):
    model = RISAM.__new__(RISAM)  # postprocess needs only the threshold
    model.threshold = 0.35
    ds = SegDataSample(metainfo=meta)
    return RISAM.postprocess_result(model, logits, [ds])[0]


def test_postprocess_reads_pad_shape_and_img_shape_fallbacks():
    """Logits already at the padded size, so every resize is the identity
    and the result is the crop: by hand, ``logits[:img_h, :img_w]``."""
    logits = (torch.arange(16.0) - 7.5).view(1, 1, 4, 4)
    # mmcv's Pad writes a 3-value pad_shape (H, W, C); some pipelines a
    # 3-value img_shape; no batch_input_shape, no ori_shape
    out = _post(logits, dict(pad_shape=(4, 4, 3), img_shape=(3, 2, 3)))
    assert torch.equal(out.seg_logits.data, logits[0, :, :3, :2])
    assert out.pred_sem_seg.data.tolist() == [[[0, 0], [0, 0], [1, 1]]]
    # img_shape only: it is also the padded size
    narrow = logits[..., :3]
    out = _post(narrow, dict(img_shape=(4, 3)))
    assert torch.equal(out.seg_logits.data, narrow[0])
    # pad_shape only: nothing to crop
    out = _post(logits, dict(pad_shape=(4, 4, 3)))
    assert torch.equal(out.seg_logits.data, logits[0])
    with pytest.raises(KeyError) as err:
        _post(logits, dict(ori_shape=(4, 4)))
    assert err.value.args[0] == ('sample 0: no batch_input_shape, pad_shape '
                                 'or img_shape in its metainfo')


def test_threshold_is_strict_and_ori_shape_may_have_channels():
    # sigmoid(0) = 0.5 exactly: not above a 0.5 threshold
    logits = torch.tensor([[[[0.0, 0.1], [-0.1, 0.0]]]])
    model = RISAM.__new__(RISAM)
    model.threshold = 0.5
    ds = SegDataSample(metainfo=dict(img_shape=(2, 2), ori_shape=(2, 2, 3)))
    out = RISAM.postprocess_result(model, logits, [ds])[0]
    assert out.pred_sem_seg.data.tolist() == [[[0, 1], [0, 0]]]


def test_loss_reads_the_sentences():
    model = _model().train()
    inputs = torch.randn(1, 3, 64, 64)
    losses = []
    for text in TEXTS:
        ds = SegDataSample(metainfo=dict(text=text, img_shape=(64, 64),
                                         ori_shape=(64, 64)))
        gt = torch.zeros(1, 64, 64, dtype=torch.uint8)
        gt[:, 10:30, 5:50] = 1
        ds.gt_sem_seg = PixelData(data=gt)
        with torch.no_grad():
            losses.append(sum(model.loss(inputs, [ds]).values()).item())
    assert abs(losses[0] - losses[1]) > 1e-4


def _tiny_cfg():
    init_default_scope('mmseg')
    return Config.fromfile(TINY).model


def test_default_threshold_is_the_papers_0_35_and_predict_uses_it():
    """§4.2: "we binarize the mask with a threshold of 0.35"."""
    cfg = _tiny_cfg()
    cfg.pop('threshold')
    model = MODELS.build(cfg).eval()
    assert model.threshold == 0.35
    # sigmoid(-0.63) = 0.3475, sigmoid(-0.61) = 0.3521
    logits = torch.tensor([[[[-0.63, -0.61], [-0.61, -0.63]]]])
    model._forward = lambda inputs, data_samples: logits
    ds = SegDataSample(metainfo=dict(img_shape=(2, 2), ori_shape=(2, 2)))
    out = model.predict(torch.zeros(1, 3, 2, 2), [ds])[0]
    assert out.pred_sem_seg.data.tolist() == [[[0, 1], [1, 0]]]


def test_init_cfg_reaches_base_segmentor():
    cfg = _tiny_cfg()
    init_cfg = dict(type='Normal', layer='Conv2d', std=0.01)
    cfg.init_cfg = init_cfg
    model = MODELS.build(cfg)
    assert model.init_cfg == init_cfg


def test_a_missing_sentence_is_the_empty_sentence():
    """A sample without ``text`` (or no samples at all) reads ``''``, the
    same as an explicit empty sentence, in every entry point."""
    model = _model()
    inputs = torch.randn(2, 3, 64, 64)
    blank = [dict(text='', img_shape=(64, 64), ori_shape=(64, 64))] * 2
    missing = [dict(img_shape=(64, 64), ori_shape=(64, 64))] * 2
    assert RISAM._texts([SegDataSample(metainfo=m) for m in missing]) == [
        '', '']
    with torch.no_grad():
        want = model._forward(inputs,
                              [SegDataSample(metainfo=m) for m in blank])
        got = model._forward(inputs,
                             [SegDataSample(metainfo=m) for m in missing])
        none = model._forward(inputs)
        other = model._forward(inputs, [
            SegDataSample(metainfo=dict(m, text='None')) for m in blank])
        decoded = model.encode_decode(inputs, missing)
        decoded_blank = model.encode_decode(inputs, blank)
    assert (other - want).abs().max() > 1e-3  # the sentence matters
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.allclose(none, want, atol=1e-6)
    assert torch.allclose(decoded, decoded_blank, atol=1e-6)


def test_encode_decode_shares_the_image_encoding():
    """mmseg's inference calls ``encode_decode`` with the batch's metas:
    the sentences of one image (same ``img_id``, equal pixels) go through
    the frozen encoder once, as in ``_forward``."""
    model = _model()
    calls = []
    encode = model.backbone.encode

    def counting(images):
        calls.append(len(images))
        return encode(images)

    model.backbone.encode = counting
    inputs = torch.randn(1, 3, 64, 64).expand(2, -1, -1, -1)
    metas = [dict(m, img_id=5) for m in _metas()]
    with torch.no_grad():
        model.encode_decode(inputs, metas)
    assert calls == [1]


def test_feature_cache_serves_the_encoder_output(tmp_path):
    """``feature_cache=DIR``: a sample whose image is cached skips the
    frozen encoder and gives the live path's logits (fp32 cache)."""
    live = _model()
    inputs = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        raw = live.backbone.encode(inputs)
    w = FeatureCacheWriter(out_dir=str(tmp_path), dtype='float32',
                           fingerprint=live.backbone.fingerprint(),
                           input_size=(64, 64))
    w.add('7', [t[0] for t in raw])
    w.close()
    cfg = _tiny_cfg()
    cfg.feature_cache = str(tmp_path)
    cached = MODELS.build(cfg).eval()
    cached.load_state_dict(live.state_dict())
    calls = []
    encode = cached.backbone.encode
    cached.backbone.encode = lambda x: calls.append(len(x)) or encode(x)
    sample = [SegDataSample(metainfo=dict(_metas()[0], img_id=7))]
    with torch.no_grad():
        got = cached._forward(inputs, sample)
        want = live._forward(inputs, sample)
    assert calls == []
    assert torch.allclose(got, want, atol=1e-5)


def _cached_model(tmp_path, n=2):
    """A tiny RISAM and an fp32 cache of its encoder on ``n`` images."""
    model = _model()
    inputs = torch.randn(n, 3, 64, 64)
    with torch.no_grad():
        raw = model.backbone.encode(inputs)
    w = FeatureCacheWriter(out_dir=str(tmp_path), dtype='float32',
                           fingerprint=model.backbone.fingerprint(),
                           input_size=(64, 64))
    for b in range(n):
        w.add(str(b), [t[b] for t in raw])
    w.close()
    model.feature_cache = FeatureCache(str(tmp_path))
    return model, inputs, model.feature_cache


def test_maps_handed_over_by_workers_replace_the_encoder(tmp_path):
    """``risam.LoadCachedFeatures`` puts each sample's maps (and the cache
    folder) in its metainfo: those samples skip the frozen encoder and give
    the live path's features; a sample without maps is encoded."""
    model, inputs, cache = _cached_model(tmp_path)
    calls = []
    encode = model.backbone.encode
    model.backbone.encode = lambda x: calls.append(len(x)) or encode(x)
    metas = [dict(img_id=b, feature_cache=osp.abspath(str(tmp_path)),
                  **{CACHED_TAPS_KEY: cache.read(str(b))}) for b in (0, 1)]
    plain = [dict(img_id=b) for b in (0, 1)]
    with torch.no_grad():
        want = model.extract_visual(inputs)  # no metas: both encoded
        assert calls == [2]
        got = model.extract_visual(inputs, metas)
        assert calls == [2]  # nothing encoded
        metas[1] = dict(plain[1])  # sample 1 without maps: encoded
        half = model.extract_visual(inputs, metas)
        assert calls == [2, 1]
    for g, h, w in zip(got, half, want):
        assert torch.allclose(g, w, atol=1e-5)
        assert torch.allclose(h, w, atol=1e-5)


def test_maps_need_the_models_cache_of_the_same_folder(tmp_path):
    model, inputs, cache = _cached_model(tmp_path / 'mine')
    mine = osp.abspath(str(tmp_path / 'mine'))
    other = osp.abspath(str(tmp_path / 'other'))
    metas = [dict(img_id=b, feature_cache=mine,
                  **{CACHED_TAPS_KEY: cache.read(str(b))}) for b in (0, 1)]
    metas[1]['feature_cache'] = other
    with pytest.raises(ValueError) as err:
        model.extract_visual(inputs, metas)
    assert str(err.value) == (f'samples carry cached features from {other}, '
                              f'model.feature_cache is {mine}: set both to '
                              'one folder')
    model.feature_cache = None
    with pytest.raises(ValueError) as err:
        model.extract_visual(inputs, metas)
    assert str(err.value) == (
        'samples carry cached features (risam.LoadCachedFeatures in the '
        'pipeline) but model.feature_cache is not set: set it to the same '
        'folder, so that the cache is checked against the encoder')

