"""RISAM's mmseg API that no fast test called (mutation testing: every
mutant of ``encode_decode`` and ``extract_feat`` had no test).

``encode_decode(inputs, metas)`` must be the tensor-mode logits of the same
sentences, bilinearly resized to the padded input size; ``extract_feat`` the
visual features F_v.
"""
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

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
