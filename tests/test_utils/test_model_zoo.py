"""The model zoo: model-index.yml names the metafile, a config's paper cells
are read from it (derived cells left out), and the comparison table puts
each beside the measured value with the difference."""
from pathlib import Path

from projects.risam.utils.model_zoo import (
    find_model_index,
    format_paper_comparison,
    load_models,
    paper_comparison,
    paper_results,
)

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'
UNFROZEN = (REPO / 'configs/risam/ablations/'
            'risam-tab9-unfrozen-text_sam-vit-h_8xb4-50e_refcoco-1024x1024.py')
DEMO = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'


def test_model_index_names_the_metafile():
    index = find_model_index(UNFROZEN)
    assert index == REPO / 'model-index.yml'
    assert index.read_text().split() == [
        'Import:', '-', 'configs/risam/metafile.yaml']
    assert len(load_models(index)) == 49


def test_paper_results_of_a_config_leave_the_derived_cells_out():
    paper = paper_results(UNFROZEN.stem, find_model_index(UNFROZEN))
    assert set(paper) == {'val', 'testA', 'testB'}
    assert paper['val'] == {'oIoU': (75.82, 'RefCOCO val, Tab. 9')}
    # the Tab. 9 decline (a derived Result) is not a metric of a run
    assert all('oIoU decline' not in m for m in paper.values())
    risam = paper_results(PAPER.stem, find_model_index(PAPER))
    assert risam['val']['Pr@50'][0] == 85.77
    assert paper_results(DEMO.stem, find_model_index(DEMO)) == {}


def test_comparison_rows_are_ours_paper_and_the_difference():
    paper = paper_results(UNFROZEN.stem, find_model_index(UNFROZEN))
    table = format_paper_comparison(
        {'val': {'oIoU': 3.99, 'mIoU': 5.0}, 'testA': {'oIoU': 80.0}},
        paper)
    rows = [[c.strip() for c in line.split('|')]
            for line in table.splitlines()]
    assert rows[0] == ['split', 'metric', 'ours', 'paper', 'ours - paper',
                       'paper cell']
    assert rows[2] == ['val', 'oIoU', '3.99', '75.82', '-71.83',
                       'RefCOCO val, Tab. 9']
    assert rows[3][:5] == ['testA', 'oIoU', '80.00', '77.24', '+2.76']
    assert len(rows) == 4  # mIoU is not a paper cell: no row
    assert format_paper_comparison({'val': {'mIoU': 1.0}}, paper) == ''
    assert paper_comparison(DEMO, None, {'val': {'oIoU': 1.0}}) == ''
    named = paper_comparison(DEMO, UNFROZEN.stem, {'val': {'oIoU': 1.0}})
    assert named.splitlines()[0] == (
        f"the paper's numbers ({UNFROZEN.stem}, model-index.yml):")
