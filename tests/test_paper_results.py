"""The paper's numbers: every RISAM cell of Tables 1-11 has a Model in
``configs/risam/metafile.yaml`` whose config exists, and the tables of
``configs/risam/README.md`` agree with it, cell by cell.

The transcription below is typed in the paper's own table layout (RISAM's
rows and its ablation rows; Pr@X, Train Params and the derived columns
included); the metafile is organised by config. A cell is keyed by (table,
row, column) and compared in both directions: every transcribed cell is in
the metafile (value, ``Source`` table, ``Paper Rows``) and in the README
(value, ``Source`` column), and every number of either is a transcribed
cell. Competitor rows are in the README only, without a config.
The checks are functions returning the problems they find, so that mutated
copies (a deleted README row, a wrong ``Source``, a wrong derived value)
can be shown to fail them.
"""
import re
from collections import defaultdict
from pathlib import Path
from typing import List, NamedTuple

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
METAFILE = REPO / 'configs/risam/metafile.yaml'
README = REPO / 'configs/risam/README.md'
PR = ['Pr@50', 'Pr@60', 'Pr@70', 'Pr@80', 'Pr@90', 'oIoU']
METRICS = PR + ['cIoU']  # README columns checked (not the derived ones)
DATASETS = {'refcoco': 'RefCOCO', 'refcoco+': 'RefCOCO+',
            'refcocog-umd': 'G-Ref (UMD)', 'refcocog-google': 'G-Ref (Google)',
            'grefcoco': 'gRefCOCO', 'phrasecut': 'PhraseCut'}
T1_SPLITS = [('refcoco', 'val'), ('refcoco', 'testA'), ('refcoco', 'testB'),
             ('refcoco+', 'val'), ('refcoco+', 'testA'),
             ('refcoco+', 'testB'), ('refcocog-umd', 'val'),
             ('refcocog-umd', 'test'), ('refcocog-google', 'val')]
VAL3 = ['refcoco', 'refcoco+', 'refcocog-umd']


def config(stem: str, ds: str) -> str:
    """Config path (relative to configs/risam) of a row on a dataset."""
    if stem == 'paper':
        return f'risam_sam-vit-h_8xb4-50e_{ds}-1024x1024.py'
    if stem.startswith('tab7'):
        return f'ablations/risam-{stem}_8xb4-50e_{ds}-1024x1024.py'
    return f'ablations/risam-{stem}_sam-vit-h_8xb4-50e_{ds}-1024x1024.py'


# Tab. 1: the RISAM row (IoU) and the RISAM (Pr@90) row, nine splits each;
# both print Train Params "6M"
TAB1 = {'oIoU': '76.20 78.92 71.84 66.37 72.10 57.33 65.48 66.60 64.78',
        'Pr@90': '42.38 43.15 40.69 36.58 38.18 30.42 29.94 32.00 31.29'}
# Tab. 2, 3, 5: row -> (config stem, Pr@50..Pr@90 IoU on RefCOCO val,
# RefCOCO+ val, G-Ref val (U)); "#4" is RISAM itself
TAB2 = {
    '#1 w/o FE': ('tab2-1-wo-fe', [
        '77.83 75.09 71.92 64.51 37.84 69.19',
        '63.68 61.17 57.44 47.29 28.90 56.65',
        '65.15 62.42 57.78 48.97 26.70 58.58']),
    '#2 r. MA': ('tab2-2-concat-conv', [
        '79.30 78.69 74.48 66.53 38.86 71.27',
        '69.53 66.44 62.15 53.03 29.71 61.83',
        '67.52 64.16 60.18 51.06 27.40 60.21']),
    '#3 r. DE': ('tab2-3-sam-decoder', [
        '84.69 82.45 78.82 69.69 40.04 74.97',
        '73.14 71.10 67.55 59.94 33.85 65.09',
        '71.32 68.28 63.16 54.68 28.26 63.84']),
}
RISAM_VAL3 = ['85.77 83.75 80.36 72.11 42.38 76.20',
              '74.59 72.69 69.32 61.87 36.58 66.37',
              '73.88 70.30 65.89 56.47 29.94 65.48']
