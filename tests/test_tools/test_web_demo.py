"""tools/web_demo.py: the click handler, and the page in headless Chromium
(the Segment tab, then the Attention tab)."""
import contextlib
import os
import runpy
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest

from projects.risam.apis import RISAMInferencer, inference_refer
from projects.risam.visualization import overlay
from projects.risam.visualization.attention_view import AttentionView

from .conftest import DEMO_CONFIG, REPO

web_demo = runpy.run_path(str(REPO / 'tools/web_demo.py'))
SENTENCES = ['the red shape', 'the leftmost shape']


def _image(root):
    return sorted((root / 'images').glob('*.png'))[8]  # first val image


def _rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_session_encodes_once_and_says_when_nothing_matches(
        refshapes_root, tiny_checkpoint, tmp_path):
    image = _image(refshapes_root)
    inferencer = RISAMInferencer(str(DEMO_CONFIG), str(tiny_checkpoint))
    session = web_demo['DemoSession'](inferencer=inferencer,
                                      out_dir=str(tmp_path))
    gallery, files, status = session.segment(_rgb(image),
                                             '\n'.join(SENTENCES))
    assert status.startswith('Image encoded in')
    expected = inference_refer(inferencer.model, str(image), SENTENCES)
    bgr = cv2.imread(str(image))
    for (picture, caption), path, text, want in zip(gallery, files,
                                                    SENTENCES, expected):
        mask = want.pred_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(
            picture, cv2.cvtColor(overlay(bgr, mask, text),
                                  cv2.COLOR_BGR2RGB))
        np.testing.assert_array_equal(
            cv2.imread(path, cv2.IMREAD_GRAYSCALE), mask * 255)
        assert text in caption

    # another sentence on the same image: the encoder does not run again
    _, _, status = session.segment(_rgb(image), 'the blue shape')
    assert status.startswith('Image embedding reused')
    assert inferencer.num_encoded == 1

    inferencer.model.threshold = 1.0  # sigmoid never exceeds it: empty
    gallery, _, status = session.segment(_rgb(image), 'the purple star')
    assert 'nothing in the image matches' in gallery[0][1]
    assert 'nothing in the image matches' in status
    assert session.segment(_rgb(image), '  \n ')[2] == web_demo['NO_SENTENCE']
    assert session.segment(None, 'x')[2] == web_demo['NO_IMAGE']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _in_ci() -> bool:
    """True where the environment variable CI is set (CI services set
    ``CI=true``); ``CI=0`` / ``CI=false`` count as unset."""
    return os.environ.get('CI', '').strip().lower() not in ('', '0', 'false')


def _chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        if shutil.which(name):
            return shutil.which(name)
    return None


@contextlib.contextmanager
def _server(tiny_checkpoint, tmp_path, config=DEMO_CONFIG):
    """Run tools/web_demo.py in a subprocess (in ``tmp_path``, so a
    relative ``data_root`` of the config is looked up there); yield its
    URL."""
    port = _free_port()
    log = open(tmp_path / 'server.log', 'w+')
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(REPO / 'tools/web_demo.py'), str(config),
         str(tiny_checkpoint), '--port', str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path))
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    pytest.fail(f'web demo did not start:\n{log.read()}')
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


@contextlib.contextmanager
def headless_chromium():
    """A selenium driver of headless Chromium with the system's
    chromedriver (never fetched from the network); skips the test where
    there is no Chromium, unless the environment variable CI is set."""
    chromium = _chromium()
    if chromium is None:
        missing = ('no chromium binary found (apt-get install chromium '
                   'chromium-driver)')
        if _in_ci():
            pytest.fail(f'{missing}; CI is set, so the browser test may not '
                        'be skipped')
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--disable-gpu', '--window-size=1280,2000'):
        options.add_argument(arg)
    driver_path = shutil.which('chromedriver')
    assert driver_path, ('chromium found but no chromedriver on PATH '
                         '(apt-get install chromium-driver)')
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def test_browser_two_sentences_and_an_empty_one(refshapes_root,
                                                tiny_checkpoint, tmp_path):
    image = _image(refshapes_root)
    with headless_chromium() as driver, \
            _server(tiny_checkpoint, tmp_path) as url:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        _drive(driver, url, image, By, WebDriverWait, tiny_checkpoint)
        _drive_attention(driver, image, By, WebDriverWait, tiny_checkpoint)


def _picture(driver, By, selector):
    """The PNG that an image component shows, decoded (BGR), or None."""
    srcs = [e.get_attribute('src') for e in driver.find_elements(
        By.CSS_SELECTOR, f'{selector} img')]
    srcs = [s for s in srcs if s]
    return (srcs[0], cv2.imdecode(np.frombuffer(_fetch(srcs[0]), np.uint8),
                                  cv2.IMREAD_COLOR)) if srcs else (None, None)


