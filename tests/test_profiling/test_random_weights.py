"""projects.risam.profiling.random_weights: official-format random files."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from projects.risam.profiling import random_weights
from projects.risam.profiling.random_weights import (
    missing_frozen_weights,
    use_random_weights,
    write_random_weights,
)


def test_random_sam_weights_official_format(tmp_path):
    """The random SAM file has segment_anything's own keys and shapes."""
    from segment_anything import sam_model_registry
    path = tmp_path / 'sam.pth'
    size = write_random_weights('segment_anything', 'vit_b', str(path))
    assert size == path.stat().st_size
    state = torch.load(path, weights_only=True)
    ref = sam_model_registry['vit_b']().state_dict()
    assert {k: v.shape for k, v in state.items()} == {
        k: v.shape for k, v in ref.items()}
    assert any(k.startswith('image_encoder.blocks.11.') for k in state)


def _model(tmp_path, **backbone) -> dict:
    return dict(
        backbone=dict(type='risam.SAMBackbone', arch='vit_b',
                      checkpoint=str(tmp_path / 'sam_vit_b.pth'), **backbone),
        text_encoder=dict(type='risam.CLIPTokenEncoder',
                          model_name='ViT-B-16',
                          pretrained=str(tmp_path / 'clip.bin')))


def test_missing_files_are_listed_and_existing_ones_kept(tmp_path):
    model = _model(tmp_path)
    assert missing_frozen_weights(model) == [
        dict(key='model.backbone.checkpoint',
             path=str(tmp_path / 'sam_vit_b.pth'), kind='segment_anything',
             arch='vit_b'),
        dict(key='model.text_encoder.pretrained',
             path=str(tmp_path / 'clip.bin'), kind='open_clip',
             arch='ViT-B-16')]
    (tmp_path / 'clip.bin').write_bytes(b'')
    assert [m['kind'] for m in missing_frozen_weights(model)] == [
        'segment_anything']
    model['backbone']['arch'] = dict(embed_dim=64)
    with pytest.raises(FileNotFoundError, match='arch is not one of'):
        missing_frozen_weights(model)
    with pytest.raises(ValueError, match="unknown weights kind 'x'"):
        write_random_weights('x', 'vit_b', str(tmp_path / 'x.pth'))


def test_use_random_weights_points_the_config_at_them(tmp_path,
                                                     monkeypatch):
    """The written file carries the missing file's name, and the config's
    key names it; an existing file is left as it is."""
    calls = []

    def fake_write(kind, arch, path, seed=0):  # the file itself: above
        calls.append((kind, arch))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b'x' * 123)
        return 123

    monkeypatch.setattr(random_weights, 'write_random_weights', fake_write)
    (tmp_path / 'clip.bin').write_bytes(b'')
    cfg = Config(dict(model=_model(tmp_path)))
    written = use_random_weights(cfg, str(tmp_path / 'weights'))
    assert [w['key'] for w in written] == ['model.backbone.checkpoint']
    path = tmp_path / 'weights' / 'sam_vit_b.pth'
    assert written[0]['written'] == str(path)
    assert written[0]['bytes'] == path.stat().st_size == 123
    assert calls == [('segment_anything', 'vit_b')]
    assert cfg.model.backbone.checkpoint == str(path)
    assert cfg.model.text_encoder.pretrained == str(tmp_path / 'clip.bin')
    assert missing_frozen_weights(cfg.model) == []
