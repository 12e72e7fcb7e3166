"""tools/test.py --splits for every dataset type: PhraseCut reads a split as
a file (refer_<split>.json), refer-format datasets as the refs' split field;
an unknown split is a one-line error naming the valid ones."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from projects.risam.datasets import GReferDataset, PhraseCutDataset, ReferDataset

from .conftest import DEMO_CONFIG, REPO
from .test_test_tool import run_tool

# (task_id, image_id, phrase, instances: [instance][polygon][[x, y]...])
TEST_TASKS = [
    ('1__1', 1, 'the large left square region of the picture',
     [[[[0, 0], [30, 0], [30, 40], [0, 40]]]]),
    ('1__2', 1, 'two right boxes',
     [[[[34, 2], [46, 2], [46, 18]]], [[[32, 22], [47, 22], [47, 38],
                                         [32, 38]]]]),
    ('2__1', 2, 'top band', [[[[0, 0], [40, 0], [40, 12], [0, 12]]]]),
]
VAL_TASKS = [('2__9', 2, 'bottom', [[[[0, 20], [40, 20], [40, 30]]]])]
SIZES = {1: (40, 48), 2: (30, 40)}  # image_id: (h, w)


def _write_tasks(path, tasks):
    path.write_text(json.dumps([
        dict(task_id=t, image_id=i, phrase=p, ann_ids=list(range(len(inst))),
             instance_boxes=[], Polygons=inst) for t, i, p, inst in tasks]))


@pytest.fixture(scope='module')
def phrasecut_root(tmp_path_factory):
    """A PhraseCut-format folder: refer_test.json, refer_val.json and
    images/<image_id>.jpg."""
    root = tmp_path_factory.mktemp('phrasecut')
    (root / 'images').mkdir()
    rng = np.random.default_rng(0)
    for image_id, (h, w) in SIZES.items():
        cv2.imwrite(str(root / 'images' / f'{image_id}.jpg'),
                    rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    _write_tasks(root / 'refer_test.json', TEST_TASKS)
    _write_tasks(root / 'refer_val.json', VAL_TASKS)
    return root


@pytest.fixture(scope='module')
def phrasecut_config(phrasecut_root, tmp_path_factory):
    """The tiny demo model with a PhraseCut test set configured on val."""
    path = tmp_path_factory.mktemp('cfg') / 'tiny_phrasecut.py'
    path.write_text(f'''
_base_ = [{str(DEMO_CONFIG)!r}]
test_splits = None
test_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='risam.PhraseCutDataset',
        data_root={str(phrasecut_root)!r},
        ann_file='refer_val.json',
        data_prefix=dict(img_path='images'),
        max_words=5,
        test_mode=True,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(128, 128), keep_ratio=True),
            dict(type='risam.LoadReferAnnotations'),
            dict(type='PackSegInputs',
                 meta_keys={{{{_base_.refer_meta_keys}}}}),
        ]))
''')
    return path


def _gt(instances, h, w):
    polys = [[float(c) for xy in p for c in xy] for inst in instances
             for p in inst]
    return mask_utils.decode(mask_utils.merge(
        mask_utils.frPyObjects(polys, h, w))).astype(bool)


def test_phrasecut_split_is_a_file_end_to_end(phrasecut_root,
                                              phrasecut_config,
                                              tiny_checkpoint, tmp_path):
    """``python tools/test.py CFG CKPT --splits test`` on PhraseCut reads
    refer_test.json (not the configured refer_val.json), and its per-sample
    IoUs equal the checkpoint's predictions scored by hand."""
    out, dump = tmp_path / 'metrics.json', tmp_path / 'samples.json'
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', str(phrasecut_config),
         str(tiny_checkpoint), '--splits', 'test', '--work-dir',
         str(tmp_path / 'work'), '--out', str(out), '--cfg-options',
         f'test_evaluator.dump_file={dump}'],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads(out.read_text())
    assert list(metrics) == ['test']
    rows = json.loads((tmp_path / 'samples_test.json').read_text())
    assert [r['sample_id'] for r in rows] == [t[0] for t in TEST_TASKS]
    # max_words=5 of the config
    assert rows[0]['text'] == 'the large left square region'

    from projects.risam.apis import inference_refer, init_refer_model
    torch.manual_seed(0)
    model = init_refer_model(str(phrasecut_config), str(tiny_checkpoint))
    inter = union = 0
    for row, (_, image_id, _, instances) in zip(rows, TEST_TASKS):
        pred = inference_refer(model, str(phrasecut_root / 'images' /
                                          f'{image_id}.jpg'),
                               [row['text']])[0].pred_sem_seg.data[0]
        pred = pred.numpy().astype(bool)
        gt = _gt(instances, *SIZES[image_id])
        i, u = int((pred & gt).sum()), int((pred | gt).sum())
        inter, union = inter + i, union + u
        assert row['iou'] == pytest.approx(i / u, abs=1e-3), row
    assert metrics['test']['oIoU'] == pytest.approx(100 * inter / union,
                                                    abs=0.1)
    # a model that predicts nothing would make every IoU 0
    assert union > inter > 0


