"""ONNX export of a config whose frozen encoder runs in bf16 (the paper
configs): the tool exports the encoder in fp32 and says so, and the graphs
pass the onnxruntime check against the fp32 model."""
import json
import runpy
import sys
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'


def test_bf16_encoder_config_exports_in_fp32(tmp_path, capsys):
    cfg_file = tmp_path / 'tiny_bf16.py'
    cfg_file.write_text(f"_base_ = ['{TINY.as_posix()}']\n"
                        "model = dict(backbone=dict(encoder_dtype='bf16'))\n")
    init_default_scope('mmseg')
    torch.manual_seed(1)
    model = MODELS.build(Config.fromfile(str(TINY)).model)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out = tmp_path / 'onnx'
    argv = sys.argv
    sys.argv = ['export_onnx.py', str(cfg_file), str(ckpt), '--out', str(out)]
    try:
        runpy.run_path(str(REPO / 'tools/deployment/export_onnx.py'),
                       run_name='__main__')
    finally:
        sys.argv = argv
    printed = capsys.readouterr().out
    assert ('the config runs its frozen encoder in bf16; exporting it in '
            'fp32') in printed
    assert 'check passed' in printed
    meta = json.loads((out / 'risam_onnx.json').read_text())
    assert meta['features'] == [[64, 16, 16]]
