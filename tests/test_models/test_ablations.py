"""Every ablation config (paper Tab. 2-7, 9, 11) trains one step on CPU.

Each config under ``configs/risam/ablations/`` is loaded as written, the
ViT-H / Swin-B / CLIP parts are swapped for the tiny random ones of
``risam_tiny.py`` (same structure, 64 channels), and one
``model.train_step`` runs with the config's own optimizer wrapper. The
assertions check that the row's distinctive parameters were trained (Adam
moves a parameter iff it got a non-zero gradient) and that frozen parts were
not.
"""
import copy
from functools import partial
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmengine.utils import import_modules_from_strings
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ABLATIONS = Path('configs/risam/ablations')
TINY = 'configs/risam/_base_/models/risam_tiny.py'
CONFIGS = sorted(p.name for p in ABLATIONS.glob('risam-*.py'))
# paper width -> tiny width (C = 256, CLIP C' = 512, ViT-H / ViT-B C_e)
_TINY_CHANNELS = {256: 64, 512: 64, 768: 64, 1280: 64}
_CHANNEL_KEYS = ('in_channels', 'channels', 'out_channels', 'text_channels')
# tiny Swin: stages of 16/32/64/128 channels, strides 4-32 on 128 px
_TINY_SWIN = dict(
    type='mmpretrain.SwinTransformer',
    arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]),
    img_size=128, window_size=4, out_indices=(1, 2, 3))
# tiny ViT: 16 x 16 tokens of 64 channels, 6 blocks, the last three tapped
_TINY_VIT = dict(
    arch=dict(embed_dims=64, num_layers=6, num_heads=2,
              feedforward_channels=128),
    img_size=128, patch_size=8, out_indices=(3, 4, 5))


def _tinify(node, tiny_model):
    """Recursively swap heavy parts of a model config for the tiny ones."""
    if isinstance(node, list):
        return [_tinify(n, tiny_model) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _tinify(v, tiny_model) for k, v in node.items()}
    kind = node.get('type')
    if kind == 'risam.SAMBackbone':
        tiny = tiny_model['backbone']
        node.update(arch=tiny['arch'], checkpoint=None,
                    init_pos_embed='sincos')
        if node.get('sam_neck'):  # SAM's neck: 256 -> tiny width
            node['arch'] = dict(tiny['arch'], out_chans=64)
        if node.get('feature_enhancement') is not None:
            node['feature_enhancement'] = dict(out_channels=64)
    elif kind == 'mmpretrain.SwinTransformer':
        node = copy.deepcopy(_TINY_SWIN)
    elif kind == 'mmpretrain.VisionTransformer':
        node = dict(node, **copy.deepcopy(_TINY_VIT))
    elif kind == 'risam.FeatureResampleAdapter':
        node['in_channels'] = [32, 64, 128]
    elif kind == 'risam.CLIPTokenEncoder':
        node = dict(tiny_model['text_encoder'],
                    frozen=node.get('frozen', True))
    for key in _CHANNEL_KEYS:
        if isinstance(node.get(key), int):
            node[key] = _TINY_CHANNELS.get(node[key], node[key])
    if 'checkpoint' in node and kind != 'Pretrained':
        node['checkpoint'] = None
    node.pop('init_cfg', None)
    return node


def load_tiny(name):
    """(config as written, tiny model config) for one ablation config (a
    name under ``ABLATIONS``) or any config path."""
    cfg = Config.fromfile(str(name if '/' in str(name) else ABLATIONS / name))
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    tiny = Config.fromfile(TINY).model.to_dict()
    model_cfg = _tinify(cfg.model.to_dict(), tiny)
    model_cfg['data_preprocessor'] = tiny['data_preprocessor']
    return cfg, model_cfg


def _batch():
    samples = []
    for text, cols in [('the red square on the left', slice(0, 64)),
                       ('circle', slice(64, 128))]:
        ds = SegDataSample(metainfo=dict(text=text, img_shape=(128, 128),
                                         ori_shape=(128, 128)))
        gt = torch.zeros(1, 128, 128, dtype=torch.uint8)
        gt[:, 32:96, cols] = 1
        ds.gt_sem_seg = PixelData(data=gt)
        samples.append(ds)
    imgs = [torch.randint(0, 256, (3, 128, 128), dtype=torch.uint8)
            for _ in range(2)]
    return dict(inputs=imgs, data_samples=samples)


