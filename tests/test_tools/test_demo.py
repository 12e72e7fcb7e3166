"""tools/demo.py and the shared-encoding inference API behind it."""
import runpy
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS

from projects.risam.apis import inference_refer, init_refer_model

from .conftest import DEMO_CONFIG, REPO

SENTENCES = ['the red shape', 'the leftmost shape', 'the biggest circle']


def _first_val_image(root):
    return sorted((root / 'images').glob('*.png'))[8]  # first val image


def test_one_image_encoding_for_all_sentences(refshapes_root, tiny_checkpoint):
    model = init_refer_model(str(DEMO_CONFIG), str(tiny_checkpoint))
    calls = []  # batch sizes seen by the frozen SAM ViT
    model.backbone.encoder.patch_embed.register_forward_hook(
        lambda mod, args, out: calls.append(len(args[0])))
    image = _first_val_image(refshapes_root)
    results = inference_refer(model, str(image), SENTENCES)
    assert calls == [1]
    assert [r.text for r in results] == SENTENCES

    # identical to the per-sentence path of the test loop
    calls.clear()
    cfg = model.cfg
    cfg.test_dataloader.dataset.data_root = str(refshapes_root)
    pipeline = cfg.test_dataloader.dataset.pipeline
    pipeline = [s for s in pipeline if s['type'] != 'risam.LoadReferAnnotations']
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset,
                                  pipeline=pipeline))
    info = next(i for i in range(len(dataset))
                if dataset.get_data_info(i)['img_path'].endswith(image.name))
    per_sentence = []
    for text in SENTENCES:
        item = dataset.prepare_data(info)
        item['data_samples'].set_metainfo(dict(text=text))
        with torch.no_grad():
            per_sentence += model.test_step(pseudo_collate([item]))
    assert calls == [1] * len(SENTENCES)
    h, w = cv2.imread(str(image)).shape[:2]
    for shared, single in zip(results, per_sentence):
        assert shared.pred_sem_seg.data.shape == (1, h, w)
        torch.testing.assert_close(shared.seg_logits.data,
                                   single.seg_logits.data,
                                   rtol=1e-5, atol=1e-5)
        assert torch.equal(shared.pred_sem_seg.data, single.pred_sem_seg.data)


def _demo(*args) -> str:
    """Run tools/demo.py in-process; return its exit message ('' = ok)."""
    argv = sys.argv
    sys.argv = ['demo.py', *map(str, args)]
    try:
        runpy.run_path(str(REPO / 'tools/demo.py'), run_name='__main__')
    except SystemExit as e:
        return str(e.code)
    finally:
        sys.argv = argv
    return ''


def test_demo_cli_writes_overlay_and_mask_per_sentence(
        refshapes_root, tiny_checkpoint, tmp_path):
    image = _first_val_image(refshapes_root)
    out = tmp_path / 'out'
    error = _demo(image, *SENTENCES, DEMO_CONFIG, tiny_checkpoint,
                  '--out', out, '--threshold', '0.5')
    assert error == ''

    h, w = cv2.imread(str(image)).shape[:2]
    model = init_refer_model(str(DEMO_CONFIG), str(tiny_checkpoint))
    model.threshold = 0.5
    expected = inference_refer(model, str(image), SENTENCES)
    for i, result in enumerate(expected):
        mask = cv2.imread(str(out / f'{image.stem}_{i}_mask.png'),
                          cv2.IMREAD_GRAYSCALE)
        assert mask.shape == (h, w)
        assert set(np.unique(mask)) <= {0, 255}
        np.testing.assert_array_equal(
            mask // 255, result.pred_sem_seg.data[0].numpy())
        vis = cv2.imread(str(out / f'{image.stem}_{i}_overlay.png'))
        assert vis is not None and vis.shape[1] >= w

    # a second call must not overwrite what the first wrote
    before = (out / f'{image.stem}_0_mask.png').read_bytes()
    error = _demo(image, 'the blue shape', DEMO_CONFIG, tiny_checkpoint,
                  '--out', out)
    assert 'exists' in error and '--overwrite' in error
    assert (out / f'{image.stem}_0_mask.png').read_bytes() == before


@pytest.mark.parametrize('case', ['missing', 'corrupt', 'empty', 'mismatch'])
def test_demo_cli_clear_errors(case, refshapes_root, tiny_checkpoint,
                               tmp_path):
    image, text, ckpt = _first_val_image(refshapes_root), 'the red shape', \
        tiny_checkpoint
    if case == 'missing':
        image = tmp_path / 'nope.png'
    elif case == 'corrupt':
        image = tmp_path / 'corrupt.png'
        image.write_bytes(b'not a png')
    elif case == 'empty':
        text = '   '
    else:  # a checkpoint of a different model
        state = torch.load(tiny_checkpoint, weights_only=True)['state_dict']
        state.pop(next(k for k in state if k.startswith('decode_head')))
        ckpt = tmp_path / 'other.pth'
        torch.save(dict(state_dict=state), ckpt)
    message = _demo(image, text, DEMO_CONFIG, ckpt, '--out', tmp_path / 'o')
    expected = {'missing': 'image not found', 'corrupt': 'cannot read image',
                'empty': 'sentence 1 is empty',
                'mismatch': 'does not match the config'}[case]
    assert expected in message and '\n' not in message
    assert not (tmp_path / 'o').exists()
