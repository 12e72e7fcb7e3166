"""Frozen-feature cache: write, read back, refuse another encoder, train."""
import copy
import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from mmengine.registry import DATASETS
from mmengine.runner import Runner

from projects.risam.image_encoding import FeatureCache, FeatureCacheMismatch

from .conftest import REPO, tiny_config

_spec = importlib.util.spec_from_file_location(
    'cache_features', REPO / 'tools/analysis_tools/cache_features.py')
cache_features = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cache_features)


@pytest.fixture(scope='module')
def train_cache(small_refshapes, tmp_path_factory):
    work = tmp_path_factory.mktemp('cache_work')
    cfg = tiny_config(small_refshapes, work)
    model = cache_features.build_model(cfg)
    dataset = DATASETS.build(cache_features.split_dataset_cfg(cfg, 'train'))
    out = work / 'cache'
    index = cache_features.cache_split(model, dataset, str(out),
                                       shard_size=5)
    return cfg, model, dataset, out, index


def test_cache_layout_and_values(train_cache):
    cfg, model, dataset, out, index = train_cache
    assert len(index['images']) == 16 and len(index['shards']) == 4
    assert index['tap_shapes'] == [[64, 16, 16]] * 3
    assert index['mb_per_image'] == pytest.approx(3 * 64 * 256 * 2 / 2**20,
                                                  abs=1e-3)
    assert json.loads((out / 'index.json').read_text())['fingerprint'][
        'encoder_sha256'] == model.backbone.fingerprint()['encoder_sha256']
    cache = FeatureCache(str(out))
    cache.verify(model.backbone.fingerprint(), (128, 128))
    data = model.data_preprocessor(
        dict(inputs=[dataset[0]['inputs']],
             data_samples=[dataset[0]['data_samples']]), False)
    with torch.no_grad():
        live = model.backbone.encode(data['inputs'])
    cached = cache.lookup([str(dataset.get_data_info(0)['img_id'])], 'cpu')
    for a, b in zip(live, cached):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=2e-3)  # fp16


def test_cache_refuses_other_encoder(train_cache):
    cfg, _, _, out, _ = train_cache
    cfg = copy.deepcopy(cfg)
    cfg.randomness = dict(seed=123)  # another random init
    other = cache_features.build_model(cfg)
    cache = FeatureCache(str(out))
    with pytest.raises(FeatureCacheMismatch) as err:
        cache.verify(other.backbone.fingerprint(), (128, 128))
    msg = str(err.value)
    assert '\n' not in msg and str(out) in msg
    assert 'encoder_sha256' in msg
    same = cache_features.build_model(train_cache[0])
    with pytest.raises(FeatureCacheMismatch, match='input_size'):
        FeatureCache(str(out)).verify(same.backbone.fingerprint(),
                                         (256, 256))


def test_cache_features_cli(small_refshapes, tmp_path):
    cfg = tiny_config(small_refshapes, tmp_path)
    cfg.dump(str(tmp_path / 'cfg.py'))
    out = subprocess.run(
        [sys.executable, 'tools/analysis_tools/cache_features.py',
         str(tmp_path / 'cfg.py'), '--split', 'val', '--out',
         str(tmp_path / 'c')], cwd=REPO, capture_output=True, text=True,
        check=True).stdout
    index = json.loads((tmp_path / 'c' / 'index.json').read_text())
    assert "cached 6 images of split 'val'" in out
    assert f'{index["mb_per_image"]:.3f} MiB per image' in out


def _train(cfg, feature_cache=None):
    """Train, then validate; returns (val oIoU, model, images the frozen
    encoder saw in training steps)."""
    cfg = copy.deepcopy(cfg)
    cfg.model.feature_cache = feature_cache
    runner = Runner.from_cfg(cfg)
    seen = []

    def count(mod, args):
        # training steps only: the train loop also validates at its end,
        # on val images that the train-split cache does not hold
        if runner.model.training:
            seen.append(args[0].shape[0])

    # SAMBackbone.encode runs the ViT's parts itself (to tap blocks), so
    # count its first step: every encoder pass starts with patch_embed
    hook = runner.model.backbone.encoder.patch_embed.register_forward_pre_hook(
        count)
    runner.train()
    hook.remove()
    return runner.val_loop.run()['oIoU'], runner.model, sum(seen)


@pytest.mark.slow
def test_training_from_cache_matches_live(train_cache, tmp_path):
    cfg, _, _, out, _ = train_cache
    cfg = copy.deepcopy(cfg)
    cfg.train_dataloader.batch_size = 8
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=40,
                         val_interval=1000)
    cfg.param_scheduler = []
    cfg.optim_wrapper.optimizer.lr = 5e-4
    cfg.log_processor = dict(by_epoch=False)
    cfg.work_dir = str(tmp_path / 'live')
    live, _, live_encoded = _train(cfg)
    cfg.work_dir = str(tmp_path / 'cached')
    cached, model, cached_encoded = _train(cfg, str(out))
    assert model.feature_cache._verified
    # every training image is in the cache: the encoder never runs; the
    # live run encodes each distinct image of each of its 40 batches
    assert cached_encoded == 0
    assert live_encoded >= 40
    assert abs(live - cached) <= 0.5, (live, cached)
    assert cached > 0
