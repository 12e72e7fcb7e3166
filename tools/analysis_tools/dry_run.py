"""A full-size dry run of a training config: what a step costs, measured.

    python tools/analysis_tools/dry_run.py CONFIG [--iters N] [--data-root DIR]
        [--val-samples K] [--work-dir DIR] [--json OUT [--overwrite]]
        [--cfg-options k=v ...] [--debug]

The config is built as written (model, input size, per-GPU batch, optimizer,
checkpoint hook). Then, with mmengine's runner, the dry run

1. trains ``N`` iterations (``N x batch`` sentences of the train split),
2. validates ``K`` samples of the val split,
3. saves the checkpoint as the config's hook does,
4. resumes from that checkpoint once and trains one more iteration.

Where a frozen encoder's checkpoint file (``model.backbone.checkpoint`` of a
``SAMBackbone``, ``model.text_encoder.pretrained`` of a
``CLIPTokenEncoder``) does not exist, random weights of that architecture
are written to a temporary file in the official format (segment_anything's
``sam_model_registry[arch]()`` state dict; open_clip's
``create_model(name)`` state dict) and the config points at it: loading,
checkpoints and resume then behave as with the real weights, and the
checkpoint size reported is the real one. The first line printed says so,
and so does the JSON (``random_weights``).

Without ``--data-root`` a small refer-format dataset is written at COCO's
image sizes (640 x 480 and 427 x 640; RefShapes drawn at 640 px and scaled),
with sentences up to the config's word limit, in the files the config names.

Reported (``--json``): seconds per training iteration and per stage
(``encode``, ``enhance``, ``text``, ``fusion``, ``decode``,
``loss_backward``, ``optimizer``; on CUDA every boundary synchronises),
seconds per validated sample, checkpoint save and resume times, the peak
host memory (and the peak GPU memory on CUDA), the checkpoint's size and the
trainable and frozen parameter counts.

The run is :func:`projects.risam.profiling.dry_run.dry_run`; this file parses,
prints and writes the JSON.
"""
import argparse
import json
from typing import List, Optional

from mmengine.config import DictAction

from projects.risam.profiling.dry_run import dry_run, summary
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import check_output_file, write_text


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=2,
                        help='training iterations before the checkpoint')
    parser.add_argument('--data-root',
                        help='a refer-format dataset (default: generated)')
    parser.add_argument('--val-samples', type=int, default=None,
                        help='samples validated (default: one val batch)')
    parser.add_argument('--work-dir',
                        help='keep the run here (a new or empty folder); '
                        'default: a temporary folder, removed at the end')
    parser.add_argument('--json', help='write the figures here')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --json file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error('--iters must be >= 1')
    if args.val_samples is not None and args.val_samples < 1:
        parser.error('--val-samples must be >= 1')
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if args.json:
        args.json = check_output_file(args.json, args.overwrite)
    report = dry_run(args.config, iters=args.iters, data_root=args.data_root,
                     val_samples=args.val_samples, work_dir=args.work_dir,
                     cfg_options=args.cfg_options,
                     announce=lambda line: print(line, flush=True))
    print(summary(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + '\n')
        print(f'dry_run: wrote {args.json}')
    return report


if __name__ == '__main__':
    run_tool(main, 'dry_run.py')
