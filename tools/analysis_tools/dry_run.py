"""A full-size dry run of a training config: what a step costs, measured.

    python tools/analysis_tools/dry_run.py CONFIG [--iters N] [--data-root DIR]
        [--val-samples K] [--work-dir DIR] [--json OUT [--overwrite]]
        [--cfg-options k=v ...] [--debug]

The config is built as written (model, input size, per-GPU batch, optimizer,
checkpoint hook). Then, with mmengine's runner, the dry run

1. trains ``N`` iterations (``N x batch`` sentences of the train split),
2. validates ``K`` samples of the val split,
3. saves the checkpoint as the config's hook does,
4. resumes from that checkpoint once and trains one more iteration.

Where a frozen encoder's checkpoint file (``model.backbone.checkpoint`` of a
``SAMBackbone``, ``model.text_encoder.pretrained`` of a
``CLIPTokenEncoder``) does not exist, random weights of that architecture
are written to a temporary file in the official format (segment_anything's
``sam_model_registry[arch]()`` state dict; open_clip's
``create_model(name)`` state dict) and the config points at it: loading,
checkpoints and resume then behave as with the real weights, and the
checkpoint size reported is the real one. The first line printed says so,
and so does the JSON (``random_weights``).

Without ``--data-root`` a small refer-format dataset is written at COCO's
image sizes (640 x 480 and 427 x 640; RefShapes drawn at 640 px and scaled),
with sentences up to the config's word limit, in the files the config names.

Reported (``--json``): seconds per training iteration and per stage
(``encode``, ``enhance``, ``text``, ``fusion``, ``decode``,
``loss_backward``, ``optimizer``; on CUDA every boundary synchronises),
seconds per validated sample, checkpoint save and resume times, the peak
host memory (and the peak GPU memory on CUDA), the checkpoint's size and the
trainable and frozen parameter counts.
"""
import argparse
import gc
import json
import os
import os.path as osp
import pickle
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import projects.risam  # noqa: F401  (registers RISAM, allow-lists resume)
from projects.risam.datasets.refer_io import load_json, load_plain_pickle
from projects.risam.datasets.refshapes import generate_refshapes
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import OutputError, check_output_file, write_text
from projects.risam.utils.peak_memory import peak_rss_bytes
from projects.risam.utils.stage_timer import StageTimer

#: COCO train2014's two commonest image sizes, (width, height).
COCO_SIZES: Tuple[Tuple[int, int], ...] = ((640, 480), (427, 640))
#: Stages timed in a training iteration, in the order they run.
STAGES = ('encode', 'enhance', 'text', 'fusion', 'decode', 'loss_backward',
          'optimizer')
_FILLER = ('that is in this picture next to the other things on the left of '
           'the grey table under the window').split()


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=2,
                        help='training iterations before the checkpoint')
    parser.add_argument('--data-root',
                        help='a refer-format dataset (default: generated)')
    parser.add_argument('--val-samples', type=int, default=None,
                        help='samples validated (default: one val batch)')
    parser.add_argument('--work-dir',
                        help='keep the run here (a new or empty folder); '
                        'default: a temporary folder, removed at the end')
    parser.add_argument('--json', help='write the figures here')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --json file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error('--iters must be >= 1')
    if args.val_samples is not None and args.val_samples < 1:
        parser.error('--val-samples must be >= 1')
    return args


# -- frozen encoders' weights --------------------------------------------
def _is_type(cfg: dict, name: str) -> bool:
    return isinstance(cfg, dict) and str(cfg.get('type', '')).split(
        '.')[-1] == name


def missing_frozen_weights(model_cfg: dict) -> List[dict]:
    """The frozen encoders whose checkpoint file the config names but which
    does not exist: ``[{key, path, kind, arch}]``."""
    found = []
    bb, te = model_cfg.get('backbone'), model_cfg.get('text_encoder')
    if _is_type(bb, 'SAMBackbone') and bb.get('checkpoint') and not osp.isfile(
            bb['checkpoint']):
        arch = bb.get('arch', 'vit_h')
        if not isinstance(arch, str):
            raise FileNotFoundError(
                f'model.backbone.checkpoint {bb["checkpoint"]} does not exist '
                'and arch is not one of segment_anything\'s registered ones')
        found.append(dict(key='model.backbone.checkpoint',
                          path=bb['checkpoint'], kind='segment_anything',
                          arch=arch))
    if _is_type(te, 'CLIPTokenEncoder') and te.get(
            'pretrained') and not osp.isfile(te['pretrained']):
        if te.get('model_cfg') is not None:
            raise FileNotFoundError(
                f'model.text_encoder.pretrained {te["pretrained"]} does not '
                'exist and the tower is given as model_cfg, not a name')
        found.append(dict(key='model.text_encoder.pretrained',
                          path=te['pretrained'], kind='open_clip',
                          arch=te.get('model_name', 'ViT-B-16')))
    return found


