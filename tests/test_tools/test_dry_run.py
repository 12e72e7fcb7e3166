"""tools/analysis_tools/dry_run.py: a full-size config, one iteration, CPU
(its library code: tests/test_profiling)."""
import importlib.util
import json
from pathlib import Path

import pytest

from projects.risam.models.backbones.encoder_dtype import cpu_has_native_bf16
from projects.risam.profiling.dry_run import STAGES
from projects.risam.utils.output import OutputError

REPO = Path(__file__).resolve().parents[2]
VIT_B = ('configs/risam/ablations/'
         'risam-tab7_sam-vit-b_8xb4-50e_refcoco-1024x1024.py')


def _tool():
    spec = importlib.util.spec_from_file_location(
        'dry_run', REPO / 'tools/analysis_tools/dry_run.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_json_never_overwritten(tmp_path):
    tool = _tool()
    out = tmp_path / 'dry.json'
    out.write_text('keep')
    with pytest.raises(OutputError, match='exists'):
        tool.main([VIT_B, '--json', str(out)])
    assert out.read_text() == 'keep'


def _expected_counts() -> dict:
    """Trainable and frozen parameters of the ViT-B config, counted from
    the reference packages: SAM ViT-B's image encoder without its neck, and
    open_clip's text tower (CLIP without ``visual.*`` and ``logit_scale``)
    are frozen; FE, fusion and decoder train."""
    import open_clip
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from segment_anything import sam_model_registry
    enc = sam_model_registry['vit_b']().image_encoder
    sam = sum(p.numel() for n, p in enc.named_parameters()
              if not n.startswith('neck.'))
    clip = open_clip.create_model('ViT-B-16-quickgelu')
    text = sum(p.numel() for n, p in clip.named_parameters()
               if not n.startswith(('visual.', 'logit_scale')))
    cfg = Config.fromfile(str(REPO / VIT_B))
    cfg.model.backbone.checkpoint = None
    cfg.model.text_encoder.pretrained = None
    model = MODELS.build(cfg.model)
    total = sum(p.numel() for p in model.parameters())
    return dict(trainable=total - sam - text, frozen=sam + text)


@pytest.mark.slow
def test_dry_run_sam_vit_b_config_on_cpu(tmp_path, capsys):
    tool = _tool()
    out = tmp_path / 'dry.json'
    run = tmp_path / 'run'
    report = tool.main([str(REPO / VIT_B), '--iters', '1', '--val-samples',
                        '1', '--json', str(out), '--work-dir', str(run)])
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith('dry_run: random weights for ')
    assert 'model.backbone.checkpoint' in first
    assert 'model.text_encoder.pretrained' in first
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert {(w['key'], w['arch']) for w in report['random_weights']} == {
        ('model.backbone.checkpoint', 'vit_b'),
        ('model.text_encoder.pretrained', 'ViT-B-16-quickgelu')}
    for w in report['random_weights']:
        assert Path(w['written']).stat().st_size == w['bytes']
    assert report['batch_size'] == 4 and report['input_size'] == [1024, 1024]
    # the config asks for bf16; a CPU without native bf16 computes in fp32
    assert report['encoder_dtype'] == ('bf16' if cpu_has_native_bf16()
                                       else 'fp32')
    assert report['params'] == _expected_counts()
    stages = report['train']['stage_seconds_per_iter']
    assert set(stages) == set(STAGES)
    assert all(v > 0 for v in stages.values()), stages
    assert sum(stages.values()) <= report['train']['iter_seconds'][0]
    assert report['val']['samples'] == 1
    assert report['val']['seconds_per_sample'] > 0
    ckpt = run / 'work' / report['checkpoint']['file']
    assert report['checkpoint']['file'] == 'epoch_1.pth'
    assert ckpt.stat().st_size == report['checkpoint']['bytes']
    assert report['resume'] == dict(report['resume'], from_iter=1, to_iter=2)
    mem = report['memory']
    assert 0 < mem['peak_host_train_bytes'] <= mem['peak_host_bytes']
    assert mem['peak_gpu_bytes'] is None
