"""Checkpoint reading: weights_only everywhere, unwrapping, strict loading
with the frozen-encoder exemption, and the intact-checkpoint check."""
import copy
import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from projects.risam.registry import MODELS
from projects.risam.utils.checkpoint import (
    CheckpointError,
    check_state_dict,
    frozen_pretrained_prefixes,
    is_intact_checkpoint,
    load_state_dict_file,
    load_strict,
    read_checkpoint,
    unwrap_state_dict,
)
from projects.risam.utils.resume import find_resume_checkpoint, resume_warning

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
# torch's switch back to full unpickling; spelled in pieces so that the
# guard in test_resume.py does not match this file
FORCE_UNSAFE = 'TORCH_FORCE_NO_' + 'WEIGHTS_ONLY_LOAD'


class FileCreator:
    """Unpickling this creates ``path`` (an attacker's payload)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def crafted_checkpoint(path: Path, marker: Path) -> Path:
    """An mmengine-looking checkpoint whose unpickling creates ``marker``."""
    torch.save(dict(state_dict={'w': torch.zeros(1)}, meta=dict(
        payload=FileCreator(str(marker)))), path)
    return path


def test_crafted_payload_is_real_and_refused(tmp_path, monkeypatch):
    marker = tmp_path / 'pwned'
    # the payload works when plain pickle runs it ...
    pickle.loads(pickle.dumps(FileCreator(str(marker)))).close()
    assert marker.exists()
    marker.unlink()
    # ... and is refused with unsafe loading forced on
    monkeypatch.setenv(FORCE_UNSAFE, '1')
    path = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    with pytest.raises(CheckpointError) as e:
        read_checkpoint(str(path))
    message = str(e.value)
    assert '\n' not in message and str(path) in message
    assert 'refused to load io.open' in message
    assert not marker.exists()
    # mmengine's own local loading (load_from, resume, Pretrained) too
    assert CheckpointLoader._get_checkpoint_loader(str(path)).__name__ == \
        'load_from_local_weights_only'
    with pytest.raises(CheckpointError, match='io.open'):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


@pytest.mark.parametrize('case', ['empty', 'truncated', 'text'])
def test_broken_files_are_one_line_errors(case, tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict={'w': torch.arange(1000.)}), path)
    data = path.read_bytes()
    path.write_bytes({'empty': b'', 'truncated': data[:len(data) // 2],
                      'text': b'hello'}[case])
    with pytest.raises(CheckpointError) as e:
        read_checkpoint(str(path))
    expected = 'empty file' if case == 'empty' else 'truncated or not a'
    assert expected in str(e.value) and '\n' not in str(e.value)
    assert not is_intact_checkpoint(str(path))
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        read_checkpoint(str(tmp_path / 'nope.pth'))


def test_unwrap_containers_ddp_and_prefix():
    w, b = torch.ones(2), torch.zeros(3)
    mm = dict(meta={}, state_dict={'module.head.w': w, 'module.head.b': b})
    assert unwrap_state_dict(mm) == {'head.w': w, 'head.b': b}
    assert unwrap_state_dict({'model': {'head.w': w}}) == {'head.w': w}
    sam = {'image_encoder.patch.w': w, 'mask_decoder.x': b}
    assert unwrap_state_dict(sam, prefix='image_encoder.') == {'patch.w': w}
    # a file of bare encoder keys is taken as the encoder's own
    assert unwrap_state_dict({'patch.w': w}, prefix='image_encoder.') == \
        {'patch.w': w}
    with pytest.raises(CheckpointError, match='no state dict'):
        unwrap_state_dict({'state_dict': {}}, source='x.pth')


def test_check_state_dict_names_the_first_keys():
    own = {f'k{i}': torch.zeros(2) for i in range(5)}
    state = dict(own)
    for k in ('k0', 'k1', 'k2', 'k3'):
        del state[k]
    state['extra'] = torch.zeros(1)
    state['k4'] = torch.zeros(3)
    with pytest.raises(CheckpointError) as e:
        check_state_dict(own, state, source='c.pth')
    msg = str(e.value)
    assert msg.startswith('checkpoint c.pth does not match the config')
    assert '4 missing (k0, k1, k2, ... 1 more)' in msg
    assert '1 unexpected (extra)' in msg
    assert 'k4: (3,) in the file, (2,) in the model' in msg
    # an exemption covers missing keys only
    check_state_dict(own, dict(own, k4=torch.zeros(2)), exempt=('k',))
    with pytest.raises(CheckpointError, match='of another shape'):
        check_state_dict(own, state, exempt=('k', 'extra'))


def _tiny_cfg():
    init_default_scope('mmseg')
    return Config.fromfile(str(DEMO_CONFIG)).model


def test_strict_load_exempts_frozen_encoders_with_own_files(tmp_path,
                                                          encoder_files):
    torch.manual_seed(0)
    trained = MODELS.build(_tiny_cfg())
    sam, clip = encoder_files(trained, tmp_path)
    # a RISAM checkpoint without the frozen encoders' weights
    slim = {k: v for k, v in trained.state_dict().items()
            if not k.startswith(('backbone.encoder.', 'text_encoder.text.'))}
    path = tmp_path / 'slim.pth'
    torch.save(dict(state_dict=slim, meta={}), path)

    cfg = _tiny_cfg()
    cfg.backbone.checkpoint = str(sam)
    cfg.text_encoder.pretrained = str(clip)
    torch.manual_seed(1)  # other random weights for the trained parts
    model = MODELS.build(cfg)
    assert frozen_pretrained_prefixes(model) == ('backbone.encoder.',
                                                 'text_encoder.text.')
    load_strict(model, str(path))
    for k, v in trained.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0,
                                   msg=k)

    # without its own file the encoder's weights must be in the checkpoint
    cfg.backbone.checkpoint = None
    cfg.text_encoder.pretrained = None
    bare = MODELS.build(cfg)
    assert frozen_pretrained_prefixes(bare) == ()
    with pytest.raises(CheckpointError, match=r'missing \(backbone.encoder'):
        load_strict(bare, str(path))
    # nor does the exemption cover a trainable text tower (Tab. 9)
    cfg.text_encoder.pretrained = str(clip)
    cfg.text_encoder.frozen = False
    assert 'text_encoder.text.' not in frozen_pretrained_prefixes(
        MODELS.build(cfg))


def test_strict_load_refuses_another_config(tmp_path):
    cfg = _tiny_cfg()
    other = copy.deepcopy(cfg)
    other.neck.num_blocks = 1
    path = tmp_path / 'other.pth'
    torch.save(dict(state_dict=MODELS.build(other).state_dict()), path)
    with pytest.raises(CheckpointError) as e:
        load_strict(MODELS.build(cfg), str(path))
    assert re.search(r'missing \(neck\.blocks\.1\.', str(e.value))


def test_encoder_loaders_share_the_unwrapping(tmp_path):
    """The SAM and CLIP file readers unwrap DDP/state_dict containers."""
    from projects.risam.models.backbones.sam_backbone import load_sam_image_encoder_state
    from projects.risam.models.text_encoders.clip_token_encoder import load_open_clip_text_state
    w = torch.randn(3)
    path = tmp_path / 'wrapped.pth'
    torch.save(dict(state_dict={'module.image_encoder.a': w,
                                'module.text.b': w, 'visual.c': w}), path)
    assert load_sam_image_encoder_state(str(path)).keys() == {'a'}
    assert load_open_clip_text_state(str(path)).keys() == \
        {'image_encoder.a', 'b'}
    assert load_state_dict_file(str(path), prefix='text.').keys() == {'b'}


def _save_numbered(work: Path, iters) -> None:
    work.mkdir(exist_ok=True)
    for i in iters:
        torch.save(dict(state_dict={'w': torch.full((100, ), float(i))},
                        meta=dict(iter=i)), work / f'iter_{i}.pth')
    (work / 'last_checkpoint').write_text(str(work / f'iter_{max(iters)}.pth'))


def test_resume_skips_truncated_checkpoints(tmp_path):
    work = tmp_path / 'work'
    _save_numbered(work, [2, 4, 6])
    assert find_resume_checkpoint(str(work)) == (str(work / 'iter_6.pth'),
                                                 [])
    for i in (6, 4):
        data = (work / f'iter_{i}.pth').read_bytes()
        (work / f'iter_{i}.pth').write_bytes(data[:len(data) - 100])
    path, skipped = find_resume_checkpoint(str(work))
    assert path == str(work / 'iter_2.pth')
    assert skipped == [str(work / 'iter_6.pth'), str(work / 'iter_4.pth')]
    warning = resume_warning(path, skipped)
    assert 'iter_6.pth' in warning and 'iter_4.pth' in warning
    assert warning.endswith(f'resuming from {path}')
    (work / 'iter_2.pth').write_bytes(b'')
    with pytest.raises(CheckpointError, match='no intact checkpoint'):
        find_resume_checkpoint(str(work))
    empty = tmp_path / 'fresh'
    empty.mkdir()
    assert find_resume_checkpoint(str(empty)) == (None, [])


def test_every_torch_load_asks_for_weights_only():
    offenders = []
    for folder in ('projects', 'tools', 'tests'):
        for path in (REPO / folder).rglob('*.py'):
            text = path.read_text()
            for match in re.finditer(r'torch\.load\(', text):
                depth, i = 1, match.end()
                while depth and i < len(text):
                    depth += {'(': 1, ')': -1}.get(text[i], 0)
                    i += 1
                if 'weights_only=True' not in text[match.end():i]:
                    line = text.count('\n', 0, match.start()) + 1
                    offenders.append(f'{path.relative_to(REPO)}:{line}')
    assert offenders == []


def test_import_registers_the_weights_only_loader():
    import projects.risam  # noqa: F401
    loader = CheckpointLoader._get_checkpoint_loader(os.path.abspath('x'))
    assert loader.__name__ == 'load_from_local_weights_only'
