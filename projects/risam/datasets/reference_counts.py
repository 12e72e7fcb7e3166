"""Published sizes of the referring-segmentation benchmarks.

``(expressions, images)`` per split, as reported for the public annotation
files:

- RefCOCO, RefCOCO+ (UNC splits): Yu et al., "Modeling Context in Referring
  Expressions", ECCV 2016, and the statistics of the refer toolkit
  (github.com/lichengunc/refer) for ``refs(unc).p``.
- G-Ref (UMD splits): Nagaraja et al., "Modeling Context Between Objects for
  Referring Expression Understanding", ECCV 2016 (``refs(umd).p``).
- G-Ref (Google splits): Mao et al., "Generation and Comprehension of
  Unambiguous Object Descriptions", CVPR 2016 (``refs(google).p``; no public
  test split).
- PhraseCut test: the RISAM paper, §4.1.2 (Wu et al., CVPR 2020).
- gRefCOCO: Liu et al., "GRES: Generalized Referring Expression
  Segmentation", CVPR 2023, and the RISAM paper §4.1.3 - a total over all
  splits only.
"""
import os.path as osp
import re
from typing import Dict, Optional, Tuple

__all__ = ['REFERENCE_COUNTS', 'reference_key']

Counts = Tuple[int, int]  # (expressions, images)

#: dataset key -> split -> (expressions, images); ``'total'`` = all splits.
REFERENCE_COUNTS: Dict[str, Dict[str, Counts]] = {
    'refcoco(unc)': {
        'train': (120624, 16994), 'val': (10834, 1500),
        'testA': (5657, 750), 'testB': (5095, 750)},
    'refcoco+(unc)': {
        'train': (120191, 16992), 'val': (10758, 1500),
        'testA': (5726, 750), 'testB': (4889, 750)},
    'refcocog(umd)': {
        'train': (80512, 21899), 'val': (4896, 1300),
        'test': (9602, 2600)},
    'refcocog(google)': {
        'train': (85474, 24698), 'val': (9536, 4650)},
    'phrasecut': {'test': (14354, 2545)},
    'grefcoco(unc)': {'total': (278232, 19994)},
}


def reference_key(dataset_cfg: dict) -> Optional[str]:
    """The :data:`REFERENCE_COUNTS` key of a dataset config, if any.

    Refer-layout datasets are recognised by their split file,
    ``<name>/refs(<splitBy>).p`` (``grefs`` for gRefCOCO); PhraseCut by its
    type.
    """
    kind = str(dataset_cfg.get('type', '')).split('.')[-1]
    if kind == 'PhraseCutDataset':
        return 'phrasecut'
    split_file = dataset_cfg.get('split_file')
    if not split_file:
        return None
    match = re.match(r'g?refs\((\w+)\)', osp.basename(str(split_file)))
    name = osp.basename(osp.dirname(str(split_file)).rstrip('/'))
    if not match or not name:
        return None
    key = f'{name.lower()}({match.group(1)})'
    return key if key in REFERENCE_COUNTS else None
