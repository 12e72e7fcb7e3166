"""The printed summary of the regression ratios."""
from typing import List

__all__ = ['SUMMARY_KEYS', 'report_lines']

#: the ratios of the printed table, in its order (a group's keys that are
#: not here are in the JSON only)
SUMMARY_KEYS = ('shared_encoding_speedup', 'encoder_time_ratio',
                'encoder_memory_ratio', 'encoder_max_abs_diff',
                'encoder_bf16_time_ratio', 'encoder_bf16_max_rel_err',
                'cache_train_speedup', 'cache_train_speedup_worker_reader',
                'cache_untimed_share',
                'second_sentence_time_ratio_tiny',
                'second_sentence_time_ratio_vit_b', 'onnx_decoder_time_ratio',
                'onnx_decoder_max_abs_diff', 'infer_late_early_ratio',
                'infer_overhead_ratio')


def report_lines(res: dict) -> List[str]:
    """The table of :data:`SUMMARY_KEYS` present in ``res`` (``invalid``
    for a None ratio), why each invalid ratio is, the cached iteration's
    stages and whether the shared predictions were identical."""
    lines = [f'{"metric":<34}{"value":>12}']
    for k in SUMMARY_KEYS:
        if k in res:
            value = 'invalid' if res[k] is None else f'{res[k]:.4g}'
            lines.append(f'{k:<34}{value:>12}')
    for k, why in res.get('invalid', {}).items():
        lines.append(f'{k} is invalid: {why}')
    if 'cache_worker_iter_stages_s' in res:
        lines.append('cached iteration (worker reader), seconds per stage: ' + ', '.join(
            f'{k} {v:.3f}' for k, v in res['cache_worker_iter_stages_s'].items()))
    if 'shared_identical_predictions' in res:
        lines.append('shared_identical_predictions: '
                     f'{res["shared_identical_predictions"]}')
    return lines
