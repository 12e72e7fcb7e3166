"""The paper's numbers: every RISAM cell of Tables 1-11 has a Model in
``configs/risam/metafile.yaml`` whose config exists, and the tables of
``configs/risam/README.md`` agree with the metafile.

The transcription below is typed in the paper's own table layout (RISAM's
rows and its ablation rows; Pr@X and Train Params included); the metafile is
organised by config. Competitor rows and derived columns (Tab. 9's decline,
Tab. 10's average, Tab. 11's increase) are in the README only.
"""
import re
from pathlib import Path

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
# Tab. 11: the SAM and RISAM columns, nine Tab. 1 splits
TAB11 = {'SAM': ('tab11-sam-baseline', '57.23 58.71 56.34 44.95 50.35 41.38 '
                                       '47.87 49.31 46.23'),
         'RISAM': ('paper', '76.20 78.92 71.84 66.37 72.10 57.33 65.48 '
                            '66.60 64.78')}


def paper_cells():
    """Every printed RISAM cell: (table, row, config, dataset, split,
    metric, value)."""
    cells = []
    for metric, values in TAB1.items():
        row = 'RISAM' if metric == 'oIoU' else 'RISAM (Pr@90)'
        cells.append(('Tab. 1', row, None, None, None, 'Train Params', '6M'))
        for (ds, split), v in zip(T1_SPLITS, values.split()):
            cells.append(('Tab. 1', row, config('paper', ds), ds, split,
                          metric, v))
    for table, rows in (('Tab. 2', TAB2), ('Tab. 3', TAB3), ('Tab. 5', TAB5)):
        rows = dict(rows, **{'#4 RISAM': ('paper', RISAM_VAL3)})
        for row, (stem, per_ds) in rows.items():
            for ds, values in zip(VAL3, per_ds):
                for metric, v in zip(PR, values.split()):
                    cells.append((table, row, config(stem, ds), ds, 'val',
                                  metric, v))
    for table, rows in (('Tab. 4', TAB4), ('Tab. 6', TAB6)):
        for row, (stem, values) in rows.items():
            for metric, v in zip(PR, values.split()):
                cells.append((table, row, config(stem, 'refcoco'), 'refcoco',
                              'val', metric, v))
    for row, (stem, values) in TAB7.items():
        for split, v in zip(('val', 'testA', 'testB'), values.split()):
            cells.append(('Tab. 7', row, config(stem, 'refcoco'), 'refcoco',
                          split, 'oIoU', v))
    for ds, v in TAB8.items():
        cells.append(('Tab. 8', ds, config('paper', f'{ds}-to-phrasecut'),
                      'phrasecut', 'test', 'oIoU', v))
    for row, (stem, values) in TAB9.items():
        splits = T1_SPLITS + [('refcoco-to-phrasecut', 'test')]
        for (ds, split), v in zip(splits, values.split()):
            name = 'phrasecut' if ds.endswith('phrasecut') else ds
            cells.append(('Tab. 9', row, config(stem, ds), name, split,
                          'oIoU', v))
    for split, v in zip(('val', 'testA', 'testB'), TAB10.split()):
        cells.append(('Tab. 10', 'RISAM', config('paper', 'grefcoco'),
                      'grefcoco', split, 'cIoU', v))
    for row, (stem, values) in TAB11.items():
        for (ds, split), v in zip(T1_SPLITS, values.split()):
            cells.append(('Tab. 11', row, config(stem, ds), ds, split,
                          'oIoU', v))
    return cells


def metafile():
    return yaml.safe_load(METAFILE.read_text())


def results_by_config():
    """{config path: {(Dataset, Split): {metric: value}}} of the Models."""
    out = {}
    for model in metafile()['Models']:
        path = model['Config'].removeprefix('configs/risam/')
        out[path] = {(r['Dataset'], r['Split']): r['Metrics']
                     for r in model.get('Results', [])}
    return out


