"""The model zoo: the paper's numbers of a config, read from the metafiles
that the repository's ``model-index.yml`` names (OpenMMLab's layout), and a
table of a test run's metrics beside them."""
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import yaml

MODEL_INDEX = 'model-index.yml'

#: {split: {metric: (paper value, 'Dataset split, Tab. N ...')}}
PaperResults = Dict[str, Dict[str, Tuple[float, str]]]


def find_model_index(config: str | Path) -> Optional[Path]:
    """The ``model-index.yml`` of the repository holding ``config`` (the
    config's folder or a folder above it), else the one beside this
    package's source tree; None when there is none."""
    here = Path(__file__).resolve().parents[3]
    for folder in [*Path(config).resolve().parents, here]:
        if (folder / MODEL_INDEX).is_file():
            return folder / MODEL_INDEX
    return None


def load_models(index: Path) -> List[dict]:
    """Every ``Models`` entry of the metafiles that ``index`` imports."""
    data = yaml.safe_load(index.read_text()) or {}
    models: List[dict] = []
    for rel in data.get('Import', []):
        metafile = index.parent / rel
        if not metafile.is_file():
            raise FileNotFoundError(
                f'{index}: imports {rel}, which does not exist')
        models += (yaml.safe_load(metafile.read_text()) or {}).get(
            'Models', [])
    return models


def paper_results(name: str, index: Optional[Path]) -> PaperResults:
    """The paper's cells of the Model called ``name`` (a config's file name
    without ``.py``), by split: Results whose ``Source`` starts with
    "paper" (derived cells are left out: a test run has no such split or
    metric). Empty when ``index`` is None or has no such Model."""
    if index is None:
        return {}
    out: PaperResults = {}
    for model in load_models(index):
        if model.get('Name') != name:
            continue
        for result in model.get('Results', []):
            source = str(result.get('Source', ''))
            if not source.startswith('paper'):
                continue
            where = f"{result['Dataset']} {result['Split']}, " \
                    f"{source.removeprefix('paper, ')}"
            split = out.setdefault(str(result['Split']), {})
            for metric, value in result['Metrics'].items():
                split[metric] = (float(value), where)
    return out


def format_paper_comparison(results: Mapping[str, Mapping[str, float]],
                            paper: PaperResults) -> str:
    """One line per metric that both the run and the paper report, as
    ``split | metric | ours | paper | ours - paper | paper cell``; '' when
    none does."""
    rows = [['split', 'metric', 'ours', 'paper', 'ours - paper',
             'paper cell']]
    for split, metrics in results.items():
        for metric, ours in metrics.items():
            if metric not in paper.get(split, {}):
                continue
            value, where = paper[split][metric]
            rows.append([split, metric, f'{ours:.2f}', f'{value:.2f}',
                         f'{ours - value:+.2f}', where])
    if len(rows) == 1:
        return ''
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [' | '.join([*(c.rjust(w) for c, w in zip(row, widths)),
                         row[5]]) for row in rows]
    lines.insert(1, '-+-'.join('-' * w for w in widths) + '-+-' + '-' * 10)
    return '\n'.join(lines)


def paper_comparison(config: str | Path, name: Optional[str],
                     results: Mapping[str, Mapping[str, float]]) -> str:
    """The comparison table of a test run of ``config`` with the paper's
    cells of its Model (``name``, default: the config's file name), headed
    by the Model's name; '' when the metafiles have no cell for it."""
    name = name or Path(config).stem
    table = format_paper_comparison(
        results, paper_results(name, find_model_index(config)))
    if not table:
        return ''
    return f"the paper's numbers ({name}, {MODEL_INDEX}):\n{table}"


__all__ = ['MODEL_INDEX', 'find_model_index', 'format_paper_comparison',
           'load_models', 'paper_comparison', 'paper_results']
