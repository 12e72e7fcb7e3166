"""Generate the RefShapes benchmark in the refer layout.

Usage::

    python tools/dataset_converters/make_refshapes.py data/refshapes --seed 0
    python tools/dataset_converters/make_refshapes.py data/grefshapes \\
        --generalized --seed 0

See :mod:`projects.risam.datasets.refshapes` for the content and splits.
``--generalized`` adds multi-target and no-target sentences and writes
gRefCOCO's layout (``instances.json``, ``grefs(unc).json``) instead
(:mod:`projects.risam.datasets.grefshapes`).
"""
import argparse
import time

from projects.risam.datasets.grefshapes import generate_grefshapes
from projects.risam.datasets.refshapes import generate_refshapes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='output folder (refer layout)')
    parser.add_argument('--train', type=int, default=3000,
                        help='train images (default 3000)')
    parser.add_argument('--val', type=int, default=300,
                        help='val images (default 300)')
    parser.add_argument('--test', type=int, default=300,
                        help='test images, halved into testA and testB')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, default=128,
                        help='image side in pixels (default 128)')
    parser.add_argument('--generalized', action='store_true',
                        help='add multi-target and no-target sentences '
                        '(gRefCOCO layout: grefs(unc).json)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.time()
    generate = generate_grefshapes if args.generalized else generate_refshapes
    counts = generate(
        args.out_dir,
        train=args.train,
        val=args.val,
        test=args.test,
        seed=args.seed,
        size=args.size)
    if args.generalized:
        what = '; '.join(
            f'{split}: ' + ', '.join(f'{n} {kind}' for kind, n in c.items())
            for split, c in counts.items())
        print(f'Generalized RefShapes written to {args.out_dir} (sentences '
              f'per kind, {what}) in {time.time() - start:.1f} s')
    else:
        refs = ', '.join(f'{k}: {v} refs' for k, v in counts.items())
        print(f'RefShapes written to {args.out_dir} ({refs}) '
              f'in {time.time() - start:.1f} s')


if __name__ == '__main__':
    main()
