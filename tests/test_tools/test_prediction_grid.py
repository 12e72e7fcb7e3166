"""tools/analysis_tools/prediction_grid.py: Fig. 6 from three tiny
checkpoints (MA, SDF and BCM necks), samples picked by the first model's
IoU, and one-line errors for bad CONFIG CKPT arguments. (Which samples are
picked, and how the grid is drawn: tests/test_visualization.)"""
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

from projects.risam.apis import init_refer_model
from projects.risam.datasets.refshapes import generate_refshapes
from projects.risam.visualization import overlay, pick_by_iou, predict
from projects.risam.visualization.prediction_grid import LABEL_WIDTH
from projects.risam.visualization.sample_picking import group_label, pick_samples

from .conftest import DEMO_CONFIG, data_options

TOOL = 'analysis_tools/prediction_grid.py'
NECKS = {'sdf': 'risam.SpatialDynamicFusion',
         'bcm': 'risam.BidirectionalCrossModalFusion'}


@pytest.fixture(scope='module')
def three_models(tiny_checkpoint, tmp_path_factory):
    """(config, checkpoint) of the demo config with its MA neck, and with
    the SDF and the BCM neck of Tab. 3 in its place; seeded random
    weights."""
    tmp = tmp_path_factory.mktemp('necks')
    pairs = [(str(DEMO_CONFIG), str(tiny_checkpoint))]
    init_default_scope('mmseg')
    for seed, (name, neck) in enumerate(NECKS.items(), start=2):
        config = tmp / f'{name}_tiny.py'
        config.write_text(
            f"_base_ = ['{DEMO_CONFIG}']\n"
            f"model = dict(neck=dict(_delete_=True, type='{neck}', "
            "in_channels=64, text_channels=64, channels=64, num_blocks=1))\n")
        torch.manual_seed(seed)
        model = MODELS.build(Config.fromfile(str(config)).model)
        ckpt = tmp / f'{name}.pth'
        torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
        pairs.append((str(config), str(ckpt)))
    return pairs


@pytest.fixture(scope='module')
def one_image_refshapes(tmp_path_factory):
    """RefShapes whose val split is one image with 10 sentences (the
    frozen encoder then runs once per batch)."""
    root = tmp_path_factory.mktemp('refshapes_one_val_image')
    generate_refshapes(str(root), train=1, val=1, test=2, seed=0,
                       progress=False)
    return root


def _config(path, root):
    cfg = Config.fromfile(path)
    cfg.model.threshold = 0.5  # random weights: masks differ per model
    cfg.test_dataloader.dataset.data_root = str(root)
    return cfg


def test_fig6_grid_of_three_models_on_the_worst_samples(
        three_models, one_image_refshapes, tmp_path, tool_exit, capsys):
    out = tmp_path / 'fig6.png'
    args = [p for pair in three_models for p in pair]
    assert tool_exit(
        TOOL, *args, '--labels', 'MA', 'SDF', 'BCM', '--pick', 'worst',
        '--num', '2', '--candidates', '4', '--out', out, '--cfg-options',
        'model.threshold=0.5', *data_options(one_image_refshapes)) == ''
    printed = re.search(r'worst 2 of 4 samples by the IoU of MA: (.*)\n',
                        capsys.readouterr().out).group(1)

    # the same, computed here: MA ranks 4 samples, one of each type
    cfgs = [_config(c, one_image_refshapes) for c, _ in three_models]
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfgs[0].test_dataloader.dataset)
    pool = pick_samples([group_label(dataset.get_data_info(i))
                         for i in range(len(dataset))], 4)
    models = [init_refer_model(cfg, ckpt)
              for cfg, (_, ckpt) in zip(cfgs, three_models)]
    ranked = predict(models[0], dataset, pool)
    ious = [p.iou for p in ranked]
    worst = [pool[k] for k in pick_by_iou(ious, 2, 'worst')]
    ordered = sorted(ious)
    assert ordered[1] < ordered[2]  # a real choice was made
    assert printed == ', '.join(
        f'{i} ({ious[pool.index(i)]:.3f})' for i in worst)

    image = cv2.imread(str(out))
    preds = [[ranked[pool.index(i)] for i in worst]] + [
        predict(m, dataset, worst) for m in models[1:]]
    assert not np.array_equal(preds[0][0].pred, preds[1][0].pred)
    assert not np.array_equal(preds[1][0].pred, preds[2][0].pred)
    head = image.shape[0] - 2 * 384
    assert image.shape[1] == LABEL_WIDTH + 3 * 384
    for r in range(2):
        img = cv2.imread(preds[0][r].img_path)
        for j in range(3):
            p = preds[j][r]
            assert p.index == worst[r]
            cell = image[head + 384 * r:head + 384 * (r + 1),
                         LABEL_WIDTH + 384 * j:LABEL_WIDTH + 384 * (j + 1)]
            assert (cell == overlay(img, p.pred, None, gt=p.gt)).all()


@pytest.mark.parametrize('args, message', [
    (['a.py', 'a.pth', 'b.py'],
     'expected CONFIG CKPT pairs, got 3 path(s): a.py a.pth b.py'),
    (['a.py', 'a.pth', 'b.py', 'b.pth', '--labels', 'MA'],
     '--labels gives 1 label(s) (MA) for 2 model(s)'),
])
def test_bad_model_arguments_give_one_line(args, message, tmp_path,
                                           tool_exit):
    error = tool_exit(TOOL, *args, '--out', tmp_path / 'x.png')
    assert error == f'prediction_grid.py: error: {message}'
    assert not (tmp_path / 'x.png').exists()