def write_random_weights(kind: str, arch: str, path: str,
                         seed: int = 0) -> int:
    """Random weights of ``arch`` in the official file format; returns the
    file's size in bytes.

    ``segment_anything``: ``sam_model_registry[arch]()`` state dict (keys
    ``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``), as in
    ``sam_vit_h_4b8939.pth``. ``open_clip``: ``create_model(arch)`` state
    dict, as in ``open_clip_pytorch_model.bin``.
    """
    torch.manual_seed(seed)
    if kind == 'segment_anything':
        from segment_anything import sam_model_registry
        model = sam_model_registry[arch]()
    elif kind == 'open_clip':
        import open_clip
        model = open_clip.create_model(arch, pretrained=None)
    else:
        raise ValueError(f'unknown weights kind {kind!r}')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save(model.state_dict(), path)
    del model
    return osp.getsize(path)


def _set_key(cfg: Config, key: str, value) -> None:
    cfg.merge_from_dict({key: value})


# -- data ----------------------------------------------------------------
def _scale_image(image: np.ndarray, polys: List[List[float]], w: int,
                 h: int) -> Tuple[np.ndarray, List[List[float]]]:
    """Resize to ``w x h``; polygons are scaled with it (exactly linear)."""
    src_h, src_w = image.shape[:2]
    sx, sy = w / src_w, h / src_h
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    scaled = []
    for poly in polys:
        xy = np.asarray(poly, float).reshape(-1, 2) * [sx, sy]
        scaled.append([round(float(v), 2) for v in xy.reshape(-1)])
    return out, scaled


def _lengthen(sentence: str, words: int) -> str:
    """``sentence`` padded with filler words to ``words`` words."""
    tokens = sentence.split()
    while len(tokens) < words:
        tokens.append(_FILLER[(len(tokens)) % len(_FILLER)])
    return ' '.join(tokens)


def write_coco_sized_refer(root: str, *, ann_file: str, split_file: str,
                           img_prefix: str, max_words: int,
                           splits: Dict[str, str], train_images: int,
                           val_images: int, seed: int = 0) -> Dict[str, int]:
    """A refer-format dataset at COCO image sizes, in the files a config
    names (relative to ``root``). Returns the number of sentences per split.

    RefShapes (:func:`generate_refshapes`) is drawn at 640 px, then every
    image is scaled to 640 x 480 or 427 x 640 (alternately) with its
    polygons. The train split keeps one sentence per image, so a batch
    encodes as many images as it has sentences (as a shuffled RefCOCO batch
    almost always does); val keeps every sentence (the val loader groups
    the sentences of an image). Every other sentence is lengthened to
    ``max_words`` words. ``splits`` renames RefShapes' ``train``/``val`` to
    the config's split names.
    """
    os.makedirs(root, exist_ok=True)
    src = tempfile.mkdtemp(prefix='refshapes_', dir=root)
    try:
        generate_refshapes(src, train=train_images, val=val_images, test=0,
                           seed=seed, size=640, progress=False)
        instances = load_json(osp.join(src, 'instances.json'))
        refs = load_plain_pickle(osp.join(src, 'refs(unc).p'))
        img_dir = osp.join(root, img_prefix)
        os.makedirs(img_dir, exist_ok=True)
        anns_of: Dict[int, List[dict]] = {}
        for ann in instances['annotations']:
            anns_of.setdefault(ann['image_id'], []).append(ann)
        for i, img in enumerate(instances['images']):
            w, h = COCO_SIZES[i % len(COCO_SIZES)]
            image = cv2.imread(osp.join(src, 'images', img['file_name']))
            anns = anns_of.get(img['id'], [])
            image, polys = _scale_image(
                image, [a['segmentation'][0] for a in anns], w, h)
            cv2.imwrite(osp.join(img_dir, img['file_name']), image)
            img.update(width=w, height=h)
            for ann, poly in zip(anns, polys):
                rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
                ann.update(segmentation=[poly],
                           area=int(mask_utils.area(rle)),
                           bbox=[float(v) for v in mask_utils.toBbox(rle)])
        kept, seen = [], set()
        for ref in refs:
            if ref['split'] == 'train':
                if ref['image_id'] in seen:
                    continue
                seen.add(ref['image_id'])
                ref['sentences'] = ref['sentences'][:1]
                ref['sent_ids'] = ref['sent_ids'][:1]
            ref['split'] = splits.get(ref['split'], ref['split'])
            kept.append(ref)
        counts: Dict[str, int] = {}
        n = 0
        for ref in kept:
            for s in ref['sentences']:
                text = _lengthen(s['sent'], max_words) if n % 2 else s['sent']
                s.update(sent=text, raw=text, tokens=text.split())
                counts[ref['split']] = counts.get(ref['split'], 0) + 1
                n += 1
        for name in (ann_file, split_file):
            os.makedirs(osp.dirname(osp.join(root, name)), exist_ok=True)
        with open(osp.join(root, ann_file), 'w') as f:
            json.dump(instances, f)
        with open(osp.join(root, split_file), 'wb') as f:
            pickle.dump(kept, f, protocol=2)
        return counts
    finally:
        shutil.rmtree(src, ignore_errors=True)


