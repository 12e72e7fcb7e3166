"""The first images of a config's test (or val) dataset, with all their
sentences, loaded once through the config's dataloader and kept in memory
as batches of the loader's size (what :mod:`.throughput` times)."""
import copy
import os.path as osp
from typing import List, NamedTuple

__all__ = ['BenchmarkImages', 'check_data_folder', 'load_benchmark_images']


class BenchmarkImages(NamedTuple):
    """``batches``: ``dict(inputs=[3 x H x W uint8], data_samples=[...])``
    in loader order; ``images``/``sentences``: how many of each they hold."""
    batches: List[dict]
    images: int
    sentences: int


def check_data_folder(dataset_cfg) -> None:
    """Raise ``FileNotFoundError`` (one line, naming the folder or file)
    when the dataset's ``data_root``, its image folder or its annotation
    files are missing."""
    root = dataset_cfg.get('data_root', '') or ''
    hint = (' (point the config at the data, e.g. '
            '--cfg-options test_dataloader.dataset.data_root=DIR)')
    if not osp.isdir(root):
        raise FileNotFoundError(f'dataset folder not found: {root}{hint}')
    img_dir = osp.join(root, (dataset_cfg.get('data_prefix') or {}).get('img_path', ''))
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image folder not found: {img_dir}{hint}')
    for key in ('ann_file', 'split_file'):
        name = dataset_cfg.get(key)
        if name and not osp.isfile(osp.join(root, name)):
            raise FileNotFoundError(f'{key} not found: {osp.join(root, name)}{hint}')


def load_benchmark_images(cfg, num_images: int) -> BenchmarkImages:
    """Every sentence of the first ``num_images`` images (fewer if the split
    has fewer) of ``cfg.test_dataloader`` (else ``val_dataloader``), read in
    the main process (no workers) with the config's dataset, pipeline and
    sampler, re-batched to the loader's batch size.

    The images of a batch keep their order; an image is identified by
    :func:`~projects.risam.image_encoding.image_key`.
    """
    from mmengine.runner import Runner

    from projects.risam.image_encoding import image_key
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    loader_cfg = copy.deepcopy(cfg.get('test_dataloader') or cfg.val_dataloader)
    check_data_folder(loader_cfg.dataset)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    inputs, samples, seen = [], [], set()
    for data in loader:
        for img, ds in zip(data['inputs'], data['data_samples']):
            key = image_key(ds.metainfo)
            if key not in seen and len(seen) == num_images:
                break
            seen.add(key)
            inputs.append(img)
            samples.append(ds)
        else:
            continue
        break
    size = loader_cfg.batch_size
    batches = [dict(inputs=inputs[i:i + size], data_samples=samples[i:i + size])
               for i in range(0, len(samples), size)]
    return BenchmarkImages(batches, len(seen), len(samples))
