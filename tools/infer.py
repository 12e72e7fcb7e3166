"""Segment many images, each for its sentences, into one results file.

    python tools/infer.py CONFIG CHECKPOINT INPUT --out results.json
        [--sentences FILE] [--resume | --overwrite] [--threshold T]
        [--device cpu]

INPUT is either

* a JSON Lines file, one ``{"image": "path", "sentences": ["...", ...]}``
  per line (relative image paths are relative to the JSONL file's folder),
* or a folder of images together with ``--sentences FILE`` (one sentence
  per line, applied to every image; the entries name the images by their
  path relative to the folder).

``--out`` receives one JSON document::

    {"format": "risam-infer", "threshold": 0.35, "score": "...",
     "results": [{"image": "a.jpg", "sentence_id": 0, "sentence": "...",
                  "height": H, "width": W, "area": pixels,
                  "score": 0.87, "nothing_matches": false,
                  "segmentation": {"size": [H, W], "counts": "..."}}, ...]}

``segmentation`` is the binary mask at the image's size as COCO RLE
(``pycocotools.mask.decode`` reads it). ``score`` is the mean probability
``sigmoid(logit)`` over the pixels of the predicted mask, in [0, 1], and
0.0 for an empty mask. ``nothing_matches`` is true when the mask is empty
(no pixel above the threshold; ``area`` 0): the model says nothing in the
image matches the sentence.

Each image is encoded once for all its sentences. The file is rewritten
atomically (a temporary file moved over it) after every image, so an
interrupted run leaves a valid file with every entry it had finished.
``--resume`` continues into an existing ``--out``, running only the
(image, sentence) entries not yet in it; ``--overwrite`` starts afresh;
with neither, an existing ``--out`` is refused.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, List, Tuple

import numpy as np
from mmengine.utils import ProgressBar
from pycocotools import mask as mask_utils

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.apis import RISAMInferencer
from projects.risam.apis.risam_inferencer import mask_score
from projects.risam.utils.cli import one_line

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
FORMAT = 'risam-infer'
SCORE_DOC = ('mean sigmoid probability over the predicted mask pixels; '
             '0.0 for an empty mask')
Job = Tuple[str, str, List[str]]  # (name in results, path on disk, sentences)


class InputError(Exception):
    """A bad input, with a one-line message naming the file or line."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Segment images for their sentences into COCO RLE. '
        'Each result has "nothing_matches": true when its mask is empty at '
        'the threshold (nothing in the image matches the sentence).')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('input', help='JSONL file, or a folder of images '
                        '(with --sentences)')
    parser.add_argument('--out', required=True, help='results .json file')
    parser.add_argument('--sentences', help='sentences file (one per line) '
                        'for a folder INPUT')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--resume', action='store_true',
                      help='continue into an existing --out')
    mode.add_argument('--overwrite', action='store_true',
                      help='replace an existing --out')
    parser.add_argument('--threshold', type=float, default=None,
                        help="probability threshold (default: the config's)")
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    return parser.parse_args()


def read_jsonl(path: str) -> List[Job]:
    """Jobs of a JSONL input; one-line errors naming file and line."""
    jobs, root = [], osp.dirname(osp.abspath(path))
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f'{path} line {n}'
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f'{where}: not JSON ({e.msg})')
            if not isinstance(item, dict) or not isinstance(
                    item.get('image'), str) or not isinstance(
                        item.get('sentences'), list):
                raise InputError(f'{where}: expected {{"image": path, '
                                 f'"sentences": [...]}}')
            disk = item['image'] if osp.isabs(item['image']) else osp.join(
                root, item['image'])
            jobs.append((item['image'], disk, item['sentences']))
    if not jobs:
        raise InputError(f'{path}: no entries')
    return jobs


def read_folder(folder: str, sentences_file: str) -> List[Job]:
    """Jobs of a folder INPUT: every image with every sentence."""
    if not sentences_file:
        raise InputError(f'{folder} is a folder: give --sentences FILE')
    if not osp.isfile(sentences_file):
        raise InputError(f'sentences file not found: {sentences_file}')
    with open(sentences_file, encoding='utf-8') as f:
        sentences = [s.strip() for s in f if s.strip()]
    if not sentences:
        raise InputError(f'{sentences_file}: no sentences')
    names = sorted(n for n in os.listdir(folder)
                   if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise InputError(f'{folder}: no images '
                         f'({", ".join(IMAGE_EXTENSIONS)})')
    return [(n, osp.join(folder, n), list(sentences)) for n in names]


def check_jobs(jobs: List[Job], source: str) -> None:
    seen = set()
    for name, disk, sentences in jobs:
        if name in seen:
            raise InputError(f'{source}: image {name} is listed twice')
        seen.add(name)
        if not osp.isfile(disk):
            raise InputError(f'{source}: image not found: {disk}')
        if not sentences:
            raise InputError(f'{source}: image {name} has no sentences')
        for i, s in enumerate(sentences):
            if not isinstance(s, str) or not s.strip():
                raise InputError(f'{source}: image {name}: sentence {i} is '
                                 f'empty or not a string')


def load_results(path: str, threshold: float) -> Dict[Tuple[str, int], dict]:
    """Entries of an existing results file, keyed by (image, sentence_id)."""
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f'cannot resume from {path}: {e}')
    if not isinstance(doc, dict) or doc.get('format') != FORMAT:
        raise InputError(f'cannot resume from {path}: not a {FORMAT} '
                         f'results file')
    if doc.get('threshold') != threshold:
        raise InputError(f'cannot resume from {path}: it was made with '
                         f'threshold {doc.get("threshold")}, this run uses '
                         f'{threshold}')
    return {(e['image'], e['sentence_id']): e for e in doc['results']}


