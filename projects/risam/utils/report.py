"""Benchmark report: one row per split, the RIS metrics as columns."""
from typing import List, Mapping

# Column order of the paper's tables (oIoU is the paper's "IoU").
MAIN_KEYS = ('oIoU', 'mIoU', 'Pr@50', 'Pr@60', 'Pr@70', 'Pr@80', 'Pr@90')
GREFER_KEYS = ('gIoU', 'cIoU', 'N-acc', 'T-acc')


def format_metric_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """Render ``{split: {metric: value}}`` as an aligned plain-text table.

    The paper's columns come first, then gRefCOCO's, then any other key
    (e.g. per-expression-type ``oIoU/colour``) in sorted order. A metric a
    split does not report shows as ``-``.
    """
    present = {k for metrics in results.values() for k in metrics}
    columns: List[str] = [k for k in MAIN_KEYS + GREFER_KEYS if k in present]
    columns += sorted(present.difference(columns))
    header = ['split'] + columns
    rows = [header]
    for split, metrics in results.items():
        rows.append([split] + [
            f'{metrics[c]:.2f}' if c in metrics else '-' for c in columns
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [' | '.join(cell.rjust(w) for cell, w in zip(row, widths))
             for row in rows]
    lines.insert(1, '-+-'.join('-' * w for w in widths))
    return '\n'.join(lines)