def _names(model, prefix):
    return {n for n, _ in model.named_parameters() if n.startswith(prefix)}


def _row_checks(name, cfg, model, trained, frozen_moved, trainable):
    """The distinctive assertion of each paper row."""
    names = {n for n, _ in model.named_parameters()}
    if 'tab2-1-wo-fe' in name or 'tab11' in name:
        assert not any('feature_enhancement' in n for n in names)
    if 'tab2-2' in name:
        assert type(model.neck).__name__ == 'ConcatConvFusion'
        assert _names(model, 'neck.convs') <= trained
    if 'tab2-3' in name or 'tab11' in name:
        assert type(model.decode_head).__name__ == 'SAMMaskDecoderHead'
        assert _names(model, 'decode_head.mask_decoder.transformer') <= trained
        assert cfg.model.decode_head.checkpoint.endswith('.pth')
        iou = _names(model, 'decode_head.mask_decoder.iou_prediction_head')
        assert iou and not iou & trainable
    if 'tab11' in name:
        _check_sam_baseline(cfg, model, trainable)
    if 'tab3-5' in name:
        assert _names(model, 'neck.encoder.layers') <= trained
    if 'tab3-6' in name:
        # vision-guided only: F_val does not depend on the image
        neck = model.neck.eval()
        text, mask = torch.randn(1, 5, 64), torch.ones(1, 5, dtype=torch.bool)
        with torch.no_grad():
            lav_a, val_a = neck(torch.randn(1, 64, 4, 4), text, mask)
            lav_b, val_b = neck(torch.randn(1, 64, 4, 4), text, mask)
        torch.testing.assert_close(val_a, val_b)
        assert not torch.allclose(lav_a, lav_b)
    if 'tab3-7' in name:
        assert _names(model, 'neck.blocks.1.key_proj') <= trained
    if 'tab3-8' in name:
        block = model.neck.blocks[0]
        scores = torch.randn(1, 4, 3)
        mask = torch.tensor([[True, True, False]])
        assert torch.equal(block.allowed_pairs(scores, mask),
                           mask[:, None].expand(1, 4, 3))
    if 'tab4-ma' in name:
        assert len(model.neck.blocks) == int(name.split('-ma')[1][0])
        assert _names(model, 'neck.blocks') <= trained
    if 'tab5-9' in name:
        toi = _names(model, 'decode_head.layers.0.toi_attn') | _names(
            model, 'decode_head.layers.1.norm_toi')
        assert toi and toi <= trained
    if 'tab5-10' in name:
        # no F_val path: the decoder output ignores F_val entirely
        head = model.decode_head.eval()
        lav, mask = torch.randn(1, 64, 4, 4), torch.ones(1, 3).bool()
        with torch.no_grad():
            a = head(lav, torch.randn(1, 3, 64), mask)
            b = head(lav, torch.randn(1, 3, 64), mask)
        torch.testing.assert_close(a, b)
        assert cfg.model_wrapper_cfg.find_unused_parameters
        # the query is generated from F_lav (VLT's query generation)
        qgm = _names(model, 'decode_head.query_generation')
        assert qgm and qgm <= trained
    if 'tab6-11' in name:
        assert type(model.backbone.necks[0]).__name__ == \
            'SimpleFeaturePyramidNeck'
        assert _names(model, 'backbone.necks.0.levels.0') <= trained
        assert not any('feature_enhancement' in n for n in names)
    if 'sam-vit-b' in name:
        assert cfg.model.backbone.arch == 'vit_b'
        assert 'vit_b' in cfg.model.backbone.checkpoint
    if 'tab7_vit-b' in name:
        _check_vit_b(cfg, model, trained, trainable)
    if 'swin-b' in name:
        assert type(model.backbone.backbone).__name__ == 'SwinTransformer'
        assert not _names(model, 'backbone.backbone.') & trainable
        assert _names(model, 'backbone.necks') <= trained
    if 'tab9' in name:
        text = _names(model, 'text_encoder.text.transformer')
        assert text and text <= trained
    else:
        assert not _names(model, 'text_encoder.') & trainable
    assert not frozen_moved


