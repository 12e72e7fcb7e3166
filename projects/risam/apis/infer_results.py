"""The results files of batch inference: append-only JSON Lines parts, their
repair and reading on resume, and the final merge in input order.

A part file (``OUT.part.jsonl``, or ``OUT.part.rank{r}.jsonl`` per process of
a distributed run) starts with a header line ``{"format": "risam-infer",
"threshold": T, "score": "..."}``; every further line is one result entry
(one image and sentence), appended as the run goes. A process killed while
writing leaves at most a torn last line: :func:`repair_part` cuts it off, and
that entry is done again.

The final ``--out`` is written once, at the end, from the parts:

* ``json``: one document ``{"format", "threshold", "score", "results":
  [entry, ...]}``, byte for byte what ``json.dump`` writes for it;
* ``jsonl``: the header line, then one entry per line.

Both list the entries in input order (images as listed, then sentence id).
"""
import glob
import json
import os
import os.path as osp
import tempfile
import time
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from .infer_inputs import InputError, Job
from .risam_inferencer import mask_score

FORMAT = 'risam-infer'
SCORE_DOC = ('mean sigmoid probability over the predicted mask pixels; '
             '0.0 for an empty mask')
Key = Tuple[str, int]  # (image name, sentence_id)


def header(threshold: float) -> dict:
    """The first line of a part or ``jsonl`` output (the document's keys
    without ``results``)."""
    return dict(format=FORMAT, threshold=threshold, score=SCORE_DOC)


def rle_entry(name: str, sentence_id: int, sentence: str, sample) -> dict:
    """One result entry: the sample's mask as COCO RLE, with its score."""
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


def part_path(out: str, rank: int = 0, world_size: int = 1) -> str:
    """This process's part file next to ``out``."""
    if world_size == 1:
        return f'{out}.part.jsonl'
    return f'{out}.part.rank{rank}.jsonl'


def existing_parts(out: str) -> List[str]:
    """Every part file of ``out`` on disk (any world size), sorted."""
    base = glob.escape(out)
    paths = glob.glob(f'{base}.part.jsonl') + glob.glob(
        f'{base}.part.rank*.jsonl')
    return sorted(p for p in paths if osp.isfile(p))


class EntryIndex:
    """Input order of the entries: ``(image, sentence_id)`` -> position."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = jobs
        self._start: Dict[str, Tuple[int, int]] = {}
        total = 0
        for k, job in enumerate(jobs):
            self._start[job.name] = (k, total)
            total += len(job.sentences)
        self.total = total

    def slot(self, name: str, sentence_id: int) -> Optional[int]:
        """Position of the entry in the output, or None if the input has no
        such image and sentence."""
        where = self._start.get(name)
        if where is None or not isinstance(sentence_id, int) or not (
                0 <= sentence_id < len(self.jobs[where[0]].sentences)):
            return None
        return where[1] + sentence_id

    def sentence(self, name: str, sentence_id: int) -> str:
        return self.jobs[self._start[name][0]].sentences[sentence_id]


class PartWriter:
    """Appends each image's entries to a part file as JSON Lines.

    The file is opened once; every :meth:`write` flushes (an interrupted
    run loses at most the image in progress), and the file is made durable
    (``os.fsync``) once ``sync_images`` images or ``sync_seconds`` seconds
    have passed since the last sync, and on :meth:`close`. Nothing already
    written is read or written again.

    Args:
        path: the part file; created with the header line if absent.
        threshold: the header's threshold.
        sync_images: fsync after this many images (None: no image bound).
        sync_seconds: fsync after this many seconds (None: no time bound).
    """

    def __init__(self, path: str, threshold: float, *,
                 sync_images: Optional[int] = None,
                 sync_seconds: Optional[float] = 10.0) -> None:
        self.path = path
        self.sync_images, self.sync_seconds = sync_images, sync_seconds
        new = not osp.isfile(path) or osp.getsize(path) == 0
        self._file = open(path, 'a', encoding='utf-8')
        #: counters (tests prove the cost per image is flat with them)
        self.bytes_written = self.entries_written = self.syncs = 0
        self._since_sync, self._last_sync = 0, time.monotonic()
        if new:
            self._append(json.dumps(header(threshold)) + '\n')
            self.sync()

    def _append(self, text: str) -> None:
        self._file.write(text)
        self.bytes_written += len(text.encode('utf-8'))

    def write(self, entries: Sequence[dict]) -> None:
        """Append one image's entries and flush; fsync when due."""
        self._append(''.join(json.dumps(e) + '\n' for e in entries))
        self._file.flush()
        self.entries_written += len(entries)
        self._since_sync += 1
        due_images = self.sync_images is not None and \
            self._since_sync >= self.sync_images
        due_time = self.sync_seconds is not None and \
            time.monotonic() - self._last_sync >= self.sync_seconds
        if due_images or due_time:
            self.sync()

    def sync(self) -> None:
        """Flush and fsync now."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self.syncs += 1
        self._since_sync, self._last_sync = 0, time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self) -> 'PartWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def repair_part(path: str) -> int:
    """Cut a torn last line (no newline: the writer was killed) off a part
    file; returns the number of bytes removed. Reads only the file's tail."""
    with open(path, 'rb+') as f:
        size = f.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - 65536)
            f.seek(start)
            chunk = f.read(end - start)
            cut = chunk.rfind(b'\n')
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        else:
            keep = 0
        if keep < size:
            f.truncate(keep)
        return size - keep