TAB3 = {
    '#5 TE (ReSTR)': ('tab3-5-te', [
        '83.94 81.29 78.62 70.17 39.77 74.85',
        '71.51 69.47 66.02 55.41 28.32 63.23',
        '68.96 64.94 59.64 50.58 24.78 62.21']),
    '#6 SDF (VLT)': ('tab3-6-sdf', [
        '84.45 82.38 78.91 70.25 40.22 75.08',
        '72.14 70.10 66.55 56.94 28.95 64.09',
        '70.56 66.44 61.48 51.94 26.80 63.17']),
    '#7 BCM (BRINet)': ('tab3-7-bcm', [
        '84.63 82.60 79.17 70.54 40.56 75.20',
        '73.51 70.89 66.48 57.41 30.82 64.73',
        '70.92 67.46 63.20 54.98 28.48 63.73']),
    '#8 w/o attn. mask': ('tab3-8-wo-attn-mask', [
        '85.01 83.14 80.08 71.62 41.71 75.52',
        '73.81 71.74 67.36 58.31 32.61 65.82',
        '73.62 69.98 65.20 55.74 29.17 64.83']),
}
TAB5 = {
    '#9 w/ TOI-A': ('tab5-9-toi-a', [
        '84.76 82.63 79.21 71.07 40.65 75.40',
        '72.96 70.88 67.70 59.32 33.41 64.87',
        '71.14 67.26 62.38 54.28 28.36 63.84']),
    '#10 w/o ELG': ('tab5-10-wo-elg', [
        '83.79 81.19 78.55 67.96 38.62 74.42',
        '71.46 69.30 66.59 56.64 31.75 63.45',
        '70.30 67.02 62.68 53.98 28.24 62.98']),
}
# Tab. 4 and 6: RefCOCO val only
TAB4 = {'1 block': ('tab4-ma1-blocks', '84.45 82.94 79.95 71.69 42.51 75.88'),
        '2 blocks': ('paper', '85.77 83.75 80.36 72.11 42.38 76.20'),
        '3 blocks': ('tab4-ma3-blocks', '84.32 82.76 79.51 71.46 41.16 75.89')}
TAB6 = {'#1 w/o FE': ('tab2-1-wo-fe', '77.83 75.09 71.92 64.51 37.84 69.19'),
        '#11 ViT-DET': ('tab6-11-vitdet-sfp',
                        '80.72 77.40 74.74 66.79 37.85 71.55'),
        '#4 Ours': ('paper', '85.77 83.75 80.36 72.11 42.38 76.20')}
# Tab. 7: RISAM rows, RefCOCO val / testA / testB IoU
TAB7 = {'ViT-B': ('tab7_vit-b', '72.16 74.73 68.25'),
        'Swin-B': ('tab7_swin-b', '74.96 77.51 70.96'),
        'SAM': ('paper', '76.20 78.92 71.84')}
# Tab. 8: "Ours" column, PhraseCut test IoU by training set
TAB8 = {'refcoco': '22.82', 'refcoco+': '21.68', 'refcocog-umd': '22.47'}
# Tab. 9: n. IoU (frozen text encoder) and IoU (unfrozen), nine Tab. 1
# splits then PhraseCut test (trained on RefCOCO)
TAB9 = {'frozen': ('paper', '76.20 78.92 71.84 66.37 72.10 57.33 65.48 '
                            '66.60 64.78 22.82'),
        'unfrozen': ('tab9-unfrozen-text', '75.82 77.24 70.06 64.32 71.38 '
                                           '56.42 64.19 64.80 62.45 17.96')}
# Tab. 10: RISAM on gRefCOCO val / testA / testB (cIoU)
TAB10 = '66.52 70.01 62.23'
# Derived columns as printed: Tab. 9's "Decline" (n. IoU minus IoU), Tab. 10's
# "Avg." (mean of val, testA, testB), Tab. 11's "Increase" (RISAM minus SAM)
TAB9_DECLINE = '0.38 1.68 1.78 2.05 0.72 0.91 1.29 1.80 2.33 4.86'
TAB10_AVG = '66.25'
TAB11_INCREASE = '18.97 20.21 15.50 21.42 21.75 15.95 17.61 17.29 18.55'
# Tab. 11: the SAM and RISAM columns, nine Tab. 1 splits
TAB11 = {'SAM': ('tab11-sam-baseline', '57.23 58.71 56.34 44.95 50.35 41.38 '
                                       '47.87 49.31 46.23'),
         'RISAM': ('paper', '76.20 78.92 71.84 66.37 72.10 57.33 65.48 '
                            '66.60 64.78')}


