"""projects.risam.profiling.synthetic_batch: seeded refer batches."""
import pytest
import torch

from projects.risam.profiling.synthetic_batch import (
    box_masks,
    data_samples,
    make_batch,
    sentence,
)


def test_sentences():
    assert sentence(0, 4) == 'the word0 word1 word2'
    assert sentence(6, 3) == 'the word6 word0'
    assert sentence(2, 1) == 'the'


def test_batch_over_fewer_images_shares_them():
    """4 sentences of 2 images: sentences 0, 1 show image 0, 2, 3 image 1;
    the inputs repeat the image; the same seed gives the same batch."""
    inputs, samples = make_batch(2, 4, 16, 3, torch.device('cpu'), seed=5)
    assert inputs.shape == (4, 3, 16, 16)
    assert [s.img_id for s in samples] == [0, 0, 1, 1]
    assert [s.img_path for s in samples] == ['image_0.jpg'] * 2 + [
        'image_1.jpg'] * 2
    assert torch.equal(inputs[0], inputs[1]) and not torch.equal(
        inputs[1], inputs[2])
    assert [s.text for s in samples] == [sentence(i, 3) for i in range(4)]
    gen = torch.Generator().manual_seed(5)
    torch.testing.assert_close(inputs[2], torch.randn(2, 3, 16, 16,
                                                      generator=gen)[1])
    masks = [s.gt_sem_seg.data for s in samples]
    assert masks[0].shape == (1, 16, 16) and masks[0].dtype == torch.int64
    assert set(torch.cat(masks).unique().tolist()) == {0, 1}
    assert not torch.equal(masks[0], masks[1])
    again_inputs, again = make_batch(2, 4, 16, 3, torch.device('cpu'), seed=5)
    assert torch.equal(inputs, again_inputs)
    assert all(torch.equal(a.gt_sem_seg.data, b.gt_sem_seg.data)
               for a, b in zip(samples, again))
    assert samples[3].metainfo['batch_input_shape'] == (16, 16)


def test_box_masks_and_sample_type():
    from mmseg.structures import SegDataSample
    masks = box_masks(2, 16)
    assert masks.dtype == torch.uint8 and int(masks[0].sum()) == 4 * 14
    assert masks[1, 0, 4:8, 2:].all() and not masks[1, 0, 8:].any()
    samples = data_samples(16, [7, 7], ['a', 'b'], masks,
                           sample_type=SegDataSample)
    assert all(type(s) is SegDataSample for s in samples)
    assert [s.img_id for s in samples] == [7, 7]
    with pytest.raises(ValueError, match='one of each per sample'):
        data_samples(16, [7], ['a', 'b'], masks)
