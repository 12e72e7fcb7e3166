"""RISAM end to end on the tiny config: loss, gradients, predict."""

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

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
