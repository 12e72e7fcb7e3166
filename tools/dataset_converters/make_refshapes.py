"""Generate the RefShapes benchmark in the refer layout.

Usage::

    python tools/dataset_converters/make_refshapes.py data/refshapes --seed 0

See :mod:`projects.risam.datasets.refshapes` for the content and splits.
"""
import argparse
import time

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
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.time()
    counts = generate_refshapes(
        args.out_dir,
        train=args.train,
        val=args.val,
        test=args.test,
        seed=args.seed,
        size=args.size)
    refs = ', '.join(f'{k}: {v} refs' for k, v in counts.items())
    print(f'RefShapes written to {args.out_dir} ({refs}) '
          f'in {time.time() - start:.1f} s')


if __name__ == '__main__':
    main()