def _nodes(node):
    """Every dict in a config tree."""
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        for n in node:
            yield from _nodes(n)


def _check_vit_b(cfg, model, trained, trainable):
    """Tab. 7 ViT-B: a frozen ViT-B/16 that is not SAM's; no SAM weights
    anywhere in the model or its config."""
    vit = model.backbone.backbone
    assert type(vit).__name__ == 'VisionTransformer'
    assert not _names(model, 'backbone.backbone.') & trainable
    assert _names(model, 'backbone.necks.0.') <= trained
    written = cfg.model.to_dict()
    assert not any(n.get('type') in ('risam.SAMBackbone',
                                     'risam.SAMMaskDecoderHead')
                   for n in _nodes(written))
    files = [v for n in _nodes(written) for k, v in n.items()
             if k in ('checkpoint', 'pretrained') and isinstance(v, str)]
    assert any('vit-base-p16' in f for f in files)
    assert not any('sam' in f.split('/')[-1] for f in files)
    full = written['backbone']['backbone']
    assert full['out_indices'] == (5, 8, 11) and full['img_size'] == 1024
    assert cfg.model.data_preprocessor.mean == [127.5] * 3


def _check_sam_baseline(cfg, model, trainable):
    """Tab. 11: SAM's whole image encoder (neck included) frozen; exactly
    the text projection and SAM's mask decoder train."""
    from segment_anything.modeling import ImageEncoderViT
    assert type(model.neck).__name__ == 'LinearProjectionNeck'
    assert isinstance(model.neck.visual_proj, torch.nn.Identity)
    backbone = model.backbone
    assert backbone.sam_neck and cfg.model.backbone.checkpoint.endswith(
        'sam_vit_h_4b8939.pth')
    sam_neck = _names(model, 'backbone.encoder.neck.')
    # conv1x1 (no bias), LN2d, conv3x3 (no bias), LN2d
    assert len(sam_neck) == 6 and not sam_neck & trainable
    frozen_decoder = ('decode_head.mask_decoder.iou_prediction_head.',
                      *(f'decode_head.mask_decoder.output_hypernetworks_mlps'
                        f'.{i}.' for i in (1, 2, 3)))
    want = _names(model, 'neck.text_proj.') | {
        n for n in _names(model, 'decode_head.mask_decoder.')
        if not n.startswith(frozen_decoder)}
    assert trainable == want
    # encode() is SAM's image encoder forward, neck included. The config
    # runs the encoder in bf16; an equality check pins fp32, so it is made on
    # an fp32 twin of the same (tiny) backbone config.
    assert cfg.model.backbone.encoder_dtype == 'bf16'
    _, model_cfg = load_tiny(cfg.filename)
    backbone = MODELS.build({**model_cfg['backbone'], 'encoder_dtype': 'fp32'})
    arch = backbone.arch_cfg
    ref = ImageEncoderViT(
        img_size=arch['img_size'], patch_size=arch['patch_size'],
        embed_dim=arch['embed_dim'], depth=arch['depth'],
        num_heads=arch['num_heads'], out_chans=arch['out_chans'],
        qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=True, window_size=arch['window_size'],
        global_attn_indexes=tuple(arch['global_attn_indexes'])).eval()
    ref.load_state_dict(backbone.encoder.state_dict())
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        (ours, ) = backbone.encode(x)
        torch.testing.assert_close(ours, ref(x), atol=1e-4, rtol=1e-4)
    # the paper-size trainable count stated in the config header
    init_default_scope(cfg.default_scope)
    full = [MODELS.build(dict(cfg.model[k], checkpoint=None) if k ==
                         'decode_head' else cfg.model[k])
            for k in ('neck', 'decode_head')]
    count = sum(p.numel() for m in full for p in m.parameters()
                if p.requires_grad)
    assert count == 3_637_632
    header = (ABLATIONS / 'risam-tab11-sam-baseline_sam-vit-h_8xb4-50e_'
              'refcoco-1024x1024.py').read_text()
    assert 'Trainable parameters: 3,637,632' in header


