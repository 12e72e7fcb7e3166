"""Segment many images, each for its sentences, into one results file.

    python tools/infer.py CONFIG CHECKPOINT INPUT --out results.json
        [--sentences FILE] [--resume | --overwrite] [--threshold T]
        [--format json|jsonl] [--batch-size 8] [--num-workers 2]
        [--sync-every 10s] [--device cpu]
    bash tools/dist_infer.sh CONFIG CHECKPOINT INPUT N [the same options]

INPUT is a JSON Lines file, one ``{"image": "path", "sentences": ["...",
...]}`` per line (relative paths are relative to its folder), or a folder of
images with ``--sentences FILE`` (one sentence per line, for every image).

``--out`` ends as one document ``{"format": "risam-infer", "threshold": T,
"score": "...", "results": [{"image", "sentence_id", "sentence", "height",
"width", "area", "score", "nothing_matches", "segmentation": COCO RLE}]}``
(``--format jsonl``: a header line, then one entry per line), entries in
input order, written once at the end. While the run goes, each image's
entries are appended to ``OUT.part.jsonl`` (``OUT.part.rank{r}.jsonl`` per
process), flushed per image and fsynced every ``--sync-every``. ``--resume``
continues a killed run (or a finished ``--out``), doing only what is
missing; ``--overwrite`` starts afresh; with neither an existing output is
refused. See docs/batch_inference.md.
"""
import argparse
import sys

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.apis.batch_inference import (
    InferOptions,
    finish_processes,
    run_batch_inference,
    start_processes,
)
from projects.risam.apis.infer_inputs import InputError
from projects.risam.utils.cli import one_line
from projects.risam.utils.launch import LaunchError


def sync_every(text: str):
    """``10s`` -> (None, 10.0) seconds; ``500`` -> (500, None) images."""
    try:
        if text.endswith('s'):
            value = float(text[:-1])
            if value > 0:
                return None, value
        elif int(text) > 0:
            return int(text), None
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f'expected images (e.g. 500) or seconds (e.g. 10s), got {text!r}')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Segment images for their sentences into COCO RLE. '
        'Each result has "nothing_matches": true when its mask is empty at '
        'the threshold (nothing in the image matches the sentence).')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('input', help='JSONL file, or a folder of images '
                        '(with --sentences)')
    parser.add_argument('--out', required=True, help='results file')
    parser.add_argument('--sentences', help='sentences file (one per line) '
                        'for a folder INPUT')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--resume', action='store_true',
                      help='continue a killed run or an existing --out')
    mode.add_argument('--overwrite', action='store_true',
                      help='replace an existing --out')
    parser.add_argument('--threshold', type=float, default=None,
                        help="probability threshold (default: the config's)")
    parser.add_argument('--format', choices=['json', 'jsonl'], default='json',
                        help='json: one document (default); jsonl: a header '
                        'line, then one entry per line')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per encoder pass')
    parser.add_argument('--num-workers', type=int, default=2,
                        help='processes that decode and resize the images')
    parser.add_argument('--sync-every', type=sync_every, default='10s',
                        help='fsync the part file every N images or every '
                        'Ns seconds (default 10s)')
    parser.add_argument('--device', default=None,
                        help='e.g. cpu, cuda:0 (default: cpu; with '
                        '--launcher pytorch: cuda:LOCAL_RANK)')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        help='set by tools/dist_infer.sh')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        device = start_processes(args.launcher, args.device)
        sync_images, sync_seconds = args.sync_every
        run_batch_inference(InferOptions(
            config=args.config, checkpoint=args.checkpoint, input=args.input,
            out=args.out, sentences=args.sentences, resume=args.resume,
            overwrite=args.overwrite, threshold=args.threshold, device=device,
            batch_size=args.batch_size, num_workers=args.num_workers,
            format=args.format, sync_images=sync_images,
            sync_seconds=sync_seconds))
    except (InputError, LaunchError) as e:
        sys.exit(f'infer: {e}')
    except (RuntimeError, FileNotFoundError) as e:
        # a checkpoint that does not match the config, a missing encoder file
        sys.exit(f'infer: {one_line(e)}')
    finally:
        finish_processes()


if __name__ == '__main__':
    main()
