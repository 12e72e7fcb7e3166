"""Precompute the frozen visual encoder's outputs into a sharded disk cache.

    python tools/analysis_tools/cache_features.py CONFIG --split train \
        --out data/cache/refshapes_tiny [--checkpoint CKPT] [--dtype float16]
        [--shard-size 64] [--launcher none|pytorch] [--device cpu] [--force]
        [--cfg-options k=v ...] [--debug]
    bash tools/dist_launch.sh ... (torchrun) with --launcher pytorch: one
        writer per process, each image encoded by one of them

The encoder runs on the GPU when there is one (``--device cpu`` keeps it on
the CPU), in the dtype its config sets (``encoder_dtype``). Before writing,
the size the cache will take is printed; the tool stops with one line when
the disk has less free space, unless ``--force``. An interrupted run is
continued by running the same command again: finished shards are kept and
their images are not encoded again (see
:mod:`projects.risam.image_encoding.feature_cache`).

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
import os
import shutil
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from mmseg.registry import DATASETS, MODELS

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.datasets import group_indices_by_image
from projects.risam.image_encoding import FeatureCacheWriter, image_key
from projects.risam.image_encoding.feature_cache import DTYPES, merge_rank_indexes
from projects.risam.utils.checkpoint import load_strict
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.launch import DEVICE_HELP, configure_launcher, hide_gpus
from projects.risam.utils.output import OutputError


class NotEnoughSpace(OutputError):
    """The cache would not fit on its disk (one line, exit 1)."""


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


def check_space(out_dir: str, needed: float, force: bool) -> None:
    """Raise :class:`NotEnoughSpace` when ``needed`` bytes do not fit on
    the disk of ``out_dir`` (unless ``force``)."""
    free = shutil.disk_usage(out_dir).free
    if needed > free and not force:
        raise NotEnoughSpace(
            f'cache_features: the cache needs {needed / 2**30:.2f} GiB more '
            f'and {out_dir} has {free / 2**30:.2f} GiB free; free some '
            'space, choose another --out, or pass --force')


@torch.no_grad()
def cache_split(model, dataset, out_dir: str, *, dtype: str = 'float16',
                shard_size: int = 64, batch_size: int = 4,
                force: bool = False) -> dict:
    """Encode every image of ``dataset`` once; returns the index dict.

    Under a distributed launcher each rank encodes every ``world_size``-th
    image into its own shards; rank 0 joins the indexes at the end. Images
    already in a running index of ``out_dir`` are skipped.
    """
    os.makedirs(out_dir, exist_ok=True)
    if not model.backbone.encoder_frozen:
        raise ValueError('the backbone\'s encoder trains in this config: its '
                         'features change with the weights and cannot be '
                         'cached')
    rank, world = get_dist_info()
    firsts = [g[0] for g in group_indices_by_image(dataset)]
    mine = firsts[rank::world]
    writer, per_image, encoded = None, None, 0
    for s in range(0, len(mine), batch_size):
        data = model.data_preprocessor(
            pseudo_collate([dataset[i] for i in mine[s:s + batch_size]]),
            False)
        inputs, samples = data['inputs'], data['data_samples']
        keys = [image_key(ds.metainfo) for ds in samples]
        if writer is None:
            writer = FeatureCacheWriter(
                out_dir=out_dir, fingerprint=model.backbone.fingerprint(),
                input_size=list(inputs.shape[-2:]), dtype=dtype,
                shard_size=shard_size, rank=rank, world_size=world)
        if all(k in writer for k in keys):
            continue  # written by an earlier, interrupted run
        taps = model.backbone.encode(inputs)
        encoded += len(keys)
        if per_image is None:
            per_image = sum(t[0].numel() for t in taps) * \
                DTYPES[dtype].itemsize
            if rank == 0:
                print(f'cache_features: {len(firsts)} images x '
                      f'{per_image / 2**20:.2f} MiB = '
                      f'{per_image * len(firsts) / 2**30:.2f} GiB in '
                      f'{out_dir}' + (f' ({writer.resumed} of them written '
                                      'by an earlier run)' if world == 1 and
                                      writer.resumed else ''), flush=True)
            # every rank writes about as much as this one, on one disk
            check_space(out_dir, per_image * (len(mine) - writer.resumed)
                        * world, force)
        for b, key in enumerate(keys):
            writer.add(key, [t[b] for t in taps])
    if writer is None:  # this rank has no image
        writer = FeatureCacheWriter(
            out_dir=out_dir, fingerprint=model.backbone.fingerprint(),
            input_size=[0, 0], dtype=dtype, shard_size=shard_size,
            rank=rank, world_size=world)
    index = writer.close()
    index['encoded_by_this_run'] = encoded  # this rank's
    if world > 1:
        barrier()
        if rank == 0:
            index = merge_rank_indexes(out_dir, world)
        barrier()
    return index


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
    parser.add_argument('--force', action='store_true',
                        help='write even when the disk seems too small')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm'],
                        help='one writer per process of this launcher')
    parser.add_argument('--device', choices=['cpu'], default=None,
                        help=DEVICE_HELP)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    args = parser.parse_args()
    if args.device == 'cpu':
        hide_gpus()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    configure_launcher(cfg, args.launcher, args.device)
    model = build_model(cfg, args.checkpoint)
    if torch.cuda.is_available():
        model = model.to(f'cuda:{torch.cuda.current_device()}')
    dataset = DATASETS.build(split_dataset_cfg(cfg, args.split))
    start = time.perf_counter()
    index = cache_split(model, dataset, args.out, dtype=args.dtype,
                        shard_size=args.shard_size,
                        batch_size=args.batch_size, force=args.force)
    if get_dist_info()[0] != 0:
        return
    n = len(index['images'])
    print(f'cached {n} images of split {args.split!r} into {args.out} '
          f'({len(index["shards"])} shards, {index["dtype"]}): '
          f'{index["mb_per_image"]:.3f} MiB per image, '
          f'{index["mb_per_image"] * n:.1f} MiB total, '
          f'{time.perf_counter() - start:.1f} s; '
          f'{index.get("encoded_by_this_run", n)} encoded by this run')


if __name__ == '__main__':
    run_tool(main, 'cache_features.py')