def _lines(path: str) -> Iterator[Tuple[int, int, bytes]]:
    """``(line number, byte offset, line)`` of the complete lines."""
    with open(path, 'rb') as f:
        offset = 0
        for n, line in enumerate(f, 1):
            if not line.endswith(b'\n'):
                return  # torn (only a run in progress leaves one)
            yield n, offset, line
            offset += len(line)


def _check_header(path: str, line: bytes, threshold: float) -> None:
    try:
        head = json.loads(line)
    except json.JSONDecodeError:
        head = None
    if not isinstance(head, dict) or head.get('format') != FORMAT or \
            'results' in head:
        raise InputError(f'cannot resume from {path}: not a {FORMAT} '
                         f'JSON Lines file')
    if head.get('threshold') != threshold:
        raise InputError(f'cannot resume from {path}: it was made with '
                         f'threshold {head.get("threshold")}, this run uses '
                         f'{threshold}')


def _entries(path: str, threshold: float) -> Iterator[Tuple[int, int, bytes,
                                                            dict]]:
    """``(line number, offset, line, entry)`` of a part, header checked."""
    for n, offset, line in _lines(path):
        if n == 1:
            _check_header(path, line, threshold)
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f'{path} line {n}: not JSON ({e.msg})')
        if not isinstance(entry, dict) or 'image' not in entry or \
                'sentence_id' not in entry:
            raise InputError(f'{path} line {n}: not a result entry')
        yield n, offset, line, entry


def load_done(paths: Sequence[str], index: EntryIndex, threshold: float,
              source: str) -> Set[Key]:
    """The entries already in the parts, checked against this input: same
    threshold, and the same sentence text for every entry of a listed
    image. One pass over each file."""
    done: Set[Key] = set()
    for path in paths:
        for _, _, _, entry in _entries(path, threshold):
            name, sid = entry['image'], entry['sentence_id']
            if index.slot(name, sid) is not None and \
                    index.sentence(name, sid) != entry.get('sentence'):
                raise InputError(
                    f'{path}: {name} sentence {sid} is '
                    f'{entry.get("sentence")!r} there but '
                    f'{index.sentence(name, sid)!r} in {source}; use '
                    f'--overwrite or another --out')
            done.add((name, sid))
    return done


