"""The inference API's pieces that need no trained model: ``binarize``
(the "nothing matches" flag and a per-call threshold) and the web demo's
``demo_examples`` read from a generated RefShapes."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from projects.risam.apis import binarize, demo_examples


def _predicted(logits):
    sample = SegDataSample()
    logits = torch.tensor(logits).view(1, 1, -1)
    sample.seg_logits = PixelData(data=logits)
    sample.pred_sem_seg = PixelData(
        data=(logits.sigmoid() > 0.35).to(torch.uint8))
    return sample


def test_binarize_flags_an_empty_mask_at_the_threshold_in_use():
    # sigmoid: 0.12, 0.5, 0.73
    sample = binarize(_predicted([-2.0, 0.0, 1.0]))
    assert sample.nothing_matches is False
    assert sample.pred_sem_seg.data.view(-1).tolist() == [0, 1, 1]
    sample = binarize(_predicted([-2.0, 0.0, 1.0]), threshold=0.5)
    assert sample.pred_sem_seg.data.view(-1).tolist() == [0, 0, 1]
    sample = binarize(_predicted([-2.0, 0.0, 1.0]), threshold=0.75)
    assert sample.nothing_matches is True
    assert not sample.pred_sem_seg.data.any()


@pytest.mark.parametrize('threshold', [-0.1, 1.5])
def test_binarize_refuses_a_threshold_outside_0_1(threshold):
    with pytest.raises(ValueError, match='threshold must be in'):
        binarize(_predicted([0.0]), threshold=threshold)


def _cfg(root):
    return Config(dict(val_dataloader=dict(dataset=dict(
        data_root=str(root), split_file='refs(unc).p',
        data_prefix=dict(img_path='images')))))


def test_demo_examples_from_refshapes(refshapes_root):
    examples = demo_examples(_cfg(refshapes_root), per_kind=2)
    # RefShapes has single-target sentences only: two of different types,
    # on two different val images
    assert [e.kind for e in examples] == ['single', 'single']
    assert len({e.type for e in examples}) == 2
    assert len({e.image for e in examples}) == 2
    assert all(osp.isfile(e.image) and e.sentence for e in examples)
    assert demo_examples(_cfg(refshapes_root), per_kind=2) == examples


def test_demo_examples_without_data_is_empty(tmp_path):
    assert demo_examples(_cfg(tmp_path)) == []
    assert demo_examples(Config(dict())) == []