def _train_one_step(model_cfg, cfg):
    """Build, run one train step; (model, trained, frozen_moved,
    trainable)."""
    model = MODELS.build(model_cfg)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    log = model.train_step(_batch(), optim)
    assert torch.isfinite(log['loss']) and log['loss'] > 0
    params = dict(model.named_parameters())
    trainable = {n for n, p in params.items() if p.requires_grad}
    trained = {n for n, p in params.items()
               if not torch.equal(before[n], p.detach())}
    return model, trained, trained - trainable, trainable


@pytest.mark.parametrize('name', CONFIGS)
def test_ablation_config_trains_one_step(name):
    cfg, model_cfg = load_tiny(name)
    model, trained, frozen_moved, trainable = _train_one_step(model_cfg, cfg)
    assert trainable, name
    unused = trainable - trained
    if 'tab5-10' in name:
        # only the last MA block's language-branch norm loses its use
        last = len(model.neck.blocks) - 1
        assert unused == {f'neck.blocks.{last}.text_norm.weight',
                          f'neck.blocks.{last}.text_norm.bias'}
    else:
        assert not unused, sorted(unused)
    _row_checks(name, cfg, model, trained, frozen_moved, trainable)
    _dataset_checks(name, cfg)


# paper word limits (§4.2) and Tab. 1 splits of each dataset
WORDS = {'refcoco': 17, 'refcoco+': 25, 'refcocog-umd': 25,
         'refcocog-google': 25, 'grefcoco': 25}
SPLITS = {'refcoco': ['val', 'testA', 'testB'],
          'refcoco+': ['val', 'testA', 'testB'],
          'refcocog-umd': ['val', 'test'], 'refcocog-google': ['val'],
          'grefcoco': ['val', 'testA', 'testB']}


def _dataset_of(name):
    return name.rsplit('_', 1)[1].replace('-1024x1024.py', '')


def _dataset_checks(name, cfg, folder=ABLATIONS):
    """Word limit in both places, and the dataset's Tab. 1 splits; a row on
    RefCOCO+ / G-Ref has exactly the model of its RefCOCO row."""
    ds = _dataset_of(name)
    if ds.endswith('-to-phrasecut'):
        # a test-only config: the training config's model and data, tested
        # on PhraseCut test with the same word limit
        trained_on = Config.fromfile(str(folder / name.replace(
            '-to-phrasecut', '')))
        ds = ds.replace('-to-phrasecut', '')
        test = cfg.test_dataloader.dataset
        assert test.type == 'risam.PhraseCutDataset'
        assert test.ann_file == 'refer_test.json'
        assert cfg.test_splits == ['test']
        assert test.max_words == cfg.model.text_encoder.max_tokens == \
            WORDS[ds]
        assert cfg.model == trained_on.model
        assert cfg.train_dataloader == trained_on.train_dataloader
        return
    for loader in ('train', 'val', 'test'):
        assert cfg[f'{loader}_dataloader'].dataset.max_words == WORDS[ds]
    assert cfg.model.text_encoder.max_tokens == WORDS[ds]
    assert cfg.test_splits == SPLITS[ds]
    if ds != 'refcoco':
        ref = Config.fromfile(str(folder / name.replace(ds, 'refcoco')))
        model = cfg.model.to_dict()
        model['text_encoder']['max_tokens'] = 17
        assert model == ref.model.to_dict()
        assert cfg.get('model_wrapper_cfg') == ref.get('model_wrapper_cfg')


# RefCOCO val, RefCOCO+ val and G-Ref val (U) for Tab. 2, 3, 5 (§4.5);
# all nine Tab. 1 splits (three datasets, G-Ref on both partitions) for
# Tab. 9 and 11
ROWS = {
    **{row: ['refcoco', 'refcoco+', 'refcocog-umd'] for row in [
        'tab2-1', 'tab2-2', 'tab2-3', 'tab3-5', 'tab3-6', 'tab3-7', 'tab3-8',
        'tab5-9', 'tab5-10']},
    **{row: ['refcoco'] for row in [
        'tab4-ma1', 'tab4-ma3', 'tab6-11', 'tab7_vit-b', 'tab7_sam-vit-b',
        'tab7_swin-b']},
    'tab9': ['refcoco', 'refcoco+', 'refcocog-umd', 'refcocog-google',
             'refcoco-to-phrasecut'],
    'tab11': ['refcoco', 'refcoco+', 'refcocog-umd', 'refcocog-google'],
}


