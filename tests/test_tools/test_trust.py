"""What the tools refuse: crafted or foreign checkpoints, lost or overwritten
outputs, truncated checkpoints and images; each as one line, exit != 0."""
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from projects.risam.registry import MODELS

from .conftest import DEMO_CONFIG, REPO, data_options

# torch's switch back to full unpickling; spelled in pieces so that the
# guard in tests/test_utils/test_resume.py does not match this file
FORCE_UNSAFE = 'TORCH_FORCE_NO_' + 'WEIGHTS_ONLY_LOAD'

TOOLS = dict(demo='tools/demo.py', test='tools/test.py',
             train='tools/train.py',
             cache='tools/analysis_tools/cache_features.py')


class FileCreator:
    """Unpickling this creates ``path`` (an attacker's payload)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def crafted_checkpoint(path: Path, marker: Path) -> Path:
    """An mmengine-looking checkpoint whose unpickling creates ``marker``
    (tests/test_utils/test_checkpoint.py shows the payload works)."""
    torch.save(dict(state_dict={'w': torch.zeros(1)}, meta=dict(
        payload=FileCreator(str(marker)))), path)
    return path


def tool(name: str, *args) -> str:
    """Run a tool in-process; return its exit message ('' = success)."""
    argv = sys.argv
    sys.argv = [TOOLS[name], *map(str, args)]
    try:
        runpy.run_path(str(REPO / TOOLS[name]), run_name='__main__')
    except SystemExit as e:
        return '' if e.code in (None, 0) else str(e.code)
    finally:
        sys.argv = argv
    return ''


def _val_image(root: Path) -> Path:
    return sorted((root / 'images').glob('*.png'))[8]


def _short_train(root: Path) -> list:
    return ['--cfg-options', *data_options(root), 'train_cfg.max_iters=6',
            'train_cfg.val_interval=6', 'default_hooks.checkpoint.interval=2',
            'default_hooks.checkpoint.max_keep_ckpts=3',
            'default_hooks.logger.interval=1',
            'train_dataloader.batch_size=4', 'val_dataloader.batch_size=8',
            'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.persistent_workers=False']


@pytest.mark.parametrize('entry', ['demo', 'test', 'resume', 'load_from',
                                   'cache'])
def test_crafted_checkpoint_is_refused(entry, refshapes_root, tmp_path,
                                       monkeypatch):
    monkeypatch.setenv(FORCE_UNSAFE, '1')
    marker = tmp_path / 'pwned'
    evil = crafted_checkpoint(tmp_path / 'iter_2.pth', marker)
    data = ['--cfg-options', *data_options(refshapes_root)]
    if entry == 'demo':
        msg = tool('demo', _val_image(refshapes_root), 'the red shape',
                   DEMO_CONFIG, evil, '--out', tmp_path / 'out')
    elif entry == 'test':
        msg = tool('test', DEMO_CONFIG, evil, '--work-dir', tmp_path / 'w',
                   *data)
    elif entry == 'resume':  # the work dir's last checkpoint is the bad one
        (tmp_path / 'last_checkpoint').write_text(str(evil))
        msg = tool('train', DEMO_CONFIG, '--work-dir', tmp_path, '--resume',
                   *_short_train(refshapes_root))
    elif entry == 'load_from':
        msg = tool('train', DEMO_CONFIG, '--work-dir', tmp_path / 'w',
                   *_short_train(refshapes_root), f'load_from={evil}')
    else:
        msg = tool('cache', DEMO_CONFIG, '--split', 'val', '--out',
                   tmp_path / 'cache', '--checkpoint', evil, *data)
    assert msg, 'the tool exited 0'
    assert '\n' not in msg and 'Traceback' not in msg
    assert f'{evil}: refused to load io.open' in msg
    assert not marker.exists()


def test_crafted_checkpoint_real_process(refshapes_root, tmp_path):
    """The same as a user runs it: exit status 1, one line on stderr."""
    marker = tmp_path / 'pwned'
    evil = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    env = dict(os.environ, PYTHONPATH=str(REPO), **{FORCE_UNSAFE: '1'})
    run = subprocess.run(
        [sys.executable, TOOLS['demo'], str(_val_image(refshapes_root)),
         'the red shape', str(DEMO_CONFIG), str(evil), '--out',
         str(tmp_path / 'out')], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=300)
    assert run.returncode == 1
    lines = [s for s in run.stderr.splitlines() if s.strip()]
    assert len(lines) == 1 and 'refused to load io.open' in lines[0]
    assert not marker.exists()


def test_debug_flag_shows_the_error_itself(refshapes_root, tmp_path,
                                           monkeypatch):
    from projects.risam.utils.checkpoint import CheckpointError
    monkeypatch.setenv(FORCE_UNSAFE, '1')
    marker = tmp_path / 'pwned'
    evil = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    with pytest.raises(CheckpointError, match='refused to load io.open'):
        tool('demo', _val_image(refshapes_root), 'the red shape',
             DEMO_CONFIG, evil, '--out', tmp_path / 'out', '--debug')
    assert not marker.exists()


def _other_config_checkpoint(tmp_path):
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(DEMO_CONFIG)).model
    cfg.decode_head.num_layers = 1  # another config of the same family
    path = tmp_path / 'other.pth'
    torch.save(dict(state_dict=MODELS.build(cfg).state_dict(), meta={}),
               path)
    return path


def test_test_tool_refuses_checkpoint_of_another_config(
        refshapes_root, tmp_path, capsys):
    path = _other_config_checkpoint(tmp_path)
    msg = tool('test', DEMO_CONFIG, path, '--work-dir', tmp_path / 'w',
               '--out', tmp_path / 'm.json', '--cfg-options',
               *data_options(refshapes_root))
    assert f'checkpoint {path} does not match the config' in msg
    assert 'missing (decode_head.' in msg and '\n' not in msg
    assert 'oIoU' not in capsys.readouterr().out  # no table
    assert not (tmp_path / 'm.json').exists()


def test_cache_tool_refuses_checkpoint_of_another_config(
        refshapes_root, tmp_path):
    path = _other_config_checkpoint(tmp_path)
    msg = tool('cache', DEMO_CONFIG, '--split', 'val', '--out',
               tmp_path / 'cache', '--checkpoint', path, '--cfg-options',
               *data_options(refshapes_root))
    assert msg.startswith(f'cache_features.py: error: checkpoint {path} '
                          'does not match the config: ')
    assert 'missing (decode_head.' in msg
    assert not (tmp_path / 'cache').exists()


def test_test_tool_empty_checkpoint_is_one_line(refshapes_root, tmp_path):
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    msg = tool('test', DEMO_CONFIG, empty, '--work-dir', tmp_path / 'w',
               '--cfg-options', *data_options(refshapes_root))
    assert msg == f'test.py: error: {empty}: empty file, not a checkpoint'


def test_test_tool_out_is_checked_before_any_work(refshapes_root,
                                                  tiny_checkpoint, tmp_path):
    out = tmp_path / 'metrics.json'
    out.write_text('{"mine": 1}\n')
    before = out.read_bytes()
    work = tmp_path / 'w'
    args = [DEMO_CONFIG, tiny_checkpoint, '--work-dir', work, '--splits',
            'val', '--cfg-options', *data_options(refshapes_root)]
    msg = tool('test', *args, '--out', out)
    assert 'exists' in msg and '--overwrite' in msg and '\n' not in msg
    assert out.read_bytes() == before
    assert not work.exists()  # refused before the runner was built
    msg = tool('test', *args, '--out', tmp_path)
    assert 'is a folder' in msg and not work.exists()
    # --overwrite replaces it with the metrics
    assert tool('test', *args, '--out', out, '--overwrite') == ''
    assert set(json.loads(out.read_text())) == {'val'}


def test_demo_unwritable_out_fails(refshapes_root, tiny_checkpoint,
                                   tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cv2, 'imwrite', lambda *args, **kwargs: False)
    msg = tool('demo', _val_image(refshapes_root), 'the red shape',
               DEMO_CONFIG, tiny_checkpoint, '--out', tmp_path / 'out')
    assert msg.startswith('demo: error: could not write ')
    assert '_0_overlay.png' in msg and '\n' not in msg
    assert ' px -> ' not in capsys.readouterr().out  # nothing reported


def test_truncated_image_is_one_line_naming_it(refshapes_root, tmp_path):
    root = tmp_path / 'refshapes'
    shutil.copytree(refshapes_root, root)
    image = _val_image(root)
    jpeg = cv2.imencode('.jpg', cv2.imread(str(image)))[1].tobytes()
    image.write_bytes(jpeg[:len(jpeg) // 2])  # a download cut short
    msg = tool('test', DEMO_CONFIG, tmp_path / 'none.pth', '--cfg-options',
               *data_options(root))
    assert 'checkpoint not found' in msg  # checked before any work
    init_default_scope('mmseg')
    torch.manual_seed(1)
    model = MODELS.build(Config.fromfile(str(DEMO_CONFIG)).model)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    msg = tool('test', DEMO_CONFIG, ckpt, '--work-dir', tmp_path / 'w',
               '--splits', 'val', '--cfg-options', *data_options(root))
    assert msg.startswith(f'test.py: error: {image} [')
    assert 'truncated image' in msg and '\n' not in msg


def _val_metrics(ckpt: Path, root: Path, out: Path) -> dict:
    """tools/test.py on the val split of ``root``: the metric dict."""
    assert tool('test', DEMO_CONFIG, ckpt, '--splits', 'val', '--work-dir',
                out.parent / f'{out.stem}_work', '--out', out,
                '--cfg-options', *data_options(root)) == ''
    return json.loads(out.read_text())['val']


@pytest.mark.slow
def test_resume_skips_truncated_last_checkpoint(refshapes_root, tmp_path,
                                                capsys):
    work = tmp_path / 'work'
    opts = _short_train(refshapes_root)
    assert tool('train', DEMO_CONFIG, '--work-dir', work, *opts) == ''
    final = torch.load(work / 'iter_6.pth', weights_only=True)['state_dict']
    straight = _val_metrics(work / 'iter_6.pth', refshapes_root,
                            tmp_path / 'straight.json')
    data = (work / 'iter_6.pth').read_bytes()
    (work / 'iter_6.pth').write_bytes(data[:len(data) // 2])  # disk full
    capsys.readouterr()

    assert tool('train', DEMO_CONFIG, '--work-dir', work, '--resume',
                *opts) == ''
    logs = capsys.readouterr().out + ''.join(
        p.read_text() for p in work.glob('*/*.log'))
    assert (f'resume: skipped {work / "iter_6.pth"} (missing, truncated or '
            f'damaged); resuming from {work / "iter_4.pth"}') in logs
    assert 'Iter(train) [5/6]' in logs
    again = torch.load(work / 'iter_6.pth', weights_only=True)['state_dict']
    assert again.keys() == final.keys()
    for key, value in final.items():
        torch.testing.assert_close(again[key], value, rtol=0, atol=0,
                                   msg=key)
    resumed = _val_metrics(work / 'iter_6.pth', refshapes_root,
                           tmp_path / 'resumed.json')
    assert resumed == straight and set(straight) >= {'oIoU', 'mIoU'}
    # with nothing intact left, one line
    for path in work.glob('iter_*.pth'):
        path.write_bytes(b'')
    msg = tool('train', DEMO_CONFIG, '--work-dir', work, '--resume', *opts)
    assert msg.startswith('train.py: error: cannot resume from ')
    assert 'no intact checkpoint' in msg and '\n' not in msg


def test_tools_load_strictly_through_one_function():
    """No tool reads a checkpoint by itself or with mmengine's non-strict
    load_checkpoint."""
    for name in ('demo', 'test', 'cache'):
        text = (REPO / TOOLS[name]).read_text()
        assert 'load_checkpoint(' not in text and 'torch.load' not in text
    assert 'load_strict(' in (REPO / TOOLS['test']).read_text()
    assert 'load_strict(' in (REPO / TOOLS['cache']).read_text()
