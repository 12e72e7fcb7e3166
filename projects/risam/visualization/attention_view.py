"""What the web demo's "Attention" view shows (Fig. 7), without a web
framework: the same maps (:func:`.attention_maps.attention_maps`) and
pictures (:mod:`.attention_drawing`) as
``tools/analysis_tools/attention_maps.py``."""
from typing import List, Optional, Tuple

import cv2
import numpy as np
import torch

from .attention_drawing import draw_word_map, draw_word_weights, short_word
from .attention_maps import AttentionMaps, Box, attention_maps, check_box

NO_ATTENTION = 'Press "Show attention" first.'
NO_INPUT = 'Upload an image and type one sentence.'


class AttentionView:
    """One user's attention view: run the model on an image and a
    sentence, then pick a word (its language-guided map) or a region (the
    vision-guided weights over the words, averaged over its pixels).

    Pictures go in and out as RGB (what the browser sends and shows).

    Args:
        model: a RISAM model whose neck is ``risam.MutualAwareFusion``.
        region: side of the square region around a clicked point, as a
            share of the image's shorter side.
    """

    def __init__(self, model: torch.nn.Module, region: float = 0.2) -> None:
        self.model = model
        self.region = region
        self.maps: Optional[AttentionMaps] = None
        self.image: Optional[np.ndarray] = None  # BGR

    def run(self, image_rgb: Optional[np.ndarray], sentence: str,
            block: Optional[int] = None
            ) -> Tuple[List[str], Optional[np.ndarray], Optional[np.ndarray],
                       str]:
        """``(word choices, the first real word's map, the word weights
        over the whole image, status)``; on bad input no pictures and a
        status that says what is missing."""
        sentence = (sentence or '').strip()
        if image_rgb is None or not sentence:
            return [], None, None, NO_INPUT
        self.image = cv2.cvtColor(np.ascontiguousarray(image_rgb[..., :3]),
                                  cv2.COLOR_RGB2BGR)
        self.maps = attention_maps(self.model, self.image, sentence, block)
        words = self.word_choices()
        first = 1 if len(words) > 2 else 0  # the first word after <sot>
        status = (f'Block {self.maps.block} (tau {self.maps.tau:.2f}), '
                  f'{len(words)} tokens; predicted mask '
                  f'{int(self.maps.mask.sum())} px. Pick a word for its '
                  'map, or click the image for a region\'s word weights.')
        return (words, self.word(words[first]), self.box(None)[0], status)

    def word_choices(self) -> List[str]:
        """The tokens as the view lists them: ``"2: red"``."""
        return [f'{i}: {short_word(w)}'
                for i, w in enumerate(self.maps.words)]

    def word(self, choice: Optional[str]) -> Optional[np.ndarray]:
        """The map of the word ``choice`` (one of :meth:`word_choices`)."""
        if self.maps is None or not choice:
            return None
        index = int(str(choice).split(':', 1)[0])
        return _rgb(draw_word_map(self.image, self.maps, index))

    def box(self, box: Optional[Box]) -> Tuple[Optional[np.ndarray], str]:
        """The word weights over ``box`` (default: the image) and a line
        (Markdown) naming the box and its heaviest word."""
        if self.maps is None:
            return None, NO_ATTENTION
        box = check_box(box or self.maps.full_box(), self.maps.mask.shape)
        weights, _ = self.maps.region_weights(box)
        top = int(np.argmax(weights))
        line = (f'region {",".join(map(str, box))} (x,y,w,h): heaviest word '
                f'`{short_word(self.maps.words[top])}` ({weights[top]:.2f})')
        return _rgb(draw_word_weights(self.image, self.maps, box)), line

    def click(self, x: int, y: int) -> Tuple[Optional[np.ndarray], str]:
        """The word weights over the square region around image pixel
        ``(x, y)``."""
        if self.maps is None:
            return None, NO_ATTENTION
        h, w = self.maps.mask.shape
        side = max(1, round(self.region * min(h, w)))
        return self.box((int(x) - side // 2, int(y) - side // 2, side, side))


def attention_tab(gr, view: AttentionView) -> None:
    """The "Attention" tab over :class:`AttentionView`: an image, a
    sentence and a block; then a word's map (pick the word) and a region's
    word weights (click the image)."""
    gr.Markdown('Why the model answered (Fig. 7): pick a word to see its '
                'language-guided map; click the image for the '
                'vision-guided word weights of the region around the '
                'point. Pairs removed by the tau mask are red.')
    blocks = len(view.model.neck.blocks)
    with gr.Row():
        image = gr.Image(label='image (click: region)', type='numpy',
                         elem_id='risam-attn-image')
        with gr.Column():
            sentence = gr.Textbox(label='sentence', lines=1,
                                  elem_id='risam-attn-sentence')
            block = gr.Dropdown(list(range(1, blocks + 1)), value=blocks,
                                label='MA block', elem_id='risam-attn-block')
            button = gr.Button('Show attention', variant='primary',
                               elem_id='risam-attn-run')
    status = gr.Markdown(elem_id='risam-attn-status')
    word = gr.Radio([], label='word', elem_id='risam-attn-word')
    with gr.Row():
        word_map = gr.Image(label='word map', format='png',
                            interactive=False, elem_id='risam-attn-map')
        weights = gr.Image(label='word weights of the region', format='png',
                           interactive=False, elem_id='risam-attn-weights')
    region = gr.Markdown(elem_id='risam-attn-region')

    def run(img, text, k):
        words, picture, bars, line = view.run(img, text, int(k))
        first = words[1 if len(words) > 2 else 0] if words else None
        return (gr.update(choices=words, value=first), picture, bars, line,
                view.box(None)[1] if words else '')

    def click(evt: gr.SelectData):
        return view.click(*evt.index)

    button.click(run, [image, sentence, block],
                 [word, word_map, weights, status, region])
    word.input(view.word, word, word_map)
    image.select(click, None, [weights, region])


def _rgb(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
