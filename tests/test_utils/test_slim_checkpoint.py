"""Checkpoints hold what was trained: the frozen encoders that the config
loads from their own files are left out at save (``best`` included), resume
and tools/test.py put them back from the files, a full checkpoint written by
tools/model_converters/full_checkpoint.py needs no files, and a missing file
is one line naming its config key in every tool."""
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from projects.risam.datasets.refshapes import generate_refshapes
from projects.risam.registry import MODELS
from projects.risam.utils.checkpoint import (
    FROZEN_META_KEY,
    CheckpointError,
    fill_frozen_weights,
    leave_out_frozen_weights,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
FROZEN = ('backbone.encoder.', 'text_encoder.text.')


@pytest.fixture(scope='module')
def files(tmp_path_factory, encoder_files):
    """RefShapes, the encoder files of a seeded tiny model, and a config
    that loads them (the paper configs' arrangement, at tiny size)."""
    root = tmp_path_factory.mktemp('slim')
    data = root / 'refshapes'
    generate_refshapes(str(data), train=8, val=2, test=2, seed=0,
                       progress=False)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    sam, clip = encoder_files(
        MODELS.build(Config.fromfile(str(DEMO_CONFIG)).model), root)
    config = root / 'tiny_with_files.py'
    config.write_text(
        f"_base_ = ['{DEMO_CONFIG}']\n"
        f"model = dict(backbone=dict(checkpoint='{sam}'),\n"
        f"             text_encoder=dict(pretrained='{clip}'))\n"
        f"train_dataloader = dict(batch_size=4, num_workers=0, "
        f"persistent_workers=False, dataset=dict(data_root='{data}'))\n"
        f"val_dataloader = dict(batch_size=8, num_workers=0, "
        f"persistent_workers=False, dataset=dict(data_root='{data}'))\n"
        "test_dataloader = val_dataloader\n"
        "train_cfg = dict(max_iters=4, val_interval=4)\n"
        "default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=3,"
        " save_best='oIoU', rule='greater'), logger=dict(interval=1))\n")
    missing = root / 'missing_sam.py'
    missing.write_text(f"_base_ = ['{config}']\nmodel = dict(backbone=dict("
                       f"checkpoint='{root}/no_such_sam.pth'))\n")
    return dict(root=root, data=data, sam=sam, clip=clip, config=config,
                missing=missing)


@pytest.fixture(scope='module')
def handmade_slim(files) -> Path:
    """The tiny model's checkpoint as the hook saves it, without training."""
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(str(files['config'])).model)
    ckpt = dict(meta={}, state_dict=model.state_dict())
    leave_out_frozen_weights(ckpt, model)
    path = files['root'] / 'handmade_slim.pth'
    torch.save(ckpt, path)
    return path


def _runner(config: Path, work_dir: Path, **options) -> Runner:
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(options)
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def trained(files):
    """4 iterations: iter_2, iter_4 and best_oIoU_iter_4 are saved."""
    work = files['root'] / 'work'
    runner = _runner(files['config'], work)
    runner.train()
    val = {k: runner.message_hub.get_scalar(f'val/{k}').current()
           for k in ('oIoU', 'mIoU')}
    return dict(work=work, val=val)


def _state(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.mark.slow  # a 4-iteration training
def test_saved_checkpoints_leave_the_frozen_encoders_out(files, trained):
    work = trained['work']
    names = sorted(p.name for p in work.glob('*.pth'))
    assert names == ['best_oIoU_iter_4.pth', 'iter_2.pth', 'iter_4.pth']
    init_default_scope('mmseg')
    full = MODELS.build(Config.fromfile(str(files['config'])).model)
    trained_keys = {k for k in full.state_dict() if not k.startswith(FROZEN)}
    assert len(trained_keys) < len(full.state_dict())
    for name in names:
        ckpt = _state(work / name)
        assert set(ckpt['state_dict']) == trained_keys, name
        assert ckpt['meta'][FROZEN_META_KEY] == list(FROZEN), name
        # mmengine saves a best checkpoint without the optimizer
        assert ('optimizer' in ckpt) == name.startswith('iter_'), name


@pytest.mark.slow  # a 4-iteration training
def test_resume_from_slim_checkpoint_ends_like_the_straight_run(
        files, trained, tmp_path):
    resumed = _runner(files['config'], tmp_path, resume=True,
                      load_from=str(trained['work'] / 'iter_2.pth'))
    resumed.train()
    assert resumed.iter == 4
    a = _state(trained['work'] / 'iter_4.pth')['state_dict']
    b = _state(tmp_path / 'iter_4.pth')['state_dict']
    assert a.keys() == b.keys()
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=0, msg=key)
    # the frozen encoders came back from their files
    sam = torch.load(files['sam'], weights_only=True)
    model = resumed.model
    torch.testing.assert_close(
        model.backbone.encoder.patch_embed.proj.weight,
        sam['image_encoder.patch_embed.proj.weight'], rtol=0, atol=0)


@pytest.mark.slow  # a 4-iteration training
def test_resume_refuses_a_checkpoint_that_lacks_trained_weights(
        files, trained, tmp_path):
    ckpt = _state(trained['work'] / 'iter_2.pth')
    key = next(k for k in ckpt['state_dict'] if k.startswith('decode_head.'))
    del ckpt['state_dict'][key]
    torch.save(ckpt, tmp_path / 'cut.pth')
    runner = _runner(files['config'], tmp_path / 'w', resume=True,
                     load_from=str(tmp_path / 'cut.pth'))
    with pytest.raises(CheckpointError, match=rf'1 missing \({key}\)'):
        runner.train()