class Cell(NamedTuple):
    """One printed number: (table, row, column) in the paper, and where it
    lives here (config, dataset, split); ``source`` is 'paper' or
    'derived'."""
    table: str
    row: str
    config: str | None
    dataset: str | None
    split: str | None
    metric: str
    value: str
    source: str = 'paper'


def paper_cells() -> List[Cell]:
    """Every printed RISAM cell (derived ones not included)."""
    cells = []
    for metric, values in TAB1.items():
        row = 'RISAM' if metric == 'oIoU' else 'RISAM (Pr@90)'
        cells.append(Cell('Tab. 1', row, None, None, None, 'Train Params',
                          '6M'))
        for (ds, split), v in zip(T1_SPLITS, values.split()):
            cells.append(Cell('Tab. 1', row, config('paper', ds), ds, split,
                              metric, v))
    for table, rows in (('Tab. 2', TAB2), ('Tab. 3', TAB3), ('Tab. 5', TAB5)):
        rows = dict(rows, **{'#4 RISAM': ('paper', RISAM_VAL3)})
        for row, (stem, per_ds) in rows.items():
            for ds, values in zip(VAL3, per_ds):
                for metric, v in zip(PR, values.split()):
                    cells.append(Cell(table, row, config(stem, ds), ds,
                                      'val', metric, v))
    for table, rows in (('Tab. 4', TAB4), ('Tab. 6', TAB6)):
        for row, (stem, values) in rows.items():
            for metric, v in zip(PR, values.split()):
                cells.append(Cell(table, row, config(stem, 'refcoco'),
                                  'refcoco', 'val', metric, v))
    for row, (stem, values) in TAB7.items():
        for split, v in zip(('val', 'testA', 'testB'), values.split()):
            cells.append(Cell('Tab. 7', row, config(stem, 'refcoco'),
                              'refcoco', split, 'oIoU', v))
    for ds, v in TAB8.items():
        cells.append(Cell('Tab. 8', ds, config('paper', f'{ds}-to-phrasecut'),
                          'phrasecut', 'test', 'oIoU', v))
    for row, (stem, values) in TAB9.items():
        for (ds, split), v in zip(TAB9_SPLITS, values.split()):
            cells.append(Cell('Tab. 9', row, config(stem, ds),
                              _dataset(ds), split, 'oIoU', v))
    for split, v in zip(('val', 'testA', 'testB'), TAB10.split()):
        cells.append(Cell('Tab. 10', 'RISAM', config('paper', 'grefcoco'),
                          'grefcoco', split, 'cIoU', v))
    for row, (stem, values) in TAB11.items():
        for (ds, split), v in zip(T1_SPLITS, values.split()):
            cells.append(Cell('Tab. 11', row, config(stem, ds), ds, split,
                              'oIoU', v))
    return cells


TAB9_SPLITS = T1_SPLITS + [('refcoco-to-phrasecut', 'test')]


def _dataset(ds: str) -> str:
    return 'phrasecut' if ds.endswith('phrasecut') else ds


def derived_cells() -> List[Cell]:
    """The derived cells printed in RISAM's rows (Tab. 9's declines on the
    unfrozen row, Tab. 10's average, Tab. 11's increases on RISAM's row)."""
    cells = []
    for (ds, split), v in zip(TAB9_SPLITS, TAB9_DECLINE.split()):
        cells.append(Cell('Tab. 9', 'unfrozen',
                          config('tab9-unfrozen-text', ds), _dataset(ds),
                          split, 'oIoU decline', v, 'derived'))
    cells.append(Cell('Tab. 10', 'RISAM', config('paper', 'grefcoco'),
                      'grefcoco', 'Avg.', 'cIoU', TAB10_AVG, 'derived'))
    for (ds, split), v in zip(T1_SPLITS, TAB11_INCREASE.split()):
        cells.append(Cell('Tab. 11', 'RISAM', config('paper', ds), ds, split,
                          'oIoU increase', v, 'derived'))
    return cells


