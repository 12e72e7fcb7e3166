"""The feature cache read in the dataloader workers (``risam.LoadCachedFeatures``):
with a float32 cache, training from it gives the live run's losses, the
encoder never runs, and the training process opens no shard; on the tiny
model and on a model of ViT-B size (SAM ViT-B's widths and depth, CLIP
ViT-B/16's text tower, the paper's C = 256 neck and decoder) with random
weights, at RefShapes' 128 px."""
import copy
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DATASETS
from mmengine.runner import Runner

from projects.risam.datasets.transforms import LoadCachedFeatures
from projects.risam.image_encoding import CACHED_TAPS_KEY, FeatureCache
from projects.risam.image_encoding import feature_cache as feature_cache_mod

from .conftest import REPO, tiny_config
from .test_feature_cache import cache_features


class _Losses(Hook):
    def __init__(self) -> None:
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses.append(float(outputs['loss'].detach()))


def vit_b_size_config(root, work):
    """The ViT-B model config with random weights, in fp32, at 128 px: SAM
    ViT-B's encoder (768 wide, 12 blocks, global blocks 2, 5, 8, 11) on an
    8 x 8 grid, a random CLIP ViT-B/16 text tower."""
    cfg = tiny_config(root, work)
    model = Config.fromfile(
        str(REPO / 'configs/risam/_base_/models/risam_sam-vit-b.py')).model
    model.data_preprocessor = cfg.model.data_preprocessor
    model.backbone.update(
        arch=dict(img_size=128, patch_size=16, embed_dim=768, depth=12,
                  num_heads=12, window_size=14,
                  global_attn_indexes=(2, 5, 8, 11)),
        checkpoint=None, encoder_dtype='fp32')
    model.text_encoder.pretrained = None
    cfg.model = model
    return cfg


def _fp32_cache(cfg, work):
    model = cache_features.build_model(cfg)
    dataset = DATASETS.build(cache_features.split_dataset_cfg(cfg, 'train'))
    out = work / 'cache'
    cache_features.cache_split(model, dataset, str(out), dtype='float32',
                               shard_size=3)
    return cfg, out


@pytest.fixture(scope='module')
def fp32_cache(small_refshapes, tmp_path_factory):
    work = tmp_path_factory.mktemp('worker_cache')
    return _fp32_cache(tiny_config(small_refshapes, work), work)


@pytest.fixture(scope='module')
def fp32_cache_vit_b(small_refshapes, tmp_path_factory):
    work = tmp_path_factory.mktemp('worker_cache_vit_b')
    return _fp32_cache(vit_b_size_config(small_refshapes, work), work)


def _train(cfg, tmp_path, name, cache=None):
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(tmp_path / name)
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.num_workers = 2
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=6,
                         val_interval=1000)
    cfg.param_scheduler = []
    cfg.log_processor = dict(by_epoch=False)
    if cache is not None:
        cfg.model.feature_cache = str(cache)
        cfg.train_dataloader.dataset.pipeline.append(
            dict(type='risam.LoadCachedFeatures', cache_dir=str(cache)))
    runner = Runner.from_cfg(cfg)
    losses = _Losses()
    runner.register_hook(losses)
    encoded = []

    def count(mod, args):  # training steps only, not the final validation
        if runner.model.training:
            encoded.append(args[0].shape[0])

    hook = runner.model.backbone.encoder.patch_embed.register_forward_pre_hook(
        count)
    runner.train()
    hook.remove()
    return losses.losses, sum(encoded), runner.model


@pytest.mark.slow  # two short trainings with two loader workers each
@pytest.mark.parametrize('size', ['tiny', 'vit_b'])
def test_workers_read_the_cache_and_losses_equal_live(size, request,
                                                      tmp_path, monkeypatch):
    cfg, out = request.getfixturevalue(
        'fp32_cache' if size == 'tiny' else 'fp32_cache_vit_b')
    opened = tmp_path / 'opened.txt'
    shard = feature_cache_mod.FeatureCache._shard

    def spy(self, i):
        with open(opened, 'a') as f:
            f.write(f'{os.getpid()}\n')
        return shard(self, i)

    # the workers are forked from this process: they inherit the spy
    monkeypatch.setattr(feature_cache_mod.FeatureCache, '_shard', spy)
    live, live_encoded, _ = _train(cfg, tmp_path, 'live')
    assert not opened.exists()
    cached, cached_encoded, model = _train(cfg, tmp_path, 'cached', out)
    assert model.feature_cache._verified
    assert cached_encoded == 0 and live_encoded >= 6
    pids = {int(p) for p in opened.read_text().split()}
    assert pids and os.getpid() not in pids  # only the workers read shards
    assert len(live) == len(cached) == 6
    for a, b in zip(live, cached):
        assert abs(a - b) <= 1e-5, (live, cached)


def test_transform_attaches_the_maps_and_keeps_few_shards_open(fp32_cache):
    cfg, out = fp32_cache
    dataset_cfg = cache_features.split_dataset_cfg(cfg, 'train')
    dataset_cfg.pipeline.append(dict(type='risam.LoadCachedFeatures',
                                     cache_dir=str(out), max_open_shards=2))
    dataset = DATASETS.build(dataset_cfg)
    cache = FeatureCache(str(out))
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        key = str(sample.metainfo['img_id'])
        maps = sample.metainfo[CACHED_TAPS_KEY]
        shard, row = cache.index['images'][key]
        want = torch.load(out / cache.index['shards'][shard],
                          weights_only=True)
        assert all(torch.equal(m, w[row]) for m, w in zip(maps, want))
        # a copy: the worker sends one image's maps, not the mapped shard
        assert maps[0].untyped_storage().nbytes() == \
            maps[0].numel() * maps[0].element_size()
    reader = dataset.pipeline.transforms[-1]
    assert isinstance(reader, LoadCachedFeatures)
    assert len(reader._cache._shards) <= 2
    assert reader.__getstate__()['_cache'] is None


def test_cached_features_need_the_model_cache(fp32_cache, tmp_path):
    cfg, out = fp32_cache
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.dataset.pipeline.append(
        dict(type='risam.LoadCachedFeatures', cache_dir=str(out)))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1,
                         val_interval=1000)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='model.feature_cache is not set'):
        runner.train()
