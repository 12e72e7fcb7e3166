"""The inputs of batch inference: which images, with which sentences.

An input is either a JSON Lines file, one ``{"image": "path", "sentences":
["...", ...]}`` per line (relative image paths are relative to the file's
folder), or a folder of images with a sentences file (one sentence per line,
applied to every image; the entries name the images by their file name).
"""
import json
import os
import os.path as osp
from typing import List, NamedTuple, Optional

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class InputError(Exception):
    """A bad input, with a one-line message naming the file or line."""


class Job(NamedTuple):
    """One image and its sentences.

    Attributes:
        name: the image as the results name it (as the input wrote it).
        disk: its path on disk.
        sentences: the sentences, in input order (``sentence_id`` = index).
    """
    name: str
    disk: str
    sentences: List[str]


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
            jobs.append(Job(item['image'], disk, item['sentences']))
    if not jobs:
        raise InputError(f'{path}: no entries')
    return jobs


def read_folder(folder: str, sentences_file: Optional[str]) -> List[Job]:
    """Jobs of a folder INPUT: every image (sorted by name) with every
    sentence of ``sentences_file``."""
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
    return [Job(n, osp.join(folder, n), list(sentences)) for n in names]


def check_jobs(jobs: List[Job], source: str) -> None:
    """Every image listed once, present on disk, with non-empty sentences."""
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


def read_jobs(source: str, sentences_file: Optional[str] = None) -> List[Job]:
    """The checked jobs of a JSONL file or of a folder with sentences."""
    if osp.isdir(source):
        jobs = read_folder(source, sentences_file)
    elif osp.isfile(source):
        if sentences_file:
            raise InputError('--sentences is only for a folder INPUT')
        jobs = read_jsonl(source)
    else:
        raise InputError(f'input not found: {source}')
    check_jobs(jobs, source)
    return jobs


__all__ = [
    'IMAGE_EXTENSIONS',
    'InputError',
    'Job',
    'check_jobs',
    'read_folder',
    'read_jobs',
    'read_jsonl',
]
