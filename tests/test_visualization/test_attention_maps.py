"""Fig. 7's maps as the MA block's hook point records them, against Eq. 3-4
written out here on the tiny model, and what is drawn from them."""
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from projects.risam.apis import init_refer_model
from projects.risam.visualization.attention_drawing import (
    draw_word_map,
    save_attention,
)
from projects.risam.visualization.attention_maps import (
    attention_maps,
    check_box,
    require_ma_neck,
)

DEMO_CONFIG = (Path(__file__).resolve().parents[2] /
               "configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py")

SENTENCE = 'the red shape'


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(1)
    model = init_refer_model(str(DEMO_CONFIG))
    # spread block 1's scores so that Eq. 4 removes some pairs, not all
    with torch.no_grad():
        model.neck.blocks[0].visual_proj.weight.mul_(100.0)
    return model


def _image(root):
    return cv2.imread(str(sorted((root / 'images').glob('*.png'))[8]))


@torch.no_grad()
def _eq3_eq4(block, visual, text, mask):
    """Eq. 3 with Eq. 4's mask (the repository's reading: a pair is kept
    iff sigmoid(score) >= tau; a pixel with no kept real word keeps all
    of them), written out on the block's weights."""
    z_v = visual[0] @ block.visual_proj.weight.T
    z_l = text[0] @ block.text_proj.weight.T
    scores = z_v @ z_l.T / math.sqrt(block.channels)
    real = mask[0].bool()
    keep = (torch.sigmoid(scores) >= block.tau) & real
    empty = ~keep.any(-1, keepdim=True)
    keep = keep | (empty & real)
    weights = torch.where(keep, scores, torch.tensor(-math.inf)).softmax(-1)
    n = int(real.sum())
    return weights[:, :n].numpy(), keep[:, :n].numpy()


@pytest.mark.parametrize('block', [1, 2])
def test_recorded_maps_are_eq3_with_the_tau_mask(model, refshapes_root,
                                                 block):
    inputs = []
    handle = model.neck.blocks[block - 1].register_forward_pre_hook(
        lambda m, args: inputs.append(args))
    try:
        maps = attention_maps(model, _image(refshapes_root), SENTENCE, block)
    finally:
        handle.remove()
    want, keep = _eq3_eq4(model.neck.blocks[block - 1], *inputs[-1])
    h, w, n = maps.attention.shape
    assert maps.words == ['<start_of_text>', 'the', 'red', 'shape',
                          '<end_of_text>'] and n == 5 and (h, w) == (16, 16)
    got = maps.attention.reshape(h * w, n)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_array_equal(maps.allowed.reshape(h * w, n), keep)
    removed = 1 - keep.mean()
    if block == 1:  # the scaled block: the mask removes some pairs
        assert 0.05 < removed < 0.95
        assert (got[~keep] == 0).all()
        assert maps.removed.any() and not maps.removed.all()
    # every pixel's weights sum to 1 over the words, before and after the
    # resize to the image; over the whole image they are the rows' mean
    np.testing.assert_allclose(got.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(maps.word_maps.sum(0), 1, atol=1e-4)
    weights, share = maps.region_weights()
    np.testing.assert_allclose(weights, got.mean(0), atol=0.01)
    np.testing.assert_allclose(share, maps.removed.mean(axis=(1, 2)))
    assert maps.mask.shape == (128, 128)


def test_box_neck_and_drawing(model, refshapes_root, tmp_path):
    img = _image(refshapes_root)
    maps = attention_maps(model, img, SENTENCE, block=1)
    weights, share = maps.region_weights((120, 120, 20, 20))  # clipped
    np.testing.assert_allclose(
        weights, maps.word_maps[:, 120:, 120:].mean(axis=(1, 2)), rtol=1e-6)
    assert check_box((-5, 0, 10, 4), (128, 128)) == (0, 0, 5, 4)
    with pytest.raises(ValueError, match='no pixel'):
        check_box((200, 0, 10, 10), (128, 128))
    with pytest.raises(ValueError, match='neck is SpatialDynamicFusion'):
        require_ma_neck(dict(neck=dict(type='risam.SpatialDynamicFusion')))
    with pytest.raises(ValueError, match=r'--block must be 1\.\.2'):
        attention_maps(model, img, SENTENCE, block=3)
    # the removed pairs of a word are hatched in red in its map
    word = int(np.argmax(maps.removed.mean(axis=(1, 2))))
    picture = draw_word_map(img, maps, word)
    assert (picture == (40, 40, 220)).all(-1).sum() > 100
    paths = save_attention(str(tmp_path), img, maps, (0, 0, 64, 64))
    np.testing.assert_array_equal(np.load(paths['attention.npy']),
                                  maps.attention)
    assert cv2.imread(paths['word_maps.png']) is not None
