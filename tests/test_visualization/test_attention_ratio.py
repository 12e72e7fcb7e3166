"""The colour-word ratio: its formula on known maps, the pixels it counts
(every object of the colour, read back from the image), and the model run
once per image."""
from pathlib import Path

import cv2
import numpy as np
import torch

from projects.risam.apis import init_refer_model
from projects.risam.datasets.refshapes import COLOURS
from projects.risam.visualization.attention_ratio import (
    colour_ratios,
    colour_sentences,
    mass_ratio,
    summarize,
)

DEMO_CONFIG = (Path(__file__).resolve().parents[2] /
               'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py')


def test_mass_ratio_known_answers():
    pixels = np.zeros((4, 8), bool)
    pixels[:, :2] = True  # a quarter of the image
    assert mass_ratio(np.ones((4, 8)), pixels) == 1.0
    assert mass_ratio(pixels.astype(float), pixels) == 4.0
    half = np.where(pixels, 3.0, 1.0)  # 24 of 48 on the quarter
    assert mass_ratio(half, pixels) == 2.0
    assert mass_ratio(1.0 - pixels, pixels) == 0.0


def test_colour_pixels_are_the_objects_of_that_colour(refshapes_root):
    seen = 0
    for path, sent, colour, pixels in colour_sentences(str(refshapes_root)):
        assert colour in sent['sent'].split()
        assert sent['type'] in ('colour', 'colour_shape')
        rgb = cv2.imread(path)[..., ::-1][pixels].mean(0)
        assert np.abs(rgb - COLOURS[colour]).max() < 20, (path, colour)
        seen += 1
    assert seen >= 4


def test_random_model_is_colour_blind(refshapes_root):
    torch.manual_seed(1)
    model = init_refer_model(str(DEMO_CONFIG))
    rows = colour_ratios(model, str(refshapes_root), blocks=(1, 2), limit=6)
    assert [len(rows[b]) for b in (1, 2)] == [6, 6]
    summary = summarize(rows[2])
    assert summary['all']['n'] == 6
    for r in rows[1] + rows[2]:
        # random weights: every word's map is near uniform
        assert abs(r.ratio - 1) < 0.05 and abs(r.control - 1) < 0.05
        assert 0 < r.area_share < 0.5
