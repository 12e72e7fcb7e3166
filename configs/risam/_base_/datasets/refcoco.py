# RefCOCO (UNC splits): evaluated on val, testA, testB.
_base_ = ['./refer_base.py']
test_splits = ['val', 'testA', 'testB']  # tools/test.py default
