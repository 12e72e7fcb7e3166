"""How much of each pixel's position survives each stage of a RISAM model.

    python .dev_scripts/position_probe.py CONFIG [CHECKPOINT] \\
        [--split val] [--num-images 64] [--json OUT.json [--overwrite]]

For ``--num-images`` images of the split (first sentence of each), the
features of every stage are collected per pixel:

- ``tap{k}``: the frozen encoder's taps (``backbone.encode``),
- ``F_v``: after the trained enhancement (``backbone.enhance``),
- ``F_lav``: the fusion neck's visual output,
- ``dec{k}``: the visual tokens after each decoder layer,
- ``upsampled``: the decoder's up-sampled map (what the query token's
  weights are dotted with).

A ridge regression from the (standardised) features to the pixel's x and y
(in [0, 1]) is fitted on a random half of all pixels and scored (R^2) on the
other half. R^2 near 1: the position is linearly readable at that stage;
near 0: it is gone. Without CHECKPOINT the model is probed at its
initialisation.
"""
import argparse
import json
from typing import Dict, List

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS
from torch import Tensor

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.apis import init_refer_model
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import check_output_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None)
    parser.add_argument('--split', help='dataset split (default: config)')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--alpha', type=float, default=1.0,
                        help='ridge penalty on standardised features')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='write {stage: {x: R2, y: R2}}')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --json file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    return parser.parse_args()


def ridge_r2(feats: Tensor, targets: Tensor, *, alpha: float,
             seed: int) -> List[float]:
    """R^2 on a held-out half of the rows of a ridge fit on the other half.

    Args:
        feats: ``N x C`` features, one row per pixel.
        targets: ``N x T`` regression targets.

    Returns:
        One R^2 per target column.
    """
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(feats), generator=gen)
    fit, held = perm[:len(perm) // 2], perm[len(perm) // 2:]
    x = feats.double()
    mean, std = x[fit].mean(0), x[fit].std(0).clamp_min(1e-6)
    x = (x - mean) / std
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    y = targets.double()
    gram = x[fit].T @ x[fit]
    gram += alpha * torch.eye(len(gram), dtype=x.dtype)
    coef = torch.linalg.solve(gram, x[fit].T @ y[fit])
    pred = x[held] @ coef
    res = ((y[held] - pred)**2).sum(0)
    tot = ((y[held] - y[held].mean(0))**2).sum(0)
    return (1 - res / tot).tolist()


def _pixels(fmap: Tensor) -> Tensor:
    """``B x C x H x W`` -> ``(B*H*W) x C``."""
    return fmap.permute(0, 2, 3, 1).reshape(-1, fmap.shape[1]).cpu()


def _xy(b: int, h: int, w: int) -> Tensor:
    """Pixel centres in [0, 1], ``(B*H*W) x 2``, rows as in :func:`_pixels`."""
    ys, xs = torch.meshgrid((torch.arange(h) + 0.5) / h,
                            (torch.arange(w) + 0.5) / w, indexing='ij')
    xy = torch.stack([xs, ys], -1).reshape(1, h * w, 2)
    return xy.expand(b, -1, -1).reshape(-1, 2)


@torch.no_grad()
def collect(model: torch.nn.Module, samples: list,
            batch_size: int = 8) -> Dict[str, List[Tensor]]:
    """Per-stage ``B x C x H x W`` maps of every sample."""
    stages: Dict[str, List[Tensor]] = {}
    grid_hw = {}

    def keep(name: str, fmap: Tensor) -> None:
        stages.setdefault(name, []).append(fmap.detach().float())

    bb, head = model.backbone, model.decode_head
    hooks = [
        head.upsample.register_forward_hook(
            lambda m, i, o: keep('upsampled', o)),
        model.neck.register_forward_hook(lambda m, i, o: keep('F_lav', o[0])),
    ]
    for k, layer in enumerate(head.layers):
        def hook(m, i, o, k=k):
            b, _, h, w = grid_hw['shape']
            keep(f'dec{k}', o[0].transpose(1, 2).reshape(b, -1, h, w))
        hooks.append(layer.register_forward_hook(hook))

    def grab_neck_input(m, args):
        visual = args[0]
        visual = visual if isinstance(visual, Tensor) else visual[-1]
        grid_hw['shape'] = visual.shape
    hooks.append(model.neck.register_forward_pre_hook(grab_neck_input))
    encode, enhance = bb.encode, bb.enhance

    def encode_hook(x):
        taps = encode(x)
        for k, t in enumerate(taps):
            keep(f'tap{k}', t)
        return taps

    def enhance_hook(feats):
        out = enhance(feats)
        keep('F_v', out[-1])
        return out
    bb.encode, bb.enhance = encode_hook, enhance_hook
    progress = ProgressBar(len(samples))
    try:
        for start in range(0, len(samples), batch_size):
            batch = samples[start:start + batch_size]
            model.test_step(pseudo_collate(batch))
            for _ in batch:
                progress.update()
    finally:
        bb.encode, bb.enhance = encode, enhance
        for h in hooks:
            h.remove()
    return stages


def main() -> None:
    args = parse_args()
    if args.json:
        args.json = check_output_file(args.json, args.overwrite)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(args.seed)
    model = init_refer_model(cfg, args.checkpoint)
    model.share_image_encoding = False
    ds_cfg = cfg.test_dataloader.dataset
    if args.split:
        ds_cfg.split = args.split
    dataset = DATASETS.build(ds_cfg)
    # first sentence of the first num_images images
    picks, seen = [], set()
    for i in range(len(dataset)):
        img = dataset.get_data_info(i)['img_path']
        if img not in seen:
            seen.add(img)
            picks.append(i)
        if len(picks) == args.num_images:
            break
    samples = [dataset[i] for i in picks]
    stages = collect(model, samples)
    results = {}
    print(f'\nridge probe of pixel x/y, R^2 on held-out pixels '
          f'({len(samples)} images)')
    print(f'{"stage":<12}{"C":>6}{"grid":>9}{"R2 x":>8}{"R2 y":>8}')
    for name, maps in stages.items():
        fmap = torch.cat(maps)
        b, c, h, w = fmap.shape
        r2 = ridge_r2(_pixels(fmap), _xy(b, h, w), alpha=args.alpha,
                      seed=args.seed)
        results[name] = dict(x=round(r2[0], 3), y=round(r2[1], 3))
        print(f'{name:<12}{c:>6}{f"{h}x{w}":>9}{r2[0]:>8.3f}{r2[1]:>8.3f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    run_tool(main, 'position_probe.py')