def test_every_paper_row_has_a_config():
    for row, datasets in ROWS.items():
        found = sorted(_dataset_of(c) for c in CONFIGS
                       if c.startswith(f'risam-{row}-')
                       or c.startswith(f'risam-{row}_'))
        assert found == sorted(datasets), row
    readme = (ABLATIONS.parent / 'README.md').read_text()
    labels = {'refcoco': 'RefCOCO val', 'refcoco+': 'RefCOCO+ val',
              'refcocog-umd': 'G-Ref (UMD) val (U)',
              'refcocog-google': 'G-Ref (Google) val (G)',
              'refcoco-to-phrasecut': 'PhraseCut test'}
    for c in CONFIGS:
        assert c in readme, c
        header = [ln for ln in (ABLATIONS / c).read_text().splitlines()
                  if ln.startswith('#')]
        assert any(ln.startswith(f'# Paper {labels[_dataset_of(c)]}')
                   for ln in header), c


PAPER_CONFIGS = sorted(p.name for p in ABLATIONS.parent.glob(
    'risam_sam-vit-h_*.py'))


@pytest.mark.parametrize('name', PAPER_CONFIGS)
def test_paper_config_trains_one_step(name):
    """Tab. 1, 8 and 10 configs: one train step with tiny encoders (only
    FE, MA and the decoder move), the word limit in both places and the
    dataset's splits; Tab. 8 tests a training config's model unchanged on
    PhraseCut test; Tab. 10 trains and tests on gRefCOCO with its metrics."""
    cfg, model_cfg = load_tiny(str(ABLATIONS.parent / name))
    model, trained, frozen_moved, trainable = _train_one_step(model_cfg, cfg)
    assert trainable == trained and not frozen_moved
    assert not _names(model, 'backbone.encoder.') & trainable
    assert not _names(model, 'text_encoder.') & trainable
    if '-to-phrasecut' in name:
        trained_on = Config.fromfile(str(ABLATIONS.parent / name.replace(
            '-to-phrasecut', '')))
        ds = _dataset_of(name).replace('-to-phrasecut', '')
        test = cfg.test_dataloader.dataset
        assert test.type == 'risam.PhraseCutDataset'
        assert test.ann_file == 'refer_test.json' and cfg.test_splits == [
            'test']
        assert test.max_words == cfg.model.text_encoder.max_tokens == \
            WORDS[ds]
        assert test.pipeline == trained_on.test_dataloader.dataset.pipeline
        assert cfg.model == trained_on.model
        assert cfg.train_dataloader == trained_on.train_dataloader
        assert cfg.val_dataloader == trained_on.val_dataloader
        return
    _dataset_checks(name, cfg, ABLATIONS.parent)
    if 'grefcoco' in name:
        for loader in ('train', 'val', 'test'):
            assert cfg[f'{loader}_dataloader'].dataset.type == \
                'risam.GReferDataset'
        assert cfg.test_evaluator.grefcoco
        from projects.risam.evaluation import ReferMetric
        metric = ReferMetric(**{k: v for k, v in cfg.test_evaluator.items()
                                if k != 'type'})
        # one no-target sentence predicted empty, one target half found
        keys = metric.compute_metrics([
            dict(inter=0, union=0, pred_area=0, gt_area=0, no_target=True,
                 expr_type=None, sample_id=1, img_path='a', text='none'),
            dict(inter=5, union=10, pred_area=5, gt_area=10,
                 no_target=False, expr_type=None, sample_id=2,
                 img_path='a', text='it')])
        assert keys['gIoU'] == 75.0 and keys['cIoU'] == 50.0
        assert keys['N-acc'] == 100.0 and keys['T-acc'] == 100.0


SEAM_ROWS = ['risam-tab7_swin-b_8xb4-50e_refcoco-1024x1024.py',
             'risam-tab6-11-vitdet-sfp_sam-vit-h_8xb4-50e_refcoco-1024x1024.py']


