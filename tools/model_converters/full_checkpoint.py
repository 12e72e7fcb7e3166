"""Write a self-contained checkpoint: the trained weights with the frozen
encoders' weights put back in.

    python tools/model_converters/full_checkpoint.py CONFIG CHECKPOINT OUT
        [--overwrite] [--debug]

Training saves slim checkpoints (``risam.SlimCheckpointHook``): the frozen
encoders that the config loads from their own files (SAM, CLIP) are left
out. To share one file that needs no encoder files, this builds the config's
model (reading those files), loads CHECKPOINT strictly, and writes every
weight to OUT, with the checkpoint's other entries (meta, optimizer, ...)
kept. The tools accept OUT with the encoder files absent. OUT is never
overwritten without ``--overwrite``; it is written to a temporary file first
and renamed into place. Errors are one line; ``--debug`` shows the traceback.
"""
import argparse
import os
import os.path as osp
import tempfile

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.registry import MODELS
from projects.risam.utils.checkpoint import FROZEN_META_KEY, load_strict, read_checkpoint
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.encoder_files import check_encoder_files
from projects.risam.utils.output import check_output_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a checkpoint that holds every weight, frozen '
        'encoders included')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (slim or full)')
    parser.add_argument('out', help='output checkpoint file')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing OUT')
    add_debug_argument(parser)
    return parser.parse_args()


def full_checkpoint(cfg: Config, checkpoint: str) -> dict:
    """CHECKPOINT with its state dict completed from the encoder files."""
    check_encoder_files(cfg.model)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    ckpt = load_strict(model, checkpoint)
    out = dict(ckpt)
    out['state_dict'] = model.state_dict()
    meta = dict(out.get('meta') or {})
    meta.pop(FROZEN_META_KEY, None)
    out['meta'] = meta
    return out


def main() -> None:
    args = parse_args()
    out_path = check_output_file(args.out, args.overwrite)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    if osp.abspath(args.checkpoint) == out_path:
        raise FileExistsError(f'{out_path} is the input checkpoint; write '
                              'the full checkpoint to another file')
    ckpt = full_checkpoint(Config.fromfile(args.config), args.checkpoint)
    folder = osp.dirname(out_path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(out_path))
    os.close(fd)
    try:
        torch.save(ckpt, tmp)
        read_checkpoint(tmp, mmap=True)  # it loads back, weights-only
        os.replace(tmp, out_path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    print(f'{len(ckpt["state_dict"])} entries, '
          f'{osp.getsize(out_path) / 2**20:.1f} MiB -> {out_path}')


if __name__ == '__main__':
    run_tool(main, 'full_checkpoint.py')
