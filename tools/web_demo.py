"""A local web demo: upload an image, type sentences, see each mask.

    pip install -e ".[demo]"     # gradio
    python tools/web_demo.py CONFIG CHECKPOINT [--port 7860] [--device cpu]
        [--threshold T]

Then open http://127.0.0.1:7860. Type one sentence per line; every sentence
gets its mask overlaid on the image and a PNG of the mask (0/255) to
download. The image is encoded once: further sentences on the same image
reuse its embedding, and the status line says whether the encoder ran or
was skipped. An empty mask is reported in words ("nothing in the image
matches this sentence"). The threshold slider (default: the config's, or
--threshold) sets the probability a pixel needs to be in the mask. When the
config's val data is there (RefShapes or generalized RefShapes), a few val
images with sentences of each kind (single, multi- and no-target) are
offered as examples. The "Attention" tab shows why the model answered
(Fig. 7, for models with the risam.MutualAwareFusion neck): press "Show
attention" for an image and a sentence, pick a word to see its
language-guided map over the image, or click the image to see the
vision-guided weights over the words in a region around that point; the
same maps as tools/analysis_tools/attention_maps.py. The server listens on
127.0.0.1 only, makes no share link and sends no analytics.
"""
import argparse
import os
import os.path as osp
import re
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

# before gradio is imported: no usage analytics leave the machine
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import projects.risam  # noqa: E402,F401  (registers RISAM)
from projects.risam.apis import RISAMInferencer, demo_examples  # noqa: E402
from projects.risam.apis.risam_inferencer import mask_score  # noqa: E402
from projects.risam.utils.cli import one_line  # noqa: E402
from projects.risam.visualization import overlay  # noqa: E402
from projects.risam.visualization.attention_maps import (  # noqa: E402
    MA_NECK,
    neck_type,
)
from projects.risam.visualization.attention_view import (  # noqa: E402
    AttentionView,
    attention_tab,
)

NO_IMAGE = 'Upload an image first.'
NO_SENTENCE = 'Type at least one sentence (one per line).'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='RISAM web demo (local)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--threshold', type=float, default=None,
                        help="probability threshold (default: the config's)")
    return parser.parse_args()


def _slug(text: str) -> str:
    return re.sub(r'[^a-z0-9]+', '-', text.lower()).strip('-')[:40] or 'mask'


class DemoSession:
    """What one click of "Segment" does, without any web framework.

    Args:
        inferencer: the model, with its image-embedding cache.
        out_dir: folder for the downloadable mask PNGs.
    """

    def __init__(self, *, inferencer: RISAMInferencer, out_dir: str) -> None:
        self.inferencer = inferencer
        self.out_dir = out_dir
        self.sentences_seen: Dict[str, int] = {}
        self._request = 0

    def segment(self, image_rgb: Optional[np.ndarray], sentences: str,
                threshold: Optional[float] = None
                ) -> Tuple[List[Tuple[np.ndarray, str]], List[str], str]:
        """Image (RGB, as the browser sends it) and sentences, one a line,
        and the probability threshold (default: the model's) ->
        ``(gallery [(overlay RGB, caption)], mask PNG paths, status)``.
        An empty mask is captioned "nothing in the image matches this
        sentence"."""
        if image_rgb is None:
            return [], [], NO_IMAGE
        texts = [t.strip() for t in (sentences or '').splitlines()
                 if t.strip()]
        if not texts:
            return [], [], NO_SENTENCE
        img = cv2.cvtColor(np.ascontiguousarray(image_rgb[..., :3]),
                           cv2.COLOR_RGB2BGR)
        embedding, reused = self.inferencer.encode(img)
        before = self.sentences_seen.get(embedding.key, 0)
        self.sentences_seen[embedding.key] = before + len(texts)
        start = time.perf_counter()
        samples = self.inferencer.segment(embedding, texts, threshold)
        seconds = time.perf_counter() - start
        self._request += 1
        folder = osp.join(self.out_dir, f'request{self._request}')
        os.makedirs(folder, exist_ok=True)
        gallery, files, lines = [], [], []
        for i, (text, sample) in enumerate(zip(texts, samples)):
            mask = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            path = osp.join(folder, f'mask_{i + 1}_{_slug(text)}.png')
            cv2.imwrite(path, mask * 255)
            files.append(path)
            area = int(mask.sum())
            if sample.nothing_matches:
                caption = (f'"{text}": nothing in the image matches this '
                           f'sentence (empty mask)')
            else:
                score = mask_score(sample.seg_logits.data,
                                   sample.pred_sem_seg.data[0])
                caption = (f'"{text}": {area} px '
                           f'({100 * area / mask.size:.1f} % of the image), '
                           f'score {score:.2f}')
            gallery.append((cv2.cvtColor(overlay(img, mask, text),
                                         cv2.COLOR_BGR2RGB), caption))
            lines.append(f'- {caption}')
        if reused:
            head = (f'Image embedding reused: the encoder did not run '
                    f'(this image was encoded once; {before} sentence(s) '
                    f'before these). ')
        else:
            head = (f'Image encoded in {embedding.encode_time:.2f} s '
                    f'(once; further sentences on it reuse the embedding). ')
        used = self.inferencer.model.threshold if threshold is None \
            else threshold
        status = head + f'{len(texts)} sentence(s) in {seconds:.2f} s ' \
            f'(threshold {used:.2f}).\n\n' + \
            '\n'.join(lines)
        return gallery, files, status


