"""RISAM end to end on the tiny config: loss, gradients, predict; mmseg's
``encode_decode`` (the tensor-mode logits of the metas' sentences, resized
to the padded input) and ``extract_feat``; the sentences the loss reads (a
missing one is the empty sentence); ``init_cfg``; the image encoding shared
within a batch, served by the feature cache or handed over by dataloader
workers (``risam.LoadCachedFeatures``)."""
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


def build_tiny(**overrides):
    init_default_scope('mmseg')
    cfg = Config.fromfile(TINY)
    cfg.model.update(overrides)
    return MODELS.build(cfg.model)


def _sample(text, h, w, ori=None, gt=True):
    ds = SegDataSample(metainfo=dict(text=text, img_shape=(h, w),
                                     ori_shape=ori or (h, w)))
    if gt:
        g = torch.zeros(1, h, w, dtype=torch.uint8)
        g[:, h // 4:h // 2, w // 4:] = 1
        ds.gt_sem_seg = PixelData(data=g)
    return ds


def _batch():
    return dict(
        inputs=[torch.randint(0, 256, (3, 128, 96), dtype=torch.uint8),
                torch.randint(0, 256, (3, 100, 128), dtype=torch.uint8)],
        data_samples=[_sample('the small red square at the top left', 128,
                              96),
                      _sample('circle', 100, 128)])


def test_forward_backward_gradient_set():
    model = build_tiny()
    model.train()
    data = model.data_preprocessor(_batch(), True)
    assert data['inputs'].shape == (2, 3, 128, 128)
    losses = model.loss(**data)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    got_grad = {n for n, p in model.named_parameters()
                if p.grad is not None and p.grad.abs().sum() > 0}
    assert trainable == got_grad
    assert all(n.startswith(('backbone.feature_enhancement', 'neck',
                             'decode_head')) for n in trainable)
    frozen = [p for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(p.grad is None for p in frozen)
    assert not model.backbone.encoder.training
    assert not model.text_encoder.text.training


def test_predict_outputs_binary_masks_at_original_size():
    model = build_tiny(threshold=0.5).eval()
    samples = [_sample('the circle', 128, 96, ori=(256, 192), gt=False),
               _sample('square on the right side of the image', 128, 96,
                       ori=(64, 48), gt=False)]
    data = dict(inputs=[torch.randint(0, 256, (3, 128, 96),
                                      dtype=torch.uint8)] * 2,
                data_samples=samples)
    with torch.no_grad():
        out = model.test_step(data)
    for ds, ori in zip(out, [(256, 192), (64, 48)]):
        logits = ds.seg_logits.data
        pred = ds.pred_sem_seg.data
        assert logits.shape == (1, *ori) and pred.shape == (1, *ori)
        assert set(pred.unique().tolist()) <= {0, 1}
        assert torch.equal(pred.bool(), logits.sigmoid() > 0.5)


def test_the_sentence_changes_the_mask():
    """Same image, same sizes (one resize path): two sentences give masks
    that differ, and the same sentence twice gives the same mask."""
    model = build_tiny().eval()
    img = torch.randint(0, 256, (3, 128, 96), dtype=torch.uint8)
    texts = ['the circle', 'square on the right side of the image',
             'the circle']
    data = dict(inputs=[img] * 3,
                data_samples=[_sample(t, 128, 96, ori=(64, 48), gt=False)
                              for t in texts])
    with torch.no_grad():
        out = [ds.seg_logits.data for ds in model.test_step(data)]
    torch.testing.assert_close(out[2], out[0])
    assert (out[1] - out[0]).abs().mean() > 1e-3


def test_batched_predict_equals_one_by_one():
    model = build_tiny().eval()
    img = torch.randint(0, 256, (3, 128, 96), dtype=torch.uint8)
    texts = ['a', 'the blue triangle below the big green circle']
    with torch.no_grad():
        both = model.test_step(dict(
            inputs=[img, img],
            data_samples=[_sample(t, 128, 96, gt=False) for t in texts]))
        for i, t in enumerate(texts):
            one = model.test_step(dict(
                inputs=[img], data_samples=[_sample(t, 128, 96, gt=False)]))
            torch.testing.assert_close(one[0].seg_logits.data,
                                       both[i].seg_logits.data,
                                       atol=1e-4, rtol=1e-4)


def test_separable_stages_reproduce_forward():
    model = build_tiny().eval()
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        visual = model.extract_visual(x)
        # one image, two sentences: expand the cached features
        texts = ['red square', 'blue circle on the left']
        expanded = tuple(v.expand(2, -1, -1, -1) for v in visual)
        logits = model.decode(expanded, model.extract_text(texts))
        ref = model._forward(x.expand(2, -1, -1, -1),
                             [_sample(t, 128, 128, gt=False) for t in texts])
    assert logits.shape == (2, 1, 64, 64)
    torch.testing.assert_close(logits, ref, atol=1e-5, rtol=1e-5)


def test_test_batch_of_different_sizes_matches_single_images():
    model = build_tiny().eval()
    imgs = [torch.randint(0, 256, (3, 128, 96), dtype=torch.uint8),
            torch.randint(0, 256, (3, 90, 128), dtype=torch.uint8)]
    shapes = [(128, 96), (90, 128)]
    with torch.no_grad():
        both = model.test_step(dict(
            inputs=imgs,
            data_samples=[_sample('a', *s, gt=False) for s in shapes]))
        for i, s in enumerate(shapes):
            one = model.test_step(dict(
                inputs=[imgs[i]], data_samples=[_sample('a', *s, gt=False)]))
            assert one[0].seg_logits.data.shape == (1, *s)
            torch.testing.assert_close(one[0].seg_logits.data,
                                       both[i].seg_logits.data,
                                       atol=1e-4, rtol=1e-4)


TEXTS = ['the small red square at the top left', 'circle']


def _model():
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(TINY).model)
    return model.eval()


def _metas():
    return [dict(text=t, img_shape=(64, 64), ori_shape=(64, 64))
            for t in TEXTS]


def _tiny_cfg():
    init_default_scope('mmseg')
    return Config.fromfile(TINY).model


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
