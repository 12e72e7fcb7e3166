"""Peak host memory of building a SAM encoder from its checkpoint file.

Eight ranks of one node each build the frozen SAM encoder at start-up. This
tool measures what one build costs: the peak RSS growth (``VmHWM`` after a
reset, :mod:`projects.risam.utils.peak_memory`) while building, and the RSS
left after it, each path in a fresh process, as a ratio to the file's size:

- ``plain``: what ``segment_anything.build_sam`` does, as the baseline: build
  the encoder (random init), read the whole file, load it;
- ``fp32``: ``risam.SAMBackbone(checkpoint=...)``: built on the meta device
  and given the memory-mapped file's tensors;
- ``bf16``: the same with ``encoder_dtype='bf16'`` (matmul weights copied
  out of the mapping as bf16, the file's pages given back tensor by tensor).

Without ``--checkpoint`` it writes a random-weight file of ``--arch`` in the
official format (``sam_model_registry[arch]().state_dict()``) to a temporary
folder and says so.

    python .dev_scripts/startup_memory.py [--arch vit_b]
        [--checkpoint sam_vit_b_01ec64.pth] [--json OUT]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
from functools import partial
from typing import Dict

import torch

from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import check_output_file, write_text
from projects.risam.utils.peak_memory import MeasurementError, reset_peak_rss, status_mb

PATHS = ('plain', 'fp32', 'bf16')


def build(path: str, arch: str, checkpoint: str) -> torch.nn.Module:
    """Build the encoder of ``arch`` from ``checkpoint`` along ``path``."""
    if path == 'plain':
        from segment_anything.modeling import ImageEncoderViT

        from projects.risam.models.backbones.sam_backbone import _DEFAULTS, SAM_ARCHS
        cfg = dict(_DEFAULTS, **SAM_ARCHS[arch])
        enc = ImageEncoderViT(
            img_size=cfg['img_size'], patch_size=cfg['patch_size'],
            embed_dim=cfg['embed_dim'], depth=cfg['depth'],
            num_heads=cfg['num_heads'], mlp_ratio=cfg['mlp_ratio'],
            out_chans=cfg['out_chans'], qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True, window_size=cfg['window_size'],
            global_attn_indexes=tuple(cfg['global_attn_indexes']))
        state = torch.load(checkpoint, map_location='cpu', weights_only=True)
        enc.load_state_dict({k[len('image_encoder.'):]: v
                             for k, v in state.items()
                             if k.startswith('image_encoder.')})
        return enc
    from projects.risam.models import SAMBackbone
    return SAMBackbone(arch=arch, checkpoint=checkpoint,
                       feature_enhancement=None, encoder_dtype=path)


def worker(path: str, arch: str, checkpoint: str) -> None:
    """Subprocess body: one build, its peak RSS growth and what is left."""
    import segment_anything.modeling  # noqa: F401

    import projects.risam.models  # noqa: F401  (imports before the reset)
    reset_peak_rss()
    before = status_mb('VmRSS')
    model = build(path, arch, checkpoint)
    peak = status_mb('VmHWM') - before
    after = status_mb('VmRSS') - before
    weights = {str(t.dtype) for t in model.parameters()}
    print(json.dumps(dict(peak_mib=round(peak, 1), after_mib=round(after, 1),
                          dtypes=sorted(weights))))


def measure(path: str, arch: str, checkpoint: str) -> Dict[str, float]:
    """:func:`worker` in a fresh process; raises :class:`MeasurementError`
    with the worker's last line if it failed."""
    out = subprocess.run(
        [sys.executable, __file__, '--arch', arch, '--checkpoint', checkpoint,
         '--_worker', path], capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ['no output'])[-1]
        raise MeasurementError(f'{path} build failed: {last}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def random_checkpoint(arch: str, folder: str) -> str:
    """A random-weight SAM file of ``arch`` in the official format."""
    from segment_anything import sam_model_registry
    torch.manual_seed(0)
    path = osp.join(folder, f'sam_{arch}_random.pth')
    torch.save(sam_model_registry[arch]().state_dict(), path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog='startup_memory.py', description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='vit_b',
                        choices=('vit_b', 'vit_l', 'vit_h'))
    parser.add_argument('--checkpoint', help='an official sam_vit_*.pth; '
                        'default: random weights written to a temp folder')
    parser.add_argument('--paths', nargs='+', default=list(PATHS),
                        choices=PATHS)
    parser.add_argument('--json', help='write the figures here')
    parser.add_argument('--overwrite', action='store_true')
    parser.add_argument('--_worker', choices=PATHS, help=argparse.SUPPRESS)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args._worker:
        worker(args._worker, args.arch, args.checkpoint)
        return 0
    if args.json:
        check_output_file(args.json, overwrite=args.overwrite)
    with tempfile.TemporaryDirectory(prefix='risam_startup_') as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = random_checkpoint(args.arch, tmp)
            print(f'startup_memory: {args.arch}: no --checkpoint, random '
                  'weights in the official format')
        elif not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        size_mib = os.path.getsize(checkpoint) / 2**20
        report = dict(arch=args.arch, checkpoint_mib=round(size_mib, 1),
                      random_weights=args.checkpoint is None, paths={})
        print(f'file: {size_mib:.1f} MiB')
        for path in args.paths:
            fig = measure(path, args.arch, checkpoint)
            fig['peak_ratio'] = round(fig['peak_mib'] / size_mib, 3)
            fig['after_ratio'] = round(fig['after_mib'] / size_mib, 3)
            report['paths'][path] = fig
            print(f'{path:>5}: peak RSS growth {fig["peak_mib"]:.1f} MiB '
                  f'({fig["peak_ratio"]:.2f}x the file), '
                  f'{fig["after_mib"]:.1f} MiB after ({fig["after_ratio"]:.2f}x)')
    if args.json:
        write_text(args.json, json.dumps(report, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    run_tool(main, prog='startup_memory.py')