# -- measuring -----------------------------------------------------------
def param_counts(model: torch.nn.Module) -> Dict[str, int]:
    """``{'trainable': n, 'frozen': n}`` parameters (``requires_grad``)."""
    counts = dict(trainable=0, frozen=0)
    for p in model.parameters():
        counts['trainable' if p.requires_grad else 'frozen'] += p.numel()
    return counts


def _mean(rows: List[Dict[str, float]], key: str) -> Optional[float]:
    values = [r[key] for r in rows if key in r]
    return sum(values) / len(values) if values else None


# -- the run ---------------------------------------------------------------
def _iter_based(cfg: Config) -> bool:
    return 'max_iters' in cfg.train_cfg


def _dry_run_cfg(cfg: Config, work_dir: str, *, iters: int,
                 val_samples: int) -> Tuple[Config, str]:
    """The config as written, on a train set of ``iters`` batches and a val
    set of ``val_samples`` samples, for ``iters`` iterations (one epoch of
    an epoch-based loop); and the name of the checkpoint it ends with."""
    cfg = cfg.copy()
    cfg.work_dir = work_dir
    batch = cfg.train_dataloader.batch_size
    cfg.train_dataloader.dataset.indices = iters * batch
    cfg.val_dataloader.dataset.indices = val_samples
    if _iter_based(cfg):
        cfg.train_cfg.max_iters = iters
        cfg.train_cfg.val_interval = iters
        last = f'iter_{iters}.pth'
    else:
        cfg.train_cfg.max_epochs = 1
        last = 'epoch_1.pth'
    cfg.train_cfg.val_begin = 1
    cfg.launcher = 'none'
    cfg.resume = False
    cfg.load_from = None
    return cfg, last


def _resume_cfg(cfg: Config, checkpoint: str) -> Config:
    """Resume from ``checkpoint`` and train one more iteration (no val, no
    save)."""
    cfg = cfg.copy()
    cfg.train_dataloader.dataset.indices = cfg.train_dataloader.batch_size
    if _iter_based(cfg):
        cfg.train_cfg.max_iters += 1
        cfg.train_cfg.val_begin = cfg.train_cfg.max_iters + 1
    else:
        cfg.train_cfg.max_epochs = 2
        cfg.train_cfg.val_begin = 3
    cfg.default_hooks.checkpoint.save_last = False
    cfg.default_hooks.checkpoint.interval = 10**6
    cfg.resume = True
    cfg.load_from = checkpoint
    return cfg


def _runner(cfg: Config) -> Tuple[Runner, StageTimer]:
    runner = Runner.from_cfg(cfg)
    timer = StageTimer()
    timer.attach(runner)
    runner.register_hook(timer)
    return runner, timer


