"""Example images with sentences for the web demo, from a config's data.

RefShapes (``refs(unc).p``) has single-target sentences only; generalized
RefShapes (``grefs(unc).json``, gRefCOCO layout) also has multi-target and
no-target ones, each sentence tagged with its ``kind`` (``single``,
``multi``, ``none``) and fine ``type``. The examples are val sentences of
every kind present, of different fine types within a kind, on different
images where the split has enough of them, in the order of the refs file
(so the same data gives the same examples).
"""
import os.path as osp
from typing import Dict, List, NamedTuple, Set

from mmengine.config import Config

from ..datasets.refer_io import load_refs

KIND_ORDER = ('single', 'multi', 'none')


class DemoExample(NamedTuple):
    """One example: the image file, a sentence, its coarse kind and fine
    expression type."""
    image: str
    sentence: str
    kind: str
    type: str


def demo_examples(cfg: Config, split: str = 'val',
                  per_kind: int = 2) -> List[DemoExample]:
    """Up to ``per_kind`` sentences of each kind (single, multi, none) of
    the ``split`` refs named by ``cfg.val_dataloader.dataset``
    (``data_root``, ``split_file``, ``data_prefix.img_path``).

    Returns ``[]`` when the refs file is not there (the data has not been
    generated); a refs file that cannot be read is an error naming it.
    Sentences whose image file is missing are skipped.
    """
    dataset = cfg.get('val_dataloader', {}).get('dataset', {})
    root = dataset.get('data_root', '') or ''
    split_file = dataset.get('split_file')
    if not split_file:
        return []
    refs_path = osp.join(root, split_file)
    if not osp.isfile(refs_path):
        return []
    prefix = (dataset.get('data_prefix') or {}).get('img_path', 'images')
    candidates = []  # (image, sentence dict) of the split, in file order
    for ref in load_refs(refs_path):
        if ref.get('split') != split or 'file_name' not in ref:
            continue
        image = osp.join(root, prefix, ref['file_name'])
        if osp.isfile(image):
            candidates += [(image, s) for s in ref.get('sentences', [])]
    chosen: Dict[str, List[DemoExample]] = {k: [] for k in KIND_ORDER}
    images: Set[str] = set()
    # the rarer kinds pick first; other images first, then any image
    for fresh_images_only in (True, False):
        for kind in reversed(KIND_ORDER):
            for image, sent in candidates:
                etype = sent.get('type', kind)
                if len(chosen[kind]) >= per_kind:
                    break
                if sent.get('kind', 'single') != kind or etype in {
                        e.type for e in chosen[kind]} or (
                            fresh_images_only and image in images):
                    continue
                chosen[kind].append(
                    DemoExample(image, sent['sent'], kind, etype))
                images.add(image)
    return [e for k in KIND_ORDER for e in chosen[k]]


__all__ = ['KIND_ORDER', 'DemoExample', 'demo_examples']
