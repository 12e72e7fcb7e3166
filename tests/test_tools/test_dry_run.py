"""tools/analysis_tools/dry_run.py: a full-size config, one iteration, CPU."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from projects.risam.datasets.refer_io import load_json, load_plain_pickle
from projects.risam.models.backbones.encoder_dtype import cpu_has_native_bf16

REPO = Path(__file__).resolve().parents[2]
VIT_B = ('configs/risam/ablations/'
         'risam-tab7_sam-vit-b_8xb4-50e_refcoco-1024x1024.py')


def _tool():
    spec = importlib.util.spec_from_file_location(
        'dry_run', REPO / 'tools/analysis_tools/dry_run.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coco_sized_refer_data(tmp_path):
    """Images at COCO sizes, polygons scaled with them, one sentence per
    train image, sentences up to the word limit, in the config's files."""
    tool = _tool()
    counts = tool.write_coco_sized_refer(
        str(tmp_path), ann_file='refcoco/instances.json',
        split_file='refcoco/refs(unc).p', img_prefix='images/train2014',
        max_words=17, splits=dict(train='train', val='val'),
        train_images=4, val_images=1)
    inst = load_json(str(tmp_path / 'refcoco/instances.json'))
    refs = load_plain_pickle(str(tmp_path / 'refcoco/refs(unc).p'))
    sizes = [(im['width'], im['height']) for im in inst['images']]
    assert sizes == [(640, 480), (427, 640), (640, 480), (427, 640), (640,
                                                                     480)]
    for im in inst['images']:
        img = cv2.imread(str(tmp_path / 'images/train2014' / im['file_name']))
        assert img.shape[:2] == (im['height'], im['width'])
    train = [r for r in refs if r['split'] == 'train']
    assert len(train) == 4 and len({r['image_id'] for r in train}) == 4
    assert all(len(r['sentences']) == 1 for r in train)
    lengths = [len(s['sent'].split()) for r in refs for s in r['sentences']]
    assert max(lengths) == 17 and min(lengths) < 17
    assert counts == dict(train=4, val=sum(
        len(r['sentences']) for r in refs if r['split'] == 'val'))
    # a 640 x 640 RefShapes polygon scaled by (w/640, h/640): its area
    # scales by w*h/640^2 (up to rasterisation)
    ann = inst['annotations'][0]
    im = inst['images'][0]
    xy = np.asarray(ann['segmentation'][0]).reshape(-1, 2)
    shoelace = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], 1)) -
                         np.dot(xy[:, 1], np.roll(xy[:, 0], 1)))
    assert ann['area'] == pytest.approx(shoelace, rel=0.1)
    rle = mask_utils.frPyObjects([ann['segmentation'][0]], im['height'],
                                 im['width'])
    assert int(mask_utils.area(mask_utils.merge(rle))) == ann['area']


def test_random_sam_weights_official_format(tmp_path):
    """The random SAM file has segment_anything's own keys and shapes."""
    from segment_anything import sam_model_registry
    tool = _tool()
    path = tmp_path / 'sam.pth'
    size = tool.write_random_weights('segment_anything', 'vit_b', str(path))
    assert size == path.stat().st_size
    state = torch.load(path, weights_only=True)
    ref = sam_model_registry['vit_b']().state_dict()
    assert {k: v.shape for k, v in state.items()} == {
        k: v.shape for k, v in ref.items()}
    assert any(k.startswith('image_encoder.blocks.11.') for k in state)


def test_json_never_overwritten(tmp_path):
    tool = _tool()
    out = tmp_path / 'dry.json'
    out.write_text('keep')
    with pytest.raises(tool.OutputError, match='exists'):
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
    assert set(stages) == set(tool.STAGES)
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