@pytest.mark.slow  # a 4-iteration training
def test_test_tool_full_checkpoint_and_missing_file(tool_exit, files, trained,
                                                    tmp_path):
    slim = trained['work'] / 'iter_4.pth'
    out = tmp_path / 'slim.json'
    assert tool_exit('test.py', files['config'], slim, '--splits', 'val',
                     '--work-dir', tmp_path / 't1', '--out', out) == ''
    metrics = json.loads(out.read_text())['val']
    # the model that validation scored at iteration 4
    assert metrics['oIoU'] == pytest.approx(trained['val']['oIoU'], abs=0.01)
    assert metrics['mIoU'] == pytest.approx(trained['val']['mIoU'], abs=0.01)

    # a slim checkpoint without the SAM file: one line naming file and key
    msg = tool_exit('test.py', files['missing'], slim, '--work-dir',
                    tmp_path / 't2')
    assert msg == (f'test.py: error: encoder weights {files["root"]}/'
                   'no_such_sam.pth not found (config key '
                   f'model.backbone.checkpoint), and {slim} leaves those '
                   'weights out (a slim checkpoint); put the file there or '
                   'set the key, e.g. --cfg-options '
                   'model.backbone.checkpoint=PATH')

    # a slim checkpoint that does not say so: found out after the build
    unmarked = _state(slim)
    del unmarked['meta'][FROZEN_META_KEY]
    torch.save(unmarked, tmp_path / 'unmarked.pth')
    msg = tool_exit('test.py', files['missing'], tmp_path / 'unmarked.pth',
                    '--work-dir', tmp_path / 't4')
    init_default_scope('mmseg')
    n = sum(k.startswith('backbone.encoder.') for k in MODELS.build(
        Config.fromfile(str(files['config'])).model).state_dict())
    assert msg == (f'test.py: error: encoder weights {files["root"]}/'
                   'no_such_sam.pth not found (config key '
                   f'model.backbone.checkpoint), and {tmp_path}/unmarked.pth'
                   ' does not hold those weights (backbone.encoder.pos_embed,'
                   f' ... {n} entries); put the file there or set the key, '
                   'e.g. --cfg-options model.backbone.checkpoint=PATH')

    # one command writes a full checkpoint; it needs no encoder files
    full = tmp_path / 'full.pth'
    assert tool_exit('model_converters/full_checkpoint.py', files['config'],
                     slim, full) == ''
    state = _state(full)
    assert FROZEN_META_KEY not in state['meta']
    assert 'optimizer' in state
    sam = torch.load(files['sam'], weights_only=True)
    torch.testing.assert_close(
        state['state_dict']['backbone.encoder.blocks.0.attn.qkv.weight'],
        sam['image_encoder.blocks.0.attn.qkv.weight'], rtol=0, atol=0)
    out = tmp_path / 'full.json'
    assert tool_exit('test.py', files['missing'], full, '--splits', 'val',
                     '--work-dir', tmp_path / 't3', '--out', out) == ''
    assert json.loads(out.read_text())['val'] == metrics
    # never overwritten without --overwrite
    before = full.stat().st_mtime_ns
    msg = tool_exit('model_converters/full_checkpoint.py', files['config'],
                    slim, full)
    assert msg.startswith(f'full_checkpoint.py: error: {full} exists; use '
                          '--overwrite')
    assert full.stat().st_mtime_ns == before


def test_every_tool_names_a_missing_encoder_file(tool_exit, files, handmade_slim,
                                                  tmp_path):
    slim = handmade_slim
    image = next((files['data'] / 'images').iterdir())
    expect = (f'encoder weights {files["root"]}/no_such_sam.pth not found '
              '(config key model.backbone.checkpoint), and')
    jsonl = tmp_path / 'in.jsonl'
    jsonl.write_text(json.dumps(dict(image=str(image),
                                     sentences=['a circle'])) + '\n')
    runs = {
        'demo': ('demo.py', image, 'a circle', files['missing'], slim,
                 '--out', tmp_path / 'demo'),
        'infer': ('infer.py', files['missing'], slim, jsonl, '--out',
                  tmp_path / 'infer.json'),
        'export_onnx': ('deployment/export_onnx.py', files['missing'], slim,
                        '--out', tmp_path / 'onnx'),
        'train': ('train.py', files['missing'], '--work-dir',
                  tmp_path / 'train'),
    }
    for name, (tool, *args) in runs.items():
        msg = tool_exit(tool, *args)
        assert '\n' not in msg, name
        assert expect.split(', and')[0] in msg, (name, msg)
    assert not (tmp_path / 'train').exists()


def test_web_demo_names_a_missing_encoder_file(tool_exit, files, handmade_slim):
    pytest.importorskip('gradio')
    msg = tool_exit('web_demo.py', files['missing'], handmade_slim)
    assert msg.startswith(f'web_demo: encoder weights {files["root"]}/'
                          'no_such_sam.pth not found (config key '
                          'model.backbone.checkpoint)')


def test_leave_out_and_fill_are_inverse(files):
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(str(files['config'])).model)
    full = model.state_dict()
    ckpt = dict(meta={}, state_dict=dict(full))
    left_out = leave_out_frozen_weights(ckpt, model)
    assert left_out == sum(k.startswith(FROZEN) for k in full) > 0
    assert not any(k.startswith(FROZEN) for k in ckpt['state_dict'])
    assert fill_frozen_weights(ckpt, model, strict=True) == left_out
    assert list(ckpt['state_dict']) != list(full)  # filled at the end
    assert ckpt['state_dict'].keys() == full.keys()
    for key, value in full.items():
        assert torch.equal(ckpt['state_dict'][key], value), key
    # an old full checkpoint: nothing to fill
    assert fill_frozen_weights(dict(state_dict=dict(full)), model) == 0
