"""The overlay that the demo, the web demo and the prediction grid draw:
the tint of the mask by number, the outlines, the sentence band, the
upscaling of small images and the grid's padding."""
import numpy as np
import pytest

from projects.risam.visualization import grid, overlay, text_band
from projects.risam.visualization.overlay import GT_BGR, MASK_BGR


def _image(h=40, w=400):
    return np.full((h, w, 3), (10, 100, 200), np.uint8)


def test_mask_is_tinted_and_outlined_and_the_rest_is_kept():
    img = _image()
    mask = np.zeros((40, 400), np.uint8)
    mask[10:30, 100:200] = 1
    out = overlay(img, mask, 'the square')
    band = text_band('the square', 400).shape[0]
    assert band == 22 + 8 and out.shape == (band + 40, 400, 3)
    body = out[band:]
    # inside: 0.45 * image + 0.55 * colour, truncated to uint8
    expected = (0.45 * np.array([10, 100, 200], np.float32) +
                0.55 * np.array(MASK_BGR, np.float32)).astype(np.uint8)
    assert body[20, 150].tolist() == expected.tolist() == [37, 56, 211]
    # the outline is white, the outside is the image unchanged
    assert body[10, 150].tolist() == [255, 255, 255]
    assert body[5, 50].tolist() == [10, 100, 200]
    assert (body[:5] == img[:5]).all()


def test_target_is_outlined_in_green():
    img = _image()
    mask = np.zeros((40, 400), np.uint8)
    gt = np.zeros((40, 400), np.uint8)
    gt[10:30, 300:350] = 1
    out = overlay(img, mask, 'x', gt=gt)[text_band('x', 400).shape[0]:]
    assert out[20, 300].tolist() == list(GT_BGR)
    assert out[20, 320].tolist() == [10, 100, 200]  # the target is not tinted


def test_small_images_are_enlarged_for_the_text():
    img = _image(10, 96)
    mask = np.zeros((10, 96), np.uint8)
    mask[:, :48] = 1
    out = overlay(img, mask, 'left half')
    band = text_band('left half', 384).shape[0]
    assert out.shape == (band + 40, 384, 3)  # x4, nearest
    assert (out[band + 20, 10] != img[0, 0]).any()
    assert out[band + 20, 300].tolist() == [10, 100, 200]


def test_text_band_wraps_and_names_an_empty_sentence():
    assert text_band('', 200).shape == (30, 200, 3)
    assert text_band('', 200).any()  # '(empty sentence)' is written
    # 10 characters a line at 100 px: three lines
    assert text_band('aaaa bbbb cccc dddd eeee', 100).shape == (74, 100, 3)


def test_grid_pads_cells_and_rows_in_white():
    a = np.zeros((2, 3, 3), np.uint8)
    b = np.zeros((4, 1, 3), np.uint8)
    out = grid([a, b, a], cols=2)
    assert out.shape == (8, 6, 3)
    assert (out[:2, :3] == 0).all() and (out[2:4, :3] == 255).all()
    assert (out[:4, 3] == 0).all() and (out[:4, 4:6] == 255).all()
    assert (out[4:, 3:] == 255).all()  # the missing fourth cell
    with pytest.raises(ValueError, match='at least one tile'):
        grid([], cols=2)


def test_users_of_overlay_get_the_function_whatever_is_imported_first():
    """The package's submodules import the apis (attention maps), which
    import ``overlay``: taken from the half-initialised package, that name
    was still the *module* ``overlay`` and the inferencer's ``return_vis``
    raised "'module' object is not callable"."""
    import subprocess
    import sys
    code = ('import projects.risam.visualization\n'
            'import projects.risam.apis.risam_inferencer as r\n'
            'import projects.risam.engine.hooks.refer_visualization_hook as h\n'
            'print(callable(r.overlay), callable(h.overlay))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ['True', 'True']