def build_demo(session: DemoSession, title: str, examples=(),
               attention: Optional[AttentionView] = None):
    """The gradio page around :meth:`DemoSession.segment`, with a
    threshold slider and the ``examples``
    (:func:`projects.risam.apis.demo_examples`), if any; with
    ``attention``, an "Attention" tab (:func:`attention_tab`)."""
    import gradio as gr
    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f'## {title}\nUpload an image, type one sentence per '
                    'line, press **Segment**.')
        with gr.Tab('Segment'):
            segment_tab(gr, session, examples)
        if attention is not None:
            with gr.Tab('Attention', elem_id='risam-attention-tab'):
                attention_tab(gr, attention)
    return demo


def segment_tab(gr, session: DemoSession, examples=()) -> None:
    """The "Segment" tab: image, sentences, threshold, masks."""
    with gr.Row():
        image = gr.Image(label='image', type='numpy',
                         elem_id='risam-image')
        text = gr.Textbox(label='sentences (one per line)', lines=4,
                          elem_id='risam-sentences')
    if examples:
        gr.Examples([[e.image, e.sentence] for e in examples],
                    inputs=[image, text], label='RefShapes val examples',
                    example_labels=[f'{e.kind} ({e.type}): {e.sentence}'
                                    for e in examples],
                    elem_id='risam-examples')
    threshold = gr.Slider(0.0, 1.0, step=0.01,
                          value=float(session.inferencer.model.threshold),
                          label='threshold (probability a pixel needs '
                          'to be in the mask)',
                          elem_id='risam-threshold')
    button = gr.Button('Segment', variant='primary',
                       elem_id='risam-segment')
    status = gr.Markdown(elem_id='risam-status')
    gallery = gr.Gallery(label='masks', elem_id='risam-overlays',
                         columns=3, format='png')
    files = gr.File(label='mask PNGs', file_count='multiple',
                    elem_id='risam-masks')
    button.click(session.segment, [image, text, threshold],
                 [gallery, files, status])


def main() -> None:
    args = parse_args()
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            sys.exit(f'web_demo: file not found: {path}')
    try:
        import gradio  # noqa: F401
    except ImportError:
        sys.exit('web_demo: gradio is not installed; pip install -e ".[demo]"')
    try:
        inferencer = RISAMInferencer(args.config, args.checkpoint,
                                     args.device, threshold=args.threshold)
    except (RuntimeError, FileNotFoundError) as e:
        # a checkpoint that does not match the config, a missing encoder file
        sys.exit(f'web_demo: {one_line(e)}')
    out_dir = tempfile.mkdtemp(prefix='risam-web-demo-')
    session = DemoSession(inferencer=inferencer, out_dir=out_dir)
    title = f'RISAM: {osp.basename(args.config)}'
    examples = demo_examples(inferencer.model.cfg)
    print(f'web demo of {args.checkpoint} on http://127.0.0.1:{args.port} '
          f'(masks saved under {out_dir})', flush=True)
    folders = sorted({osp.dirname(osp.abspath(e.image)) for e in examples})
    attention = (AttentionView(inferencer.model)
                 if neck_type(inferencer.model) == MA_NECK else None)
    build_demo(session, title, examples, attention).launch(
        server_name='127.0.0.1', server_port=args.port, share=False,
        inbrowser=False, allowed_paths=folders)


if __name__ == '__main__':
    main()
