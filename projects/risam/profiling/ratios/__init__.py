"""The regression ratios: speed of RISAM's optimised paths against their
baselines, each pair measured in one process on the same inputs and random
weights (``.dev_scripts/benchmark_ratios.py`` is their command line).

- :mod:`.groups`: the table of groups (``shared``, ``encoder``, ``bf16``,
  ``cache``, ``interactive``) and :func:`run_groups`.
- :mod:`.shared`, :mod:`.encoder`, :mod:`.bf16`, :mod:`.cache`,
  :mod:`.interactive`: one group each.
- :mod:`.common`: the quick encoder, the sentences, the models.
- :mod:`.report`: the printed summary.
"""
from .groups import GROUPS, RatioSettings, ratio_settings, run_groups
from .report import SUMMARY_KEYS, report_lines

__all__ = ['GROUPS', 'SUMMARY_KEYS', 'RatioSettings', 'ratio_settings', 'report_lines',
           'run_groups']