def save_results(path: str, entries: List[dict], threshold: float) -> None:
    """Write the results atomically: a temporary file, then a rename."""
    doc = dict(format=FORMAT, threshold=threshold, score=SCORE_DOC,
               results=entries)
    folder = osp.dirname(osp.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.infer-', suffix='.json')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def rle_entry(name: str, sentence_id: int, sentence: str, sample) -> dict:
    mask = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    rle = mask_utils.encode(np.asfortranarray(mask))
    h, w = mask.shape
    return dict(image=name, sentence_id=sentence_id, sentence=sentence,
                height=int(h), width=int(w), area=int(mask.sum()),
                score=round(mask_score(sample.seg_logits.data,
                                       sample.pred_sem_seg.data[0]), 6),
                nothing_matches=bool(sample.nothing_matches),
                segmentation=dict(size=[int(h), int(w)],
                                  counts=rle['counts'].decode('ascii')))


def run(args: argparse.Namespace) -> None:
    if osp.isdir(args.input):
        jobs = read_folder(args.input, args.sentences)
    elif osp.isfile(args.input):
        if args.sentences:
            raise InputError('--sentences is only for a folder INPUT')
        jobs = read_jsonl(args.input)
    else:
        raise InputError(f'input not found: {args.input}')
    check_jobs(jobs, args.input)
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise InputError(f'file not found: {path}')
    if osp.exists(args.out) and not (args.resume or args.overwrite):
        raise InputError(f'{args.out} exists; use --resume to continue it or '
                         f'--overwrite to replace it')

    inferencer = RISAMInferencer(args.config, args.checkpoint, args.device,
                                 threshold=args.threshold, cache_size=0)
    threshold = float(inferencer.model.threshold)
    done = load_results(args.out, threshold) if (
        args.resume and osp.exists(args.out)) else {}
    for (name, sid), entry in done.items():
        job = next((j for j in jobs if j[0] == name), None)
        if job is not None and sid < len(job[2]) and \
                job[2][sid] != entry['sentence']:
            raise InputError(f'{args.out}: {name} sentence {sid} is '
                             f'{entry["sentence"]!r} there but '
                             f'{job[2][sid]!r} in {args.input}; use '
                             f'--overwrite or another --out')
    todo = [(name, disk, [(i, s) for i, s in enumerate(sentences)
                          if (name, i) not in done])
            for name, disk, sentences in jobs]
    todo = [job for job in todo if job[2]]
    total = sum(len(job[2]) for job in jobs)
    left = sum(len(job[2]) for job in todo)
    print(f'{left} of {total} entries to do ({total - left} already in '
          f'{args.out}), {len(todo)} images', flush=True)

    entries = dict(done)
    order = {(name, i): k for k, (name, i) in enumerate(
        (name, i) for name, _, sentences in jobs
        for i in range(len(sentences)))}

    def ordered() -> List[dict]:
        return sorted(entries.values(), key=lambda e: order.get(
            (e['image'], e['sentence_id']), len(order)))

    if not todo and not osp.exists(args.out):
        save_results(args.out, ordered(), threshold)
    progress = ProgressBar(len(todo)) if todo else None
    for name, disk, pending in todo:
        try:
            embedding, _ = inferencer.encode(disk)
        except (OSError, ValueError) as e:
            raise InputError(f'{args.input}: {name}: {e}')
        samples = inferencer.segment(embedding, [s for _, s in pending])
        for (i, sentence), sample in zip(pending, samples):
            entries[(name, i)] = rle_entry(name, i, sentence, sample)
        save_results(args.out, ordered(), threshold)
        progress.update()
    if progress is not None:
        print()
    print(f'{len(entries)} entries in {args.out}')


def main() -> None:
    args = parse_args()
    try:
        run(args)
    except InputError as e:
        sys.exit(f'infer: {e}')
    except (RuntimeError, FileNotFoundError) as e:
        # a checkpoint that does not match the config, a missing encoder file
        sys.exit(f'infer: {one_line(e)}')


if __name__ == '__main__':
    main()
