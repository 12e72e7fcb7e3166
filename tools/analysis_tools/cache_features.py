"""Precompute the frozen visual encoder's outputs into a sharded disk cache.

    python tools/analysis_tools/cache_features.py CONFIG --split train \
        --out data/cache/refshapes_tiny [--checkpoint CKPT] [--dtype float16]
        [--shard-size 64] [--cfg-options k=v ...] [--debug]

One entry per image (its ``image_key``): the raw maps of the backbone's
``encode`` for the image as the split's pipeline and the data preprocessor
present it. The index records ``backbone.fingerprint()`` (encoder config, tapped
blocks, sha256 of the encoder weights) and the padded input size; a model
whose backbone differs is refused. The model is built exactly as
``Runner`` builds it (seeded with ``randomness.seed`` first), so random-init
(tiny) encoders hash identically. Train from it with
``--cfg-options model.feature_cache=DIR`` (augmentations of the image must
be deterministic, as in the RefShapes/paper pipelines). ``--checkpoint``
is read with ``weights_only=True`` and loaded strictly.
"""
import argparse
import copy
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from mmseg.registry import DATASETS, MODELS

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.datasets import group_indices_by_image
from projects.risam.image_encoding import FeatureCacheWriter, image_key
from projects.risam.utils.checkpoint import load_strict
from projects.risam.utils.cli import add_debug_argument, run_tool


def build_model(cfg: Config, checkpoint: str = None) -> torch.nn.Module:
    """The model as ``Runner.from_cfg`` builds it (same seed first)."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    rnd = cfg.get('randomness', dict(seed=None)) or {}
    if rnd.get('seed') is not None:
        set_random_seed(rnd['seed'], deterministic=rnd.get(
            'deterministic', False))
    model = MODELS.build(copy.deepcopy(cfg.model))
    if checkpoint:
        load_strict(model, checkpoint)
    return model.eval()


def split_dataset_cfg(cfg: Config, split: str):
    """The dataset config of ``split``: the train loader's if it is the
    train split, else the test loader's with ``split`` replaced."""
    train = cfg.train_dataloader.dataset
    if train.get('split') == split:
        return copy.deepcopy(train)
    ds = copy.deepcopy(cfg.test_dataloader.dataset)
    ds.split = split
    return ds


@torch.no_grad()
def cache_split(model, dataset, out_dir: str, *, dtype: str = 'float16',
                shard_size: int = 64, batch_size: int = 4) -> dict:
    """Encode every image of ``dataset`` once; returns the index dict."""
    if not model.backbone.encoder_frozen:
        raise ValueError('the backbone\'s encoder trains in this config: its '
                         'features change with the weights and cannot be '
                         'cached')
    firsts = [g[0] for g in group_indices_by_image(dataset)]
    writer = None
    for s in range(0, len(firsts), batch_size):
        data = pseudo_collate([dataset[i] for i in firsts[s:s + batch_size]])
        data = model.data_preprocessor(data, False)
        inputs, samples = data['inputs'], data['data_samples']
        if writer is None:
            writer = FeatureCacheWriter(
                out_dir=out_dir, fingerprint=model.backbone.fingerprint(),
                input_size=list(inputs.shape[-2:]), dtype=dtype,
                shard_size=shard_size)
        taps = model.backbone.encode(inputs)
        for b, ds in enumerate(samples):
            writer.add(image_key(ds.metainfo), [t[b] for t in taps])
    return writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--split', required=True)
    parser.add_argument('--out', required=True, help='cache directory')
    parser.add_argument('--checkpoint', help='RISAM checkpoint to load')
    parser.add_argument('--dtype', default='float16',
                        choices=['float16', 'bfloat16', 'float32'])
    parser.add_argument('--shard-size', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    dataset = DATASETS.build(split_dataset_cfg(cfg, args.split))
    start = time.perf_counter()
    index = cache_split(model, dataset, args.out, dtype=args.dtype,
                        shard_size=args.shard_size,
                        batch_size=args.batch_size)
    n = len(index['images'])
    print(f'cached {n} images of split {args.split!r} into {args.out} '
          f'({len(index["shards"])} shards, {index["dtype"]}): '
          f'{index["mb_per_image"]:.3f} MB per image, '
          f'{index["mb_per_image"] * n:.1f} MB total, '
          f'{time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    run_tool(main, 'cache_features.py')