def all_cells() -> List[Cell]:
    return paper_cells() + derived_cells()


def training_data(cfg: str) -> str:
    """The dataset a config trains on, from its name (a ``-to-phrasecut``
    config tests the checkpoint of the config it names)."""
    ds = re.search(r'_([a-z+-]+?)(?:-to-phrasecut)?-1024x1024\.py$', cfg)[1]
    return DATASETS[ds]


def metafile():
    return yaml.safe_load(METAFILE.read_text())


def _tables(source: str) -> tuple[str, set]:
    """'paper, Tab. 1, Tab. 7' -> ('paper', {'Tab. 1', 'Tab. 7'}); a
    derived Source may say how after the table, in brackets."""
    kind, _, rest = source.partition(', ')
    return kind, set(re.findall(r'Tab\. \d+', rest))


def metafile_problems(meta: dict) -> List[str]:
    """What in ``meta`` (the parsed metafile) differs from the paper's
    cells, keyed by (table, row, column), in both directions."""
    problems = []
    models = {m['Config'].removeprefix('configs/risam/'): m
              for m in meta['Models']}
    # what the cells say each Model must hold
    want = {}  # (config, Dataset, split, kind, metric) -> {table: value}
    want_rows = defaultdict(set)
    for c in all_cells():
        if c.metric == 'Train Params':
            continue
        key = (c.config, DATASETS[c.dataset], c.split, c.source, c.metric)
        want.setdefault(key, {})[c.table] = float(c.value)
        want_rows[c.config].add(f'{c.table} {c.row}')
    tab1 = {config('paper', ds) for ds in VAL3 + ['refcocog-google']}
    for cfg in want_rows.keys() - models.keys():
        problems.append(f'{cfg}: no Model')
    for cfg, model in models.items():
        meta_ = model['Metadata']
        if set(meta_.get('Paper Rows', [])) != want_rows.get(cfg, set()):
            problems.append(f'{cfg}: Paper Rows {meta_.get("Paper Rows")}')
        if meta_.get('Training Data') != training_data(cfg):
            problems.append(f'{cfg}: Training Data {meta_["Training Data"]}')
        if meta_.get('Train Params') != ('6M' if cfg in tab1 else None):
            problems.append(f'{cfg}: Train Params {meta_.get("Train Params")}')
        if not (REPO / model['Config']).is_file():
            problems.append(f'{cfg}: no such config')
        have = set()
        for r in model.get('Results', []):
            kind, tables = _tables(r['Source'])
            printed_in = set()  # the tables that print this Result's cells
            for metric, value in r['Metrics'].items():
                key = (cfg, r['Dataset'], r['Split'], kind, metric)
                have.add(key)
                by_table = want.get(key)
                if by_table is None:
                    problems.append(f'{key}: not a cell of the paper')
                    continue
                printed_in |= set(by_table)
                if any(v != value for v in by_table.values()):
                    problems.append(f'{key}: {value}, paper {by_table}')
            if tables != printed_in:
                problems.append(f'{cfg} {r["Dataset"]} {r["Split"]}: Source '
                                f'{sorted(tables)}, printed in '
                                f'{sorted(printed_in)}')
        for key in want:
            if key[0] == cfg and key not in have:
                problems.append(f'{key}: missing from the metafile')
    return problems


# README row labels that differ from the transcription's (table, row)
README_ROWS = {('Tab. 9', 'frozen (n. IoU)'): 'frozen',
               ('Tab. 8', 'trained on RefCOCO'): 'refcoco',
               ('Tab. 8', 'trained on RefCOCO+'): 'refcoco+',
               ('Tab. 8', 'trained on G-Ref (UMD)'): 'refcocog-umd'}
DERIVED_COLUMNS = ('oIoU decline', 'oIoU increase')


