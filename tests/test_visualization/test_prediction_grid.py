"""Fig. 6's grid: each column shows its own model's mask on the row's
sample, under its label, beside the sentence; the one-model tiles; the
CONFIG CKPT pairs of the command line."""
import cv2
import numpy as np
import pytest

from projects.risam.visualization import (
    SamplePrediction,
    model_columns,
    model_grid,
    overlay,
    sample_tiles,
    text_band,
)
from projects.risam.visualization.overlay import MASK_BGR
from projects.risam.visualization.prediction_grid import LABEL_WIDTH

LABELS = ['MA', 'SDF', 'BCM']


def _square(y: int, x: int, size: int = 128) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[y:y + 20, x:x + 20] = True
    return mask


@pytest.fixture
def rows(tmp_path):
    """2 samples x 3 models; model j predicts a square at x = 10 + 40 j,
    the target is the square at x = 10 (model 0 is right)."""
    out = []
    for r, colour in enumerate([(40, 120, 30), (200, 200, 200)]):
        path = tmp_path / f'{r}.png'
        cv2.imwrite(str(path), np.full((128, 128, 3), colour, np.uint8))
        gt = _square(50, 10)
        out.append([
            SamplePrediction(index=r, img_path=str(path),
                             text=f'sentence {r}',
                             pred=_square(50 + 10 * r, 10 + 40 * j), gt=gt)
            for j in range(3)])
    return out


def test_each_column_shows_its_own_models_mask(rows):
    image = model_grid(rows, LABELS, row_notes=['[IoU 1.00]', '[IoU 0.33]'])
    tile = overlay(cv2.imread(rows[0][0].img_path), rows[0][0].pred, None,
                   gt=rows[0][0].gt)
    assert tile.shape == (384, 384, 3)  # 128 px upscaled 3x
    head = text_band('MA', 384).shape[0]
    assert image.shape == (head + 2 * 384, LABEL_WIDTH + 3 * 384, 3)
    for r, row in enumerate(rows):
        img = cv2.imread(row[0].img_path)
        y = head + 384 * r
        for j in range(3):
            x = LABEL_WIDTH + 384 * j
            cell = image[y:y + 384, x:x + 384]
            own = overlay(img, row[j].pred, None, gt=row[j].gt)
            other = overlay(img, row[(j + 1) % 3].pred, None, gt=row[j].gt)
            assert (cell == own).all(), (r, j)
            assert not (cell == other).all()
            # the tint sits where this model predicted (centre of its
            # square, upscaled, off the outlines), not where the others did
            cy, cx = 3 * (65 + 10 * r), 3 * (20 + 40 * j)
            tinted = (0.45 * img[0, 0].astype(np.float32) + 0.55 *
                      np.array(MASK_BGR, np.float32)).astype(np.uint8)
            assert cell[cy, cx].tolist() == tinted.tolist()
        # the row starts with its sentence and note, on black
        band = text_band(f'sentence {r} {["[IoU 1.00]", "[IoU 0.33]"][r]}',
                         LABEL_WIDTH)
        label = image[y:y + 384, :LABEL_WIDTH]
        assert (label[:band.shape[0]] == band).all()
        assert not label[band.shape[0]:].any()
    # every column is headed by its label
    for j, name in enumerate(LABELS):
        x = LABEL_WIDTH + 384 * j
        assert (image[:head, x:x + 384] == text_band(name, 384)).all()
    assert not image[:head, :LABEL_WIDTH].any()


def test_rows_of_different_sizes_are_padded_white(rows, tmp_path):
    wide = tmp_path / 'wide.png'
    cv2.imwrite(str(wide), np.zeros((100, 400, 3), np.uint8))
    row = [SamplePrediction(index=9, img_path=str(wide), text='wide',
                            pred=np.zeros((100, 400), bool),
                            gt=np.zeros((100, 400), bool), no_target=True)
           for _ in LABELS]
    image = model_grid([rows[0], row], LABELS)
    head = text_band('MA', 400).shape[0]
    # the 384 px tiles are padded to the 400 px of the wide image
    assert image.shape == (head + 384 + 100, LABEL_WIDTH + 3 * 400, 3)
    assert (image[head:head + 384, LABEL_WIDTH + 384:LABEL_WIDTH + 400]
            == 255).all()
    # the no-target row is marked so
    band = text_band('wide (no target)', LABEL_WIDTH)
    assert (image[head + 384:head + 384 + band.shape[0], :LABEL_WIDTH]
            == band).all()
    with pytest.raises(ValueError, match='one prediction for each of the 3'):
        model_grid([rows[0][:2]], LABELS)


def test_one_model_tiles_carry_sentence_and_iou(rows):
    preds = [rows[0][0], rows[1][1]]  # IoU 1 and 0 (no overlap)
    image = sample_tiles(preds, cols=2, show_iou=True)
    for k, (p, note) in enumerate(zip(preds, ['[IoU 1.00]', '[IoU 0.00]'])):
        tile = overlay(cv2.imread(p.img_path), p.pred, f'{p.text} {note}',
                       gt=p.gt)
        assert (image[:, 384 * k:384 * (k + 1)] == tile).all()


def test_model_columns_pairs_and_labels():
    assert model_columns(['a/ma.py', 'ma.pth', 'b/sdf.py', 'sdf.pth']) == [
        ('a/ma.py', 'ma.pth', 'ma'), ('b/sdf.py', 'sdf.pth', 'sdf')]
    assert model_columns(['ma.py', 'ma.pth'], ['MA']) == [
        ('ma.py', 'ma.pth', 'MA')]
    with pytest.raises(ValueError, match=r'^expected CONFIG CKPT pairs, got 3'
                       r' path\(s\): a.py a.pth b.py$'):
        model_columns(['a.py', 'a.pth', 'b.py'])
    with pytest.raises(ValueError, match=r'^--labels gives 1 label\(s\) '
                       r'\(MA\) for 2 model\(s\)$'):
        model_columns(['a.py', 'a.pth', 'b.py', 'b.pth'], ['MA'])
