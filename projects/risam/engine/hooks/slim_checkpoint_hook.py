"""Checkpoints hold what was trained.

The frozen encoders of the paper's model (SAM ViT-H, 2.5 GB, and the CLIP
text tower) load their weights from their own files, named in the config
(``SAMBackbone(checkpoint=...)``, ``CLIPTokenEncoder(pretrained=...)``).
Saving them again in every checkpoint made each ``epoch_N.pth`` and
``best_*.pth`` of a ViT-H run about 2.9 GB for 5.8 M trained parameters.
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...registry import HOOKS
from ...utils.checkpoint import fill_frozen_weights, leave_out_frozen_weights


@HOOKS.register_module()
class SlimCheckpointHook(Hook):
    """Leave frozen encoder weights that come from their own files out of
    every saved checkpoint (``best`` ones included: mmengine saves all of
    them through ``Runner.save_checkpoint``), and put them back at load.

    - ``before_save_checkpoint``: the keys under the model's
      ``frozen_pretrained_prefixes`` are dropped from ``state_dict``; the
      prefixes are recorded in ``meta['frozen_weights_from_files']``.
    - ``after_load_checkpoint`` (``resume``, ``load_from``): the missing
      frozen keys are filled from the model as the config built it, i.e.
      from the encoders' own files; when resuming, the checkpoint must fit
      the model otherwise exactly (mmengine loads with ``strict=False``,
      which would silently keep random weights for a missing key).

    A full checkpoint (old runs, ``tools/model_converters/full_checkpoint.py``)
    still loads: nothing is missing, so nothing is filled.
    """

    priority = 'VERY_LOW'

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        left_out = leave_out_frozen_weights(checkpoint, self._model(runner))
        if left_out:
            runner.logger.debug(f'checkpoint: {left_out} frozen encoder '
                                'entries left out (loaded from their files)')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        filled = fill_frozen_weights(
            checkpoint, self._model(runner),
            strict=bool(getattr(runner, '_resume', False)),
            source=getattr(runner, '_load_from', None) or 'checkpoint')
        if filled:
            runner.logger.info(f'checkpoint: {filled} frozen encoder entries '
                               "taken from the config's encoder files")