def _seam_batch():
    """7 sentences on 3 images (ids 3, 7, 9), as a test batch."""
    gen = torch.Generator().manual_seed(1)
    ids = [3, 3, 7, 3, 7, 9, 7]
    imgs = {i: torch.randint(0, 256, (3, 128, 128), dtype=torch.uint8,
                             generator=gen) for i in set(ids)}
    texts = ['red square', 'the big one', 'left circle', 'blue', 'top', 'it',
             'the small green triangle']
    samples = [SegDataSample(metainfo=dict(text=t, img_id=i,
                                           img_shape=(128, 128),
                                           ori_shape=(128, 128)))
               for i, t in zip(ids, texts)]
    return dict(inputs=[imgs[i] for i in ids], data_samples=samples)


def _count_encoded(model):
    calls, encode = [], model.backbone.encode

    def counting(images):
        calls.append(len(images))
        return encode(images)

    model.backbone.encode = counting
    return calls


@pytest.mark.parametrize('name', SEAM_ROWS)
def test_shared_encoding_and_cache_for_every_backbone(name, tmp_path):
    """Swin-B (Tab. 7) and ViTDet's SFP (Tab. 6 #11) come in through the
    same encode/enhance seam as SAM: one encode per image, and a feature
    cache, give exactly the per-sentence predictions."""
    from projects.risam.image_encoding import FeatureCache, FeatureCacheWriter
    from projects.risam.models import BaseVisualBackbone
    _, model_cfg = load_tiny(name)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).eval()
    assert isinstance(model.backbone, BaseVisualBackbone)
    assert model.backbone.encoder_frozen
    calls = _count_encoded(model)
    outs = {}
    for share in (False, True):
        model.share_image_encoding = share
        with torch.no_grad():
            outs[share] = model.test_step(_seam_batch())
    assert calls == [7, 3]  # per sentence, then once per image
    # the frozen-feature cache, written image by image, then read back
    data = model.data_preprocessor(_seam_batch(), False)
    writer = FeatureCacheWriter(out_dir=str(tmp_path / 'cache'),
                                fingerprint=model.backbone.fingerprint(),
                                input_size=data['inputs'].shape[-2:],
                                dtype='float32')
    with torch.no_grad():
        feats = model.backbone.encode(data['inputs'])
    for b, ds in enumerate(data['data_samples']):
        writer.add(str(ds.img_id), [f[b] for f in feats])
    writer.close()
    model.feature_cache = FeatureCache(str(tmp_path / 'cache'))
    calls.clear()
    with torch.no_grad():
        outs['cache'] = model.test_step(_seam_batch())
    assert calls == []  # every image came from the cache
    for key in (True, 'cache'):
        for a, b in zip(outs[False], outs[key]):
            torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data,
                                       atol=1e-5, rtol=1e-5)
            assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
    # the decoder sees different sentences: the predictions are not trivial
    logits = [o.seg_logits.data for o in outs[False]]
    assert not torch.allclose(logits[0], logits[1])


@pytest.mark.slow
def test_vit_b_row_encoder_at_full_size_on_cpu():
    """Tab. 7 ViT-B: the config's encoder at full size (random weights) runs
    one 1024 x 1024 image: three stride-16 maps of 768 channels, then FE's
    F_v; its parameter count is the one in the config header."""
    name = 'risam-tab7_vit-b_8xb4-50e_refcoco-1024x1024.py'
    cfg = Config.fromfile(str(ABLATIONS / name))
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    backbone_cfg = cfg.model.backbone.to_dict()
    backbone_cfg['backbone'].pop('init_cfg')  # no checkpoint file here
    torch.manual_seed(0)
    encoder = MODELS.build(backbone_cfg).eval()
    vit = encoder.backbone
    count = sum(p.numel() for p in vit.parameters())
    assert count == 88_793_856
    assert '88,793,856' in (ABLATIONS / name).read_text()
    assert encoder.encoder_frozen and not any(
        p.requires_grad for p in vit.parameters())
    with torch.no_grad():
        feats = encoder.encode(torch.randn(1, 3, 1024, 1024))
        (f_v, ) = encoder.enhance(feats)
    assert [tuple(f.shape) for f in feats] == [(1, 768, 64, 64)] * 3
    assert all(torch.isfinite(f).all() for f in feats)
    # three different depths, not one map three times
    assert not torch.allclose(feats[0], feats[2])
    assert tuple(f_v.shape) == (1, 256, 64, 64) and torch.isfinite(f_v).all()
