"""ONNX export of a config whose frozen encoder runs in bf16 (the paper
configs): the tool exports the encoder in fp32 and says so, and the graphs
pass the onnxruntime check against the fp32 model."""
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'


def test_bf16_encoder_config_exports_in_fp32(tmp_path, capsys,
                                             tiny_checkpoint, export_tool):
    cfg_file = tmp_path / 'tiny_bf16.py'
    cfg_file.write_text(f"_base_ = ['{TINY.as_posix()}']\n"
                        "model = dict(backbone=dict(encoder_dtype='bf16'))\n")
    out = tmp_path / 'onnx'
    export_tool(cfg_file, tiny_checkpoint, out)
    printed = capsys.readouterr().out
    assert ('the config runs its frozen encoder in bf16; exporting it in '
            'fp32') in printed
    assert 'check passed' in printed
    meta = json.loads((out / 'risam_onnx.json').read_text())
    assert meta['features'] == [[64, 16, 16]]
