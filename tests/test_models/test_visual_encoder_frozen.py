"""A frozen RISAMVisualEncoder backbone (Tab. 7 ViT-B and Swin-B): its
``init_cfg`` file loads when it is built, so checkpoints leave it out, and
it runs in bf16 when the config asks."""
from pathlib import Path

import mmpretrain.models  # noqa: F401  (registers mmpretrain's backbones)
import pytest
import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from projects.risam.models.backbones import RISAMVisualEncoder
from projects.risam.models.backbones.encoder_dtype import cpu_has_native_bf16
from projects.risam.utils.checkpoint import (
    fill_frozen_weights,
    frozen_pretrained_prefixes,
    leave_out_frozen_weights,
)
from projects.risam.utils.encoder_files import encoder_files, use_checkpoint_for_missing

REPO = Path(__file__).resolve().parents[2]
VIT = dict(type='mmpretrain.VisionTransformer',
           arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                     feedforward_channels=64),
           img_size=32, patch_size=8, out_indices=(0, 1),
           out_type='featmap')


@pytest.fixture
def vit_file(tmp_path):
    """A published-style mmpretrain checkpoint: ``backbone.*`` and a head."""
    torch.manual_seed(1)
    src = RISAMVisualEncoder(backbone=dict(VIT)).backbone
    with torch.no_grad():
        for p in src.parameters():
            p.normal_()
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(3, 32)
    path = tmp_path / 'vit.pth'
    torch.save(dict(state_dict=state, meta={}), path)
    return str(path), src.state_dict()


def _encoder(path, **kw) -> RISAMVisualEncoder:
    torch.manual_seed(0)
    backbone = dict(VIT, init_cfg=dict(type='Pretrained', checkpoint=path,
                                       prefix='backbone.'))
    return RISAMVisualEncoder(backbone=backbone, **kw)


def test_frozen_backbone_loads_its_file_when_built(vit_file):
    path, want = vit_file
    enc = _encoder(path, frozen_backbone=True)
    for k, v in enc.backbone.state_dict().items():
        assert torch.equal(v, want[k]), k
    assert enc.frozen_pretrained_prefixes == ('backbone.', )
    enc.init_weights()  # mmengine's call in training leaves it alone
    for k, v in enc.backbone.state_dict().items():
        assert torch.equal(v, want[k]), k


def test_trained_backbone_loads_at_init_weights_only(vit_file):
    path, want = vit_file
    enc = _encoder(path)  # not frozen: mmengine's init_weights loads it
    assert not torch.equal(enc.backbone.state_dict()['patch_embed.projection'
                                                     '.weight'],
                           want['patch_embed.projection.weight'])
    assert enc.frozen_pretrained_prefixes == ()
    enc.init_weights()
    assert torch.equal(enc.backbone.state_dict()['patch_embed.projection'
                                                 '.weight'],
                       want['patch_embed.projection.weight'])


def test_checkpoints_leave_the_frozen_backbone_out(vit_file):
    path, want = vit_file
    model = nn.Module()
    model.backbone = _encoder(path, frozen_backbone=True)
    model.head = nn.Linear(2, 2)
    assert frozen_pretrained_prefixes(model) == ('backbone.backbone.', )
    full = model.state_dict()
    ckpt = dict(state_dict=dict(full), meta={})
    left = leave_out_frozen_weights(ckpt, model)
    assert left == len(want) and set(ckpt['state_dict']) == {
        'head.weight', 'head.bias'}
    assert fill_frozen_weights(ckpt, model, strict=True) == len(want)
    assert all(torch.equal(ckpt['state_dict'][k], v)
               for k, v in full.items())


def test_the_file_is_an_encoder_file(tmp_path):
    """Tools name it when missing, and a full checkpoint stands in."""
    cfg = ConfigDict(backbone=dict(
        type='risam.RISAMVisualEncoder', frozen_backbone=True,
        backbone=dict(VIT, init_cfg=dict(type='Pretrained',
                                         checkpoint='nowhere/vit.pth',
                                         prefix='backbone.'))))
    (file, ) = encoder_files(cfg)
    assert file.key == 'model.backbone.backbone.init_cfg.checkpoint'
    assert file.module == 'backbone.backbone' and file.missing
    full = tmp_path / 'full.pth'
    torch.save(dict(state_dict={}, meta={}), full)
    assert use_checkpoint_for_missing(cfg, str(full)) == [file]
    assert cfg.backbone.backbone.init_cfg.checkpoint is None
    trained = ConfigDict(backbone=dict(cfg.backbone, frozen_backbone=False))
    assert encoder_files(trained) == []


def test_bf16_frozen_backbone(vit_file):
    path, _ = vit_file
    with pytest.raises(ValueError, match='frozen backbone'):
        _encoder(path, encoder_dtype='bf16')
    if not cpu_has_native_bf16():
        pytest.skip('no native bf16 on this CPU (falls back to fp32)')
    ref = _encoder(path, frozen_backbone=True)
    enc = _encoder(path, frozen_backbone=True, encoder_dtype='bf16')
    qkv = enc.backbone.layers[0].attn.qkv
    assert qkv.weight.dtype == torch.bfloat16
    assert enc.backbone.ln1.weight.dtype == torch.float32
    assert enc.fingerprint()['encoder_dtype'] == 'bf16'
    assert 'encoder_dtype' not in ref.fingerprint()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, want = enc.encode(x), ref.encode(x)
    for g, w in zip(got, want):
        assert g.dtype == torch.float32
        rel = ((g - w).norm() / w.norm()).item()
        assert 1e-5 < rel < 3e-2, rel


def _frozen_encoders(node, path='model'):
    """(path, dtype) of every frozen encoder in a model config."""
    if isinstance(node, dict):
        kind = node.get('type')
        if kind == 'risam.SAMBackbone' and node.get('frozen', True):
            yield path, node.get('encoder_dtype', 'fp32')
        if kind == 'risam.RISAMVisualEncoder' and node.get(
                'frozen_backbone') and node['backbone'].get(
                    'type') != 'risam.SAMBackbone':
            yield path, node.get('encoder_dtype', 'fp32')
        for k, v in node.items():
            yield from _frozen_encoders(v, f'{path}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _frozen_encoders(v, f'{path}[{i}]')


PAPER_CONFIGS = sorted(
    p for p in (REPO / 'configs/risam').rglob('*.py')
    if '_base_' not in p.parts and not p.name.startswith('risam_tiny'))


@pytest.mark.parametrize('path', PAPER_CONFIGS, ids=lambda p: p.stem)
def test_every_paper_config_runs_its_frozen_encoders_in_bf16(path):
    cfg = Config.fromfile(str(path)).to_dict()
    found = list(_frozen_encoders(cfg['model']))
    assert found, f'{path.name}: no frozen image encoder'
    assert all(dtype == 'bf16' for _, dtype in found), found