def test_without_splits_the_dataset_is_tested_as_configured(
        phrasecut_config, tiny_checkpoint, tmp_path):
    out = tmp_path / 'metrics.json'
    run_tool('test.py', phrasecut_config, tiny_checkpoint, '--work-dir',
             tmp_path / 'work', '--out', out, '--cfg-options',
             f'test_evaluator.dump_file={tmp_path}/samples.json')
    assert list(json.loads(out.read_text())) == ['val']
    rows = json.loads((tmp_path / 'samples_val.json').read_text())
    assert [r['sample_id'] for r in rows] == ['2__9']


@pytest.mark.parametrize('split', ['testA', 'tset'])
def test_unknown_phrasecut_split_is_one_line_naming_valid_ones(
        phrasecut_config, tiny_checkpoint, tmp_path, split):
    with pytest.raises(SystemExit) as err:
        run_tool('test.py', phrasecut_config, tiny_checkpoint, '--splits',
                 'test', split, '--work-dir', tmp_path)
    message = str(err.value)
    assert '\n' not in message
    assert f'unknown split {split!r}' in message
    assert 'train, val, test, miniv' in message


def test_unknown_refer_split_and_split_absent_from_file(
        refshapes_root, tiny_checkpoint, tmp_path):
    opts = ['--cfg-options', f'test_dataloader.dataset.data_root={refshapes_root}']
    with pytest.raises(SystemExit, match=r"^test.py: error: ReferDataset: unknown "
                       r"split 'tset' \(valid: train, val, test, testA"):
        run_tool('test.py', DEMO_CONFIG, tiny_checkpoint, '--splits', 'tset',
                 '--work-dir', tmp_path, *opts)
    # 'test' is a refer split, but RefShapes (unc layout) has none
    with pytest.raises(SystemExit) as err:
        run_tool('test.py', DEMO_CONFIG, tiny_checkpoint, '--splits', 'test',
                 '--work-dir', tmp_path, *opts)
    assert '\n' not in str(err.value)
    assert "no refs in split 'test' (present: testA, testB, train, val)" \
        in str(err.value)


def test_split_config_per_dataset_type():
    """The rule each dataset type uses for a split, and its valid ones."""
    pc = PhraseCutDataset.split_config(
        dict(type='risam.PhraseCutDataset', ann_file='sub/refer_val.json'),
        'miniv')
    assert pc['ann_file'] == os.path.join('sub', 'refer_miniv.json')
    assert PhraseCutDataset.configured_split(pc) == 'miniv'
    cfg = dict(type='risam.ReferDataset', split='val')
    assert ReferDataset.split_config(cfg, 'testB')['split'] == 'testB'
    assert cfg['split'] == 'val'  # the config is not changed
    with pytest.raises(ValueError, match=r"GReferDataset: unknown split "
                       r"'test' \(valid: train, val, testA, testB\)"):
        GReferDataset.split_config(cfg, 'test')
