from projects.risam.utils.report import format_metric_table


def test_table_orders_paper_columns_and_marks_missing():
    table = format_metric_table({
        'val': {'mIoU': 70.0, 'oIoU': 71.234, 'Pr@50': 80.0, 'oIoU/size': 5.0},
        'testA': {'oIoU': 60.5, 'gIoU': 1.0},
    })
    lines = table.splitlines()
    header = [c.strip() for c in lines[0].split('|')]
    assert header == ['split', 'oIoU', 'mIoU', 'Pr@50', 'gIoU', 'oIoU/size']
    assert set(lines[1]) <= {'-', '+'}
    val = [c.strip() for c in lines[2].split('|')]
    assert val == ['val', '71.23', '70.00', '80.00', '-', '5.00']
    test_a = [c.strip() for c in lines[3].split('|')]
    assert test_a == ['testA', '60.50', '-', '-', '1.00', '-']
