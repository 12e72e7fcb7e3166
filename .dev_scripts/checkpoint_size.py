"""Size of a config's training checkpoint, full and slim.

    python .dev_scripts/checkpoint_size.py CONFIG [--json OUT]

Builds the config's model with random weights (no encoder files, no data),
takes one optimizer step of the config's optimizer wrapper on random
gradients so that its state has its full size, and writes the checkpoint as
``Runner.save_checkpoint`` does (``meta``, ``state_dict``, ``optimizer``),
once with every weight and once slim, as ``risam.SlimCheckpointHook`` saves
it when the encoder files are given: without the frozen weights of the
modules whose files the config names. Both files go to a temporary folder
and are deleted; their sizes are printed (MB = 10^6 bytes).
"""
import argparse
import json
import os.path as osp
import tempfile
from typing import Dict

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.registry import MODELS
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.encoder_files import encoder_files
from projects.risam.utils.output import check_output_file, write_text


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Size of a training checkpoint, full and slim')
    parser.add_argument('config', help='config file')
    parser.add_argument('--json', help='also write the figures here')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --json file')
    add_debug_argument(parser)
    return parser.parse_args()


def checkpoint_sizes(cfg: Config) -> Dict[str, float]:
    """``{'full_mb', 'slim_mb', 'trained_params', 'frozen_from_files'}``."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    files = encoder_files(cfg.model)
    for file in files:  # random weights; the files need not exist
        node = cfg.model
        for part in file.holder.split('.'):
            node = node[part]
        node[file.key.rsplit('.', 1)[1]] = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.randn_like(p)
    wrapper.step()
    # what the hook leaves out once the files are given: the frozen
    # weights of the modules that load them
    left_out = {f'{f.module}.{name}'
                for f in files for name, p in
                _module(model, f.module).named_parameters()
                if not p.requires_grad}
    state = model.state_dict()
    full = dict(meta=dict(iter=0, epoch=0), state_dict=state,
                optimizer=wrapper.state_dict())
    slim = dict(full, state_dict={k: v for k, v in state.items()
                                  if k not in left_out})
    sizes = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, ckpt in (('full', full), ('slim', slim)):
            path = osp.join(folder, f'{name}.pth')
            torch.save(ckpt, path)
            sizes[f'{name}_mb'] = round(osp.getsize(path) / 1e6, 1)
    sizes['trained_params'] = sum(p.numel() for p in model.parameters()
                                  if p.requires_grad)
    sizes['frozen_from_files'] = sum(state[k].numel() for k in left_out)
    return sizes


def _module(model: torch.nn.Module, dotted: str) -> torch.nn.Module:
    for part in dotted.split('.'):
        model = getattr(model, part)
    return model


def main() -> None:
    args = parse_args()
    if args.json:
        args.json = check_output_file(args.json, args.overwrite)
    sizes = checkpoint_sizes(Config.fromfile(args.config))
    print(f'{osp.basename(args.config)}: full {sizes["full_mb"]} MB, slim '
          f'{sizes["slim_mb"]} MB ({sizes["trained_params"]:,} trained '
          f'parameters; {sizes["frozen_from_files"]:,} frozen ones from the '
          'encoder files left out)')
    if args.json:
        write_text(args.json, json.dumps(sizes, indent=2))


if __name__ == '__main__':
    run_tool(main, 'checkpoint_size.py')
