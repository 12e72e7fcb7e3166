from ...registry import WITH_MMSEG
from .risam_core import RISAMCore

__all__ = ['RISAMCore']
if WITH_MMSEG:  # mmseg's BaseSegmentor API (projects/risam/registry.py)
    from .risam import RISAM  # noqa: F401
    __all__ += ['RISAM']
