"""RISAM for mmsegmentation 1.x.

Importing ``projects.risam`` (directly or through
``custom_imports=dict(imports=['projects.risam'])``) registers every RISAM
model, dataset, transform and metric in mmseg's registries and allow-lists the
classes that mmengine's training checkpoints need under ``weights_only``
loading, so ``--resume`` works. It also makes mmengine read local checkpoints
(``load_from``, ``resume``, ``Pretrained`` init) with ``weights_only=True``
explicitly (:mod:`projects.risam.utils.checkpoint`).

Where mmsegmentation is not installed at all, it registers the model core
only (:mod:`projects.risam.models` without ``RISAM`` and its data
preprocessor; :class:`~projects.risam.models.RISAMCore` trains): torch,
mmengine, segment_anything and open_clip are all it imports. That is what
``tools/analysis_tools/gpu_check.py`` runs on a bare GPU machine
(docs/gpu_check.md).
"""
from .registry import WITH_MMSEG
from .utils import register_checkpoint_safe_globals, register_weights_only_loader
from .version import __version__

register_checkpoint_safe_globals()

if WITH_MMSEG:
    register_weights_only_loader()  # mmengine.runner: imports OpenCV
    from . import datasets, engine, evaluation, models  # noqa: E402,F401
    __all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models']
else:
    from . import models  # noqa: E402,F401
    __all__ = ['__version__', 'models']