def _drive_attention(driver, image, By, WebDriverWait, checkpoint):
    """The Attention tab: a word's map, then a clicked region's word
    weights, each equal to :class:`AttentionView`'s picture."""
    from selenium.webdriver.common.action_chains import ActionChains
    wait = WebDriverWait(driver, 60)
    driver.find_element(By.XPATH,
                        '//button[@role="tab"][contains(., "Attention")]'
                        ).click()
    upload = wait.until(lambda d: d.find_element(
        By.CSS_SELECTOR, '#risam-attn-image input[type=file]'))
    upload.send_keys(str(image))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR,
                                         '#risam-attn-image img'))
    driver.find_element(By.CSS_SELECTOR, '#risam-attn-sentence textarea, '
                        '#risam-attn-sentence input').send_keys(SENTENCES[0])
    driver.find_element(By.CSS_SELECTOR, '#risam-attn-run').click()
    wait.until(lambda d: _picture(d, By, '#risam-attn-map')[0])
    view = AttentionView(RISAMInferencer(str(DEMO_CONFIG),
                                         str(checkpoint)).model)
    words, first, _, _ = view.run(_rgb(image), SENTENCES[0])
    assert words[:3] == ['0: <sot>', '1: the', '2: red']
    status = driver.find_element(By.CSS_SELECTOR, '#risam-attn-status').text
    assert status.startswith('Block 2 (tau 0.35), 5 tokens')
    src, shown = _picture(driver, By, '#risam-attn-map')
    np.testing.assert_array_equal(shown[..., ::-1], first)

    # pick a word: its map
    driver.find_element(By.XPATH, '//*[@id="risam-attn-word"]//label'
                        '[contains(., "2: red")]').click()
    wait.until(lambda d: _picture(d, By, '#risam-attn-map')[0] != src)
    np.testing.assert_array_equal(
        _picture(driver, By, '#risam-attn-map')[1][..., ::-1],
        view.word('2: red'))

    # click the image: the word weights of the region around the point
    before = _picture(driver, By, '#risam-attn-weights')[0]
    shown = driver.find_element(By.CSS_SELECTOR, '#risam-attn-image img')
    ActionChains(driver).move_to_element_with_offset(shown, -20, -20).click(
        ).perform()
    wait.until(lambda d: _picture(d, By, '#risam-attn-weights')[0] != before
               and d.find_element(By.CSS_SELECTOR, '#risam-attn-region'
                                  ).text.startswith('region'))
    line = driver.find_element(By.CSS_SELECTOR, '#risam-attn-region').text
    box = tuple(int(v) for v in line.split()[1].split(','))
    assert box[2] == box[3] == 26 and box[0] < 64 and box[1] < 64, line
    np.testing.assert_array_equal(
        _picture(driver, By, '#risam-attn-weights')[1][..., ::-1],
        view.box(box)[0])


def _drive(driver, url, image, By, WebDriverWait, checkpoint):
    wait = WebDriverWait(driver, 120)
    driver.get(url)
    upload = wait.until(lambda d: d.find_element(
        By.CSS_SELECTOR, '#risam-image input[type=file]'))
    upload.send_keys(str(image))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#risam-image img'))
    box = driver.find_element(By.CSS_SELECTOR, '#risam-sentences textarea')
    box.send_keys('\n'.join(SENTENCES))
    driver.find_element(By.CSS_SELECTOR, '#risam-segment').click()

    def overlays(d):
        srcs = {e.get_attribute('src') for e in d.find_elements(
            By.CSS_SELECTOR, '#risam-overlays img')}
        srcs.discard(None)
        return sorted(srcs) if len(srcs) >= 2 else False

    srcs = wait.until(overlays)
    pictures = [cv2.imdecode(np.frombuffer(_fetch(s), np.uint8),
                             cv2.IMREAD_COLOR) for s in srcs]
    assert len(pictures) == 2 and all(p is not None for p in pictures)
    assert pictures[0].shape == pictures[1].shape
    assert not np.array_equal(pictures[0], pictures[1])

    # the overlays are the model's: compare with the API's masks
    model = RISAMInferencer(str(DEMO_CONFIG), str(checkpoint)).model
    bgr = cv2.imread(str(image))
    expected = {
        overlay(bgr, r.pred_sem_seg.data[0].numpy(), t).tobytes()
        for t, r in zip(SENTENCES, inference_refer(model, str(image),
                                                   SENTENCES))}
    assert {p.tobytes() for p in pictures} == expected
    status = driver.find_element(By.CSS_SELECTOR, '#risam-status').text
    assert 'Image encoded in' in status

    # an empty sentence gets a clear message
    box.clear()
    box.send_keys('   ')
    driver.find_element(By.CSS_SELECTOR, '#risam-segment').click()
    wait.until(lambda d: web_demo['NO_SENTENCE'] in d.find_element(
        By.CSS_SELECTOR, '#risam-status').text)