def readme_cells(text: str, meta: dict) -> set:
    """Every number of a README table row that links a config, as
    (table, row, config, dataset, split, metric, value, source); a table's
    header names its columns, the last ``### Tab. N`` heading its table.
    A "Train Params" cell must equal its config's metafile value."""
    params = {m['Config'].removeprefix('configs/risam/'):
              m['Metadata'].get('Train Params') for m in meta['Models']}
    out, header, table = set(), None, None
    for line in text.splitlines():
        heading = re.match(r'### (Tab\. \d+)', line)
        if heading or line.startswith('## '):
            table = heading[1] if heading else None
        if not line.startswith('|'):
            header = None
            continue
        cols = [c.strip() for c in line.strip('|').split('|')]
        if header is None:
            header = cols
            continue
        link = re.search(r'\]\(([^)\s]+\.py)\)', line)
        if not link or table is None:
            continue
        cfg = link[1].removeprefix('ablations/../')
        dataset, _, split = cols[header.index('Split')].rpartition(' ')
        source = cols[header.index('Source')]
        for name, cell in zip(header, cols):
            if name == 'Train Params':
                out.add((table, cols[0], cfg, dataset, split, name,
                         cell == params.get(cfg) and cell, source))
            elif re.fullmatch(r'\d+\.\d\d', cell):
                row = README_ROWS.get((table, cols[0]), cols[0])
                if table == 'Tab. 1' and name == 'Pr@90':
                    row = 'RISAM (Pr@90)'
                kind = 'derived' if name in DERIVED_COLUMNS else source
                out.add((table, row, cfg, dataset, split, name, cell, kind))
    return out


def readme_problems(text: str, meta: dict) -> List[str]:
    """The README's table cells against the transcription, both ways."""
    want = {(c.table, c.row, c.config, DATASETS[c.dataset], c.split,
             c.metric, c.value, c.source)
            for c in all_cells() if c.metric != 'Train Params'}
    # the "6M" column: on every Tab. 1 row, equal to the metafile's value
    for c in paper_cells():
        if c.table == 'Tab. 1' and c.row == 'RISAM' and c.config:
            want.add(('Tab. 1', 'RISAM', c.config, DATASETS[c.dataset],
                      c.split, 'Train Params', '6M', 'paper'))
    have = readme_cells(text, meta)
    return ([f'not in the README: {k}' for k in sorted(want - have)]
            + [f'not a paper cell: {k}' for k in sorted(have - want)])


def test_count_of_paper_cells():
    per_table = defaultdict(int)
    for c in paper_cells():
        per_table[c.table] += 1
    # Tab. 1: 2 x (9 + Train Params); Tab. 2, 3, 5: rows x 3 datasets x 6;
    # Tab. 4, 6: 3 x 6; Tab. 7: 3 x 3; Tab. 8: 3; Tab. 9: 2 x 10;
    # Tab. 10: 3; Tab. 11: 2 x 9
    assert per_table == {'Tab. 1': 20, 'Tab. 2': 72, 'Tab. 3': 90,
                         'Tab. 4': 18, 'Tab. 5': 54, 'Tab. 6': 18,
                         'Tab. 7': 9, 'Tab. 8': 3, 'Tab. 9': 20,
                         'Tab. 10': 3, 'Tab. 11': 18}
    assert len(paper_cells()) == 325 and len(derived_cells()) == 20


def test_derived_cells_are_the_printed_differences_and_mean():
    """Tab. 9: n. IoU minus IoU; Tab. 11: RISAM minus SAM (exact at two
    decimals); Tab. 10: the mean of the three splits, to its rounding."""
    frozen, unfrozen = (TAB9[k][1].split() for k in ('frozen', 'unfrozen'))
    for f, u, d in zip(frozen, unfrozen, TAB9_DECLINE.split()):
        assert round(float(f) - float(u), 2) == float(d), (f, u, d)
    sam, risam = (TAB11[k][1].split() for k in ('SAM', 'RISAM'))
    for s, r, d in zip(sam, risam, TAB11_INCREASE.split()):
        assert round(float(r) - float(s), 2) == float(d), (s, r, d)
    mean = sum(map(float, TAB10.split())) / 3
    assert abs(mean - float(TAB10_AVG)) <= 0.005