def seed_part(out: str, part: str, threshold: float) -> None:
    """Start a part from a finished ``out`` (``--resume`` into a final
    output): its entries become the part's lines, written to a temporary
    file and moved into place, so a kill leaves no half part behind."""
    try:
        with open(out, encoding='utf-8') as f:
            first = f.readline()
            doc = json.loads(first)
            if isinstance(doc, dict) and 'results' not in doc:
                _check_header(out, first.encode('utf-8'), threshold)
                lines = [first] + [line for line in f if line.endswith('\n')]
                entries = None
            else:
                doc = json.loads(first + f.read())
                entries = doc.get('results') if isinstance(doc, dict) \
                    else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f'cannot resume from {out}: {e}')
    if entries is not None:
        if doc.get('format') != FORMAT or not isinstance(entries, list):
            raise InputError(f'cannot resume from {out}: not a {FORMAT} '
                             f'results file')
        if doc.get('threshold') != threshold:
            raise InputError(f'cannot resume from {out}: it was made with '
                             f'threshold {doc.get("threshold")}, this run '
                             f'uses {threshold}')
        lines = [json.dumps(header(threshold)) + '\n'] + [
            json.dumps(e) + '\n' for e in entries]
    _write_atomic(part, lines)


def _write_atomic(path: str, chunks) -> None:
    """Write ``chunks`` (str) to a temporary file, fsync, move over
    ``path``; a failure removes the temporary file."""
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(osp.abspath(path)),
                               prefix='.infer-', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def merge_parts(parts: Sequence[str], out: str, index: EntryIndex,
                threshold: float, fmt: str = 'json') -> int:
    """Write ``out`` once from the parts, entries in input order (entries of
    images or sentences the input no longer lists keep their place after
    them), then remove the parts. Two passes: one indexes each part's lines
    by their position, the second copies the lines in order.

    Returns:
        The number of entries written.

    Raises:
        InputError: an entry of the input is in no part (a process did not
            finish its share).
    """
    if fmt not in ('json', 'jsonl'):
        raise ValueError(f'format must be json or jsonl, got {fmt!r}')
    where: List[Optional[Tuple[int, int, int]]] = [None] * index.total
    extra: List[Tuple[int, int, int]] = []
    seen_extra: Set[Key] = set()
    for p, path in enumerate(parts):
        for _, offset, line, entry in _entries(path, threshold):
            slot = index.slot(entry['image'], entry['sentence_id'])
            if slot is not None:
                where[slot] = (p, offset, len(line))
            elif (entry['image'], entry['sentence_id']) not in seen_extra:
                seen_extra.add((entry['image'], entry['sentence_id']))
                extra.append((p, offset, len(line)))
    missing = next((k for k, w in enumerate(where) if w is None), None)
    if missing is not None:
        count = sum(w is None for w in where)
        raise InputError(f'{count} entries are in no part file of {out} '
                         f'(the first: entry {missing} in input order); '
                         f'run again with --resume')
    files = [open(path, 'rb') for path in parts]
    try:
        def lines() -> Iterator[str]:
            for p, offset, length in [*where, *extra]:
                files[p].seek(offset)
                yield files[p].read(length).decode('utf-8')

        if fmt == 'jsonl':
            chunks = _jsonl_chunks(threshold, lines())
        else:
            chunks = _document_chunks(threshold, lines())
        _write_atomic(out, chunks)
    finally:
        for f in files:
            f.close()
    for path in parts:
        os.remove(path)
    return len(where) + len(extra)


def _jsonl_chunks(threshold: float, lines: Iterator[str]) -> Iterator[str]:
    yield json.dumps(header(threshold)) + '\n'
    yield from lines


def _document_chunks(threshold: float,
                     lines: Iterator[str]) -> Iterator[str]:
    """The document ``json.dumps`` would write, from the entries' lines."""
    head = json.dumps(dict(header(threshold), results=[]))
    yield head[:-2]  # without the closing ']}'
    for k, line in enumerate(lines):
        yield (', ' if k else '') + line.rstrip('\n')
    yield ']}'


__all__ = [
    'FORMAT',
    'SCORE_DOC',
    'EntryIndex',
    'PartWriter',
    'existing_parts',
    'header',
    'load_done',
    'merge_parts',
    'part_path',
    'repair_part',
    'rle_entry',
    'seed_part',
]
