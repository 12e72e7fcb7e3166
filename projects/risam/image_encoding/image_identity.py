"""Which samples show the same image: the one rule used everywhere."""
from typing import Mapping, Optional

__all__ = ['SAME_IMAGE_KEY', 'image_key']

#: metainfo key that :class:`~projects.risam.models.RISAMDataPreProcessor`
#: sets on every data sample: the batch position of the first sample showing
#: the same image (read by the segmentor's shared image encoding)
SAME_IMAGE_KEY = 'same_image_as'


def image_key(meta: Mapping) -> Optional[str]:
    """The identity of a sample's image: ``img_id``, else ``img_path``.

    Used by the shared image encoding, the frozen-feature cache and
    :class:`~projects.risam.datasets.ImageGroupedSampler`; ``None`` when the
    sample names neither (such a sample is encoded on its own).
    """
    if meta.get('img_id') is not None:
        return str(meta['img_id'])
    if meta.get('img_path') is not None:
        return str(meta['img_path'])
    return None