def test_the_metafile_holds_every_cell_and_nothing_else():
    data = metafile()
    (collection, ) = data['Collections']
    assert collection['Name'] == 'RISAM'
    assert collection['Paper']['URL'] == 'https://arxiv.org/abs/2311.15727'
    assert collection['Code']['URL'] == 'https://github.com/TakoCC/RISAM'
    names = [m['Name'] for m in data['Models']]
    assert len(names) == len(set(names)) == 49
    for model in data['Models']:
        assert model['In Collection'] == 'RISAM'
        assert 'Weights' not in model  # none are published
        assert Path(model['Config']).stem == model['Name']
        for result in model.get('Results', []):
            assert result['Task'] == 'Referring Image Segmentation'
    assert metafile_problems(data) == []


def test_readme_tables_agree_with_the_transcription():
    text = README.read_text()
    assert len(readme_cells(text, metafile())) > 300
    assert readme_problems(text, metafile()) == []


def _mutated(tmp_path, path: Path, old: str, new: str) -> str:
    text = path.read_text()
    assert text.count(old) == 1, old
    out = tmp_path / path.name
    out.write_text(text.replace(old, new))
    return out.read_text()


RISAM_RCP_ROW = ('| #4 RISAM | [risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024]'
                 '(risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py) | RefCOCO+ '
                 'val | 74.59 | 72.69 | 69.32 | 61.87 | 36.58 | 66.37 | paper'
                 ' |\n')


@pytest.mark.parametrize('old,new', [
    # Tab. 3's RISAM row on RefCOCO+: each of its numbers is printed in
    # other tables too, so a check by number alone would not see it go
    (None, ''),
    ('| 62.45 | paper | 2.33 |', '| 62.45 | paper | 2.32 |'),  # derived
    ('| gRefCOCO Avg. | 66.25 | derived |', '| gRefCOCO Avg. | 66.25 | paper |'),
])
def test_readme_check_fails_on_a_mutated_copy(tmp_path, old, new):
    if old is None:  # the third "#4 RISAM" RefCOCO+ val row: Tab. 3's
        text = README.read_text()
        at = [m.start() for m in re.finditer(re.escape(RISAM_RCP_ROW), text)]
        assert len(at) == 3
        (tmp_path / 'README.md').write_text(
            text[:at[1]] + text[at[1] + len(RISAM_RCP_ROW):])
        text = (tmp_path / 'README.md').read_text()
    else:
        text = _mutated(tmp_path, README, old, new)
    problems = readme_problems(text, metafile())
    assert problems and all('RISAM' in p or 'Tab.' in p for p in problems)


@pytest.mark.parametrize('old,new', [
    # a wrong table in Source (Tab. 7 printed this cell, not Tab. 8)
    ('Source: paper, Tab. 1, Tab. 7, Tab. 9, Tab. 11\n    Metrics:\n'
     '      oIoU: 78.92',
     'Source: paper, Tab. 1, Tab. 8, Tab. 9, Tab. 11\n    Metrics:\n'
     '      oIoU: 78.92'),
    ('      oIoU decline: 2.33\n', '      oIoU decline: 2.32\n'),  # derived
    ('    Training Data: G-Ref (Google)\n    Batch Size: 32\n'
     '    Architecture:\n    - SAM ViT-H (frozen)\n'
     "    - 'CLIP text encoder (trained",
     '    Training Data: RefCOCO\n    Batch Size: 32\n'
     '    Architecture:\n    - SAM ViT-H (frozen)\n'
     "    - 'CLIP text encoder (trained"),
])
def test_metafile_check_fails_on_a_mutated_copy(tmp_path, old, new):
    problems = metafile_problems(
        yaml.safe_load(_mutated(tmp_path, METAFILE, old, new)))
    assert len(problems) == 1, problems


@pytest.mark.parametrize('text', [
    'Tab. 7', 'Tab. 9', '```bibtex', '2311.15727', 'Adam', 'AdamW'])
def test_readme_names(text):
    assert text in README.read_text()