def test_count_of_paper_cells():
    cells = paper_cells()
    # Tab. 1: 2 x (9 + Train Params); Tab. 2, 3, 5: rows x 3 datasets x 6;
    # Tab. 4, 6: 3 x 6; Tab. 7: 3 x 3; Tab. 8: 3; Tab. 9: 2 x 10;
    # Tab. 10: 3; Tab. 11: 2 x 9
    per_table = {}
    for c in cells:
        per_table[c[0]] = per_table.get(c[0], 0) + 1
    assert per_table == {'Tab. 1': 20, 'Tab. 2': 72, 'Tab. 3': 90,
                         'Tab. 4': 18, 'Tab. 5': 54, 'Tab. 6': 18,
                         'Tab. 7': 9, 'Tab. 8': 3, 'Tab. 9': 20,
                         'Tab. 10': 3, 'Tab. 11': 18}
    assert len(cells) == 325


def test_every_paper_cell_has_a_model_with_its_number():
    results = results_by_config()
    models = {m['Config'].removeprefix('configs/risam/'): m
              for m in metafile()['Models']}
    for table, row, cfg, ds, split, metric, value in paper_cells():
        where = f'{table} {row} {ds} {split} {metric}'
        if metric == 'Train Params':
            for ds_ in ('refcoco', 'refcoco+', 'refcocog-umd',
                        'refcocog-google'):
                meta = models[config('paper', ds_)]['Metadata']
                assert meta['Train Params'] == value, where
            continue
        assert cfg in results, f'{where}: no Model for {cfg}'
        metrics = results[cfg].get((DATASETS[ds], split))
        assert metrics is not None, f'{where}: no Result in {cfg}'
        assert metrics.get(metric) == float(value), where


def test_every_model_is_a_paper_cell_and_its_config_exists():
    cells = {(c[2], DATASETS[c[3]], c[4], c[5], float(c[6]))
             for c in paper_cells() if c[5] != 'Train Params'}
    data = metafile()
    (collection, ) = data['Collections']
    assert collection['Name'] == 'RISAM'
    assert collection['Paper']['URL'] == 'https://arxiv.org/abs/2311.15727'
    assert collection['Code']['URL'] == 'https://github.com/TakoCC/RISAM'
    names = [m['Name'] for m in data['Models']]
    assert len(names) == len(set(names))
    for model in data['Models']:
        assert model['In Collection'] == 'RISAM'
        assert 'Weights' not in model  # none are published
        assert (REPO / model['Config']).is_file(), model['Config']
        assert Path(model['Config']).stem == model['Name']
        path = model['Config'].removeprefix('configs/risam/')
        for result in model.get('Results', []):
            assert result['Task'] == 'Referring Image Segmentation'
            assert result['Source'].startswith('paper, ')
            for metric, value in result['Metrics'].items():
                key = (path, result['Dataset'], result['Split'], metric,
                       value)
                assert key in cells, key  # nothing that is not the paper's


def _readme_cells():
    """(config path, dataset split, metric, value) of every README table row
    that links a config; a table's header names the metric columns."""
    out, header = [], None
    for line in README.read_text().splitlines():
        if not line.startswith('|'):
            header = None
            continue
        cols = [c.strip() for c in line.strip('|').split('|')]
        if header is None:
            header = cols
            continue
        link = re.search(r'\]\(([^)\s]+\.py)\)', line)
        if not link or set(cols[0]) <= set('-: '):
            continue
        split = cols[header.index('Split')]
        for name, cell in zip(header, cols):
            if re.fullmatch(r'\d+\.\d\d', cell) and name in METRICS:
                out.append((link.group(1), split, name, float(cell)))
    return out


def test_readme_tables_agree_with_the_metafile():
    results = results_by_config()
    seen = set()
    readme = _readme_cells()
    assert len(readme) > 200
    for cfg, split, metric, value in readme:
        dataset, _, split_name = split.rpartition(' ')
        metrics = results.get(cfg, {}).get((dataset, split_name))
        assert metrics is not None, (cfg, split)
        assert metrics.get(metric) == value, (cfg, split, metric, value)
        seen.add((cfg, dataset, split_name, metric))
    # and the README shows every number of the metafile
    for cfg, per_split in results.items():
        for (dataset, split), metrics in per_split.items():
            for metric in metrics:
                assert (cfg, dataset, split, metric) in seen, \
                    (cfg, dataset, split, metric)


@pytest.mark.parametrize('text', [
    'Tab. 7', 'Tab. 9', '```bibtex', '2311.15727', 'Adam', 'AdamW'])
def test_readme_names(text):
    assert text in README.read_text()
