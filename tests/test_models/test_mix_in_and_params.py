"""RISAM parts behind another backbone; get_params.py counts."""
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmengine.utils import import_modules_from_strings
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

MIXIN = 'tests/data/configs/risam_parts_resnet18.py'
TINY = 'configs/risam/_base_/models/risam_tiny.py'


def _data():
    samples = []
    for text in ['left half', 'the whole right side of it']:
        ds = SegDataSample(metainfo=dict(text=text, img_shape=(128, 128),
                                         ori_shape=(128, 128)))
        gt = torch.zeros(1, 128, 128, dtype=torch.uint8)
        gt[..., :64] = 1
        ds.gt_sem_seg = PixelData(data=gt)
        samples.append(ds)
    return dict(inputs=[torch.randint(0, 256, (3, 128, 128),
                                      dtype=torch.uint8)] * 2,
                data_samples=samples)


def test_fusion_and_decoder_behind_resnet_train_a_step():
    cfg = Config.fromfile(MIXIN)
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    # the optimizer holds exactly the trainable parameters
    in_optim = {id(p) for g in optim.optimizer.param_groups
                for p in g['params']}
    assert in_optim == {id(p) for p in model.parameters() if p.requires_grad}
    before = model.neck.blocks[0].visual_proj.weight.detach().clone()
    frozen_before = model.text_encoder.text.ln_final.weight.detach().clone()
    log = model.train_step(_data(), optim)
    assert torch.isfinite(log['loss'])
    assert not torch.equal(before, model.neck.blocks[0].visual_proj.weight)
    assert torch.equal(frozen_before, model.text_encoder.text.ln_final.weight)


def test_get_params_tiny_config():
    out = subprocess.run(
        [sys.executable, 'tools/analysis_tools/get_params.py', TINY,
         '--depth', '1'],
        capture_output=True, text=True, check=True).stdout
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(TINY).model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters()
                 if not p.requires_grad)
    total_line = [ln for ln in out.splitlines() if ln.startswith('total')][0]
    assert total_line.split()[1:] == [f'{trainable:,}', f'{frozen:,}']
    text_line = [ln for ln in out.splitlines()
                 if ln.startswith('text_encoder')][0]
    assert text_line.split()[1] == '0'  # frozen tower