def _device_name() -> str:
    if torch.cuda.is_available():
        return f'cuda ({torch.cuda.get_device_name(0)})'
    return 'cpu'


def _prepare_data(cfg: Config, data_root: Optional[str], root: str,
                  iters: int, val_samples: int) -> dict:
    """Point every loader at ``data_root``, or write a dataset there."""
    if data_root is not None:
        if not osp.isdir(data_root):
            raise NotADirectoryError(f'--data-root {data_root} is not a '
                                     'folder')
        for loader in ('train', 'val', 'test'):
            cfg[f'{loader}_dataloader'].dataset.data_root = data_root
        return dict(generated=False, root=data_root)
    ds = cfg.train_dataloader.dataset
    if not str(ds.get('type', '')).endswith('ReferDataset') or str(
            ds.get('type', '')).endswith('GReferDataset'):
        raise FileNotFoundError(
            f'dry_run.py writes refer-format data only; '
            f'train_dataloader.dataset.type is {ds.get("type")!r}: give '
            '--data-root')
    val_ds = cfg.val_dataloader.dataset
    max_words = int(ds.get('max_words') or 17)
    batch = cfg.train_dataloader.batch_size
    # train: one sentence per image; val: >= 3 sentences per image
    counts = write_coco_sized_refer(
        root, ann_file=ds.ann_file, split_file=ds.split_file,
        img_prefix=ds.data_prefix['img_path'], max_words=max_words,
        splits=dict(train=ds.split, val=val_ds.split),
        train_images=iters * batch, val_images=-(-val_samples // 3))
    for split, need in ((ds.split, iters * batch), (val_ds.split,
                                                    val_samples)):
        if counts.get(split, 0) < need:  # never with RefShapes' density
            raise RuntimeError(f'generated {counts.get(split, 0)} sentences '
                               f'for {split}, need {need}')
    for loader in ('train', 'val', 'test'):
        cfg[f'{loader}_dataloader'].dataset.data_root = root
    return dict(generated=True, root=root,
                image_sizes=[list(s) for s in COCO_SIZES],
                max_words=max_words, sentences=counts)


def dry_run(config: str, *, iters: int = 2, data_root: Optional[str] = None,
            val_samples: Optional[int] = None, work_dir: Optional[str] = None,
            cfg_options: Optional[dict] = None) -> dict:
    """Run the dry run; return its report (see the module docstring)."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if val_samples is None:
        val_samples = int(cfg.val_dataloader.batch_size)
    missing = missing_frozen_weights(cfg.model)
    if missing:
        print('dry_run: random weights for ' + '; '.join(
            f'{m["key"]} ({m["kind"]} {m["arch"]}: {m["path"]} is missing)'
            for m in missing), flush=True)
    else:
        print('dry_run: no frozen-encoder weight file is missing (real or '
              'no weights, as the config says)', flush=True)
    keep = work_dir is not None
    if keep:
        if osp.isdir(work_dir) and os.listdir(work_dir):
            raise OutputError(f'--work-dir {work_dir} is not empty')
        os.makedirs(work_dir, exist_ok=True)
        base = work_dir
    else:
        base = tempfile.mkdtemp(prefix='risam_dry_run_')
    try:
        random_weights = []
        for m in missing:
            path = osp.join(base, 'weights', osp.basename(m['path']))
            t0 = time.perf_counter()
            size = write_random_weights(m['kind'], m['arch'], path)
            _set_key(cfg, m['key'], path)
            random_weights.append(dict(
                m, written=path, bytes=size,
                seconds=round(time.perf_counter() - t0, 3)))
        data = _prepare_data(cfg, data_root, osp.join(base, 'data'), iters,
                             val_samples)
        run_dir = osp.join(base, 'work')
        first, last = _dry_run_cfg(cfg, run_dir, iters=iters,
                                   val_samples=val_samples)
        runner, timer = _runner(first)
        model = getattr(runner.model, 'module', runner.model)
        counts = param_counts(model)
        # what the frozen encoder computes in here (bf16 falls back to fp32
        # on a CPU without native bf16, with a log line)
        encoder_dtype = getattr(getattr(model, 'backbone', None),
                                'encoder_dtype', None)
        runner.train()
        ckpts = {f: osp.getsize(osp.join(run_dir, f))
                 for f in sorted(os.listdir(run_dir)) if f.endswith('.pth')}
        if last not in ckpts:
            raise RuntimeError(f'the run saved no {last} (saved: '
                               f'{sorted(ckpts)})')
        del runner, model
        gc.collect()
        t0 = time.perf_counter()
        second = _resume_cfg(first, osp.join(run_dir, last))
        resumed, rtimer = _runner(second)
        resumed.train()
        resume_seconds = time.perf_counter() - t0
        del resumed
        stage_means = {s: _mean(timer.iters, s) for s in STAGES}
        report = dict(
            config=config,
            device=_device_name(),
            torch=torch.__version__,
            iters=iters,
            batch_size=int(cfg.train_dataloader.batch_size),
            input_size=list(cfg.model.data_preprocessor.get('size') or []),
            encoder_dtype=encoder_dtype,
            random_weights=random_weights,
            data=data,
            params=counts,
            train=dict(
                iter_seconds=[round(r['iteration'], 3) for r in timer.iters],
                stage_seconds_per_iter={
                    s: None if v is None else round(v, 3)
                    for s, v in stage_means.items()},
                stage_seconds=[{k: round(v, 3) for k, v in r.items()}
                               for r in timer.iters]),
            val=dict(samples=timer.val_samples,
                     seconds=round(timer.val_seconds, 3),
                     seconds_per_sample=round(
                         timer.val_seconds / max(timer.val_samples, 1), 3)),
            checkpoint=dict(file=last, bytes=ckpts[last], files=ckpts,
                            save_seconds=[round(s, 3)
                                          for s in timer.save_seconds]),
            resume=dict(from_iter=rtimer.first_iter,
                        to_iter=rtimer.last_iter,
                        seconds=round(resume_seconds, 3)),
            memory=dict(
                peak_host_train_bytes=timer.peak_train_bytes,
                # the high-water marks read before each reset (a timer's
                # training peaks come before the next mark) and the last
                peak_host_bytes=max(
                    timer.peak_before_train_bytes,
                    rtimer.peak_before_train_bytes, peak_rss_bytes()),
                peak_gpu_bytes=(torch.cuda.max_memory_allocated()
                                if torch.cuda.is_available() else None)),
            work_dir=base if keep else None)
        return report
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def summary(report: dict) -> str:
    """A few lines a person reads; the JSON has everything."""
    gib = 2**30
    st = report['train']['stage_seconds_per_iter']
    iters = report['train']['iter_seconds']
    mean_iter = sum(iters) / len(iters)
    lines = [
        f'dry_run: {report["config"]} on {report["device"]}, '
        f'{report["iters"]} x batch {report["batch_size"]} at '
        f'{report["input_size"]}, encoder {report["encoder_dtype"]}',
        '  s/iter: ' + ', '.join(
            f'{k} {v:.2f}' for k, v in st.items() if v is not None) +
        f' (iteration {mean_iter:.2f})',
        f'  val: {report["val"]["seconds_per_sample"]:.2f} s/sample; '
        f'checkpoint {report["checkpoint"]["file"]} '
        f'{report["checkpoint"]["bytes"] / gib:.2f} GiB; resume '
        f'{report["resume"]["from_iter"]} -> {report["resume"]["to_iter"]}',
        f'  peak host memory {report["memory"]["peak_host_bytes"] / gib:.2f}'
        f' GiB (training {report["memory"]["peak_host_train_bytes"] / gib:.2f}'
        f' GiB); parameters trainable {report["params"]["trainable"]:,}, '
        f'frozen {report["params"]["frozen"]:,}',
    ]
    if report['memory']['peak_gpu_bytes'] is not None:
        lines.append(f'  peak GPU memory '
                     f'{report["memory"]["peak_gpu_bytes"] / gib:.2f} GiB')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if args.json:
        args.json = check_output_file(args.json, args.overwrite)
    report = dry_run(args.config, iters=args.iters, data_root=args.data_root,
                     val_samples=args.val_samples, work_dir=args.work_dir,
                     cfg_options=args.cfg_options)
    print(summary(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + '\n')
        print(f'dry_run: wrote {args.json}')
    return report


if __name__ == '__main__':
    run_tool(main, 'dry_run.py')
