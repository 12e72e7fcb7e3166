"""Check a downloaded dataset before training on it.

    python tools/dataset_converters/check_data.py CONFIG [--split S ...]
        [--strict] [--no-decode] [--cfg-options k=v ...] [--debug]

For each split (default: the config's train split and its test splits) the
tool builds the config's dataset and

- counts sentences and images and prints them beside the published counts
  (``projects/risam/datasets/reference_counts.py``); a deviation is a
  warning, and an error with ``--strict``;
- lists every invalid annotation, by the rules the datasets apply when they
  are built (``projects/risam/datasets/validation.py``): polygons of fewer
  than 3 points or no area inside the image, RLEs of another size, refs
  without a target;
- lists every missing, unreadable or truncated image (each image is decoded
  fully; ``--no-decode`` only checks existence and the end markers); when
  no image of a split is found, it names the folder it searched and the
  first missing files instead of listing them all.

It exits 1 with a summary when anything is wrong, else 0.
"""
import argparse
import copy
from collections import OrderedDict
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import projects.risam  # noqa: F401  (registers the datasets)
from projects.risam.datasets import ReferFormatError
from projects.risam.datasets.reference_counts import REFERENCE_COUNTS, reference_key
from projects.risam.datasets.validation import image_problem
from projects.risam.registry import DATASETS
from projects.risam.utils.cli import add_debug_argument, run_tool

_ALL_SPLITS = {'train', 'val', 'testA', 'testB'}  # gRefCOCO's
_FIRST_MISSING = 3  # missing files named when a whole split is missing


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--split', nargs='+', help='splits to check '
                        '(default: the train split and the test splits)')
    parser.add_argument('--strict', action='store_true',
                        help='a count that differs from the published one '
                        'is an error, not a warning')
    parser.add_argument('--no-decode', action='store_true',
                        help='do not decode images (existence and end '
                        'markers only)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    return parser.parse_args()


def default_splits(cfg: Config) -> List[str]:
    """The train split, then ``test_splits`` (or the val/test split)."""
    splits = [cfg.train_dataloader.dataset.get('split')]
    splits += list(cfg.get('test_splits', None) or [
        cfg.val_dataloader.dataset.get('split'),
        cfg.test_dataloader.dataset.get('split')])
    return list(OrderedDict.fromkeys(s for s in splits if s))


def split_dataset_cfg(cfg: Config, split: str) -> dict:
    """The config's dataset for ``split``, set up to list (not raise on)
    invalid samples and to run no pipeline."""
    train = cfg.train_dataloader.dataset
    ds = copy.deepcopy(train if train.get('split') == split
                       else cfg.test_dataloader.dataset)
    if 'split' in ds:
        ds.split = split
    ds.update(pipeline=[], skip_invalid=True, group_by_image=False,
              serialize_data=False, lazy_init=True)
    return ds


class EmptySplitError(ValueError):
    """A split with no valid sample left; ``lines`` say why."""

    def __init__(self, lines: List[str]) -> None:
        super().__init__(lines[0])
        self.lines = lines


def _empty_split_lines(split: str, dataset, error: Exception) -> List[str]:
    """The dataset's error, then the image folder it searched and the first
    missing files: what a user needs when a whole split's images are
    elsewhere than the config says."""
    lines = [f'split {split}: {error}']
    missing = sorted(r['img_path'] for r in getattr(dataset, 'skipped', [])
                     if r['kind'] == 'missing image' and r['img_path'])
    if missing:
        folder = dataset.data_prefix.get('img_path') or dataset.data_root
        shown = ', '.join(missing[:_FIRST_MISSING])
        more = len(missing) - _FIRST_MISSING
        lines.append(f'split {split}: no image found under {folder} '
                     f'(data_prefix.img_path); first missing: {shown}'
                     + (f' and {more:,} more' if more > 0 else ''))
    return lines


def check_split(split: str, ds_cfg: dict) -> dict:
    """Counts, skipped annotations and image paths of one split."""
    dataset = DATASETS.build(ds_cfg)
    try:
        dataset.full_init()
    except ReferFormatError as e:
        raise EmptySplitError(_empty_split_lines(split, dataset, e)) from e
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    images = {info['img_path'] for info in infos}
    annotations, missing = [], []
    for rec in dataset.skipped:
        if rec['kind'] == 'missing image' and rec['img_path']:
            missing.append(rec['img_path'])
        else:
            annotations.append(rec['message'])
        if rec['img_path']:
            images.add(rec['img_path'])
    sentences = len(infos) + sum(r['samples'] for r in dataset.skipped)
    return dict(sentences=sentences, images=sorted(images),
                annotations=annotations, missing=missing)


def count_row(split: str, result: dict,
              reference: Optional[tuple]) -> List[str]:
    """One table row: split, sentences, images and the published ones."""
    sents, imgs = result['sentences'], len(result['images'])
    if reference is None:
        return [split, f'{sents:,}', '-', f'{imgs:,}', '-', '']
    ok = (sents, imgs) == tuple(reference)
    return [split, f'{sents:,}', f'{reference[0]:,}', f'{imgs:,}',
            f'{reference[1]:,}', 'ok' if ok else 'DIFFERS']


def format_table(rows: List[List[str]]) -> str:
    head = ['split', 'sentences', 'published', 'images', 'published', '']
    rows = [head] + rows
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return '\n'.join('  '.join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
                     .rstrip() for r in rows)


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    splits = args.split or default_splits(cfg)

    results: Dict[str, dict] = {}
    problems: List[str] = []
    key = None
    for split in splits:
        ds_cfg = split_dataset_cfg(cfg, split)
        key = key or reference_key(ds_cfg)
        try:
            results[split] = check_split(split, ds_cfg)
        except EmptySplitError as e:
            problems.extend(e.lines)
        except ReferFormatError as e:
            problems.append(f'split {split}: {e}')
    reference = REFERENCE_COUNTS.get(key, {}) if key else {}

    paths = sorted({p for r in results.values() for p in r['images']})
    missing = {p for r in results.values() for p in r['missing']}
    print(f'checking {len(paths)} images of split(s) '
          f'{", ".join(results) or "-"}')
    bar = ProgressBar(len(paths)) if paths else None
    for path in paths:
        why = 'missing image: file not found' if path in missing \
            else image_problem(path, decode=not args.no_decode)
        if why:
            problems.append(f'{path}: {why}')
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    for split, result in results.items():
        problems.extend(result['annotations'])

    rows = [count_row(s, r, reference.get(s)) for s, r in results.items()]
    deviations = [r[0] for r in rows if r[-1] == 'DIFFERS']
    if 'total' in reference and results:
        # published as a total over all splits: compare it only then
        row = count_row('total', dict(
            sentences=sum(r['sentences'] for r in results.values()),
            images=paths), reference['total'])
        if not _ALL_SPLITS <= set(results):
            row[2] = row[4] = 'all splits only'
            row[5] = ''
        rows.append(row)
        if row[-1] == 'DIFFERS':
            deviations.append('total')
    print(f'\n{args.config}  ({key or "no published counts"})')
    print(format_table(rows))

    for line in problems:
        print(f'  {line}')
    summary = []
    if problems:
        summary.append(f'{len(problems)} problem(s) listed above')
    if deviations:
        what = ('counts differ from the published ones '
                f'({", ".join(deviations)})')
        if args.strict:
            summary.append(what)
        else:
            print(f'warning: {what}')
    if summary:
        raise SystemExit(f'check_data: {"; ".join(summary)}')
    print('check_data: ok')


if __name__ == '__main__':
    run_tool(main, 'check_data.py')
