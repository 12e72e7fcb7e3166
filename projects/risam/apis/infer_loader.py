"""Images decoded and resized ahead of the model: a torch Dataset over the
images of a batch-inference run, read by DataLoader workers."""
from typing import List, Optional, Sequence, Tuple

from mmcv.transforms import Compose
from mmengine.config import Config
from torch.utils.data import DataLoader, Dataset

from ..utils.cli import one_line
from .inference import image_pipeline, pack_image
from .risam_inferencer import read_image


class InferImages(Dataset):
    """``(index, path)`` pairs -> packed images: the config's test pipeline
    (resize, pack) on the decoded BGR image, the steps
    :func:`~projects.risam.apis.prepare_image` runs for an array.

    An item is ``dict(index, inputs=3 x h x w, data_sample)``, or
    ``dict(index, error='one line')`` for an image that cannot be read (the
    caller names the image; a worker does not raise).
    """

    def __init__(self, items: Sequence[Tuple[int, str]], cfg: Config) -> None:
        self.items = list(items)
        self.cfg = cfg
        self._pipeline: Optional[Compose] = None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict:
        index, path = self.items[k]
        if self._pipeline is None:  # built in the worker that uses it
            self._pipeline = image_pipeline(self.cfg)
        try:
            packed = pack_image(self._pipeline, read_image(path))
        except (OSError, ValueError) as e:
            return dict(index=index, error=one_line(e))
        return dict(index=index, inputs=packed['inputs'],
                    data_sample=packed['data_samples'])


def keep_list(batch: List[dict]) -> List[dict]:
    """Collate: the items as they are (each image keeps its own size)."""
    return batch


def infer_loader(items: Sequence[Tuple[int, str]], cfg: Config, *,
                 batch_size: int = 1, num_workers: int = 0) -> DataLoader:
    """Batches of :class:`InferImages` items in order; ``num_workers``
    processes decode the next images while the model runs."""
    return DataLoader(InferImages(items, cfg), batch_size=batch_size,
                      shuffle=False, num_workers=num_workers,
                      collate_fn=keep_list,
                      prefetch_factor=4 if num_workers else None)


__all__ = ['InferImages', 'infer_loader', 'keep_list']
