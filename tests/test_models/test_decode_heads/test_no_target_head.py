"""NoTargetHead and its switch in MutualAwareMaskDecoder (off by default)."""
import torch
import torch.nn.functional as F

from projects.risam.models import MutualAwareMaskDecoder
from projects.risam.models.decode_heads.no_target_head import NoTargetHead


def _inputs():
    torch.manual_seed(0)
    lav = torch.randn(3, 16, 4, 5)
    val = torch.randn(3, 6, 16)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 3:] = False
    return lav, val, mask


def _gt():
    """Sample 0 has a target, 1 is empty (no target), 2 is empty apart from
    padding (still no target)."""
    gt = torch.zeros(3, 64, 80, dtype=torch.long)
    gt[0, 10:20, 30:50] = 1
    gt[2, 40:] = 255
    return gt


def test_labels_mark_empty_targets_only():
    gt = _gt()
    assert NoTargetHead.labels(gt).tolist() == [0.0, 1.0, 1.0]
    gt[1, 5, 5] = 1  # one foreground pixel is a target
    assert NoTargetHead.labels(gt).tolist() == [0.0, 0.0, 1.0]


def test_suppress_caps_only_samples_scored_none():
    head = NoTargetHead(channels=16, threshold=0.5, suppress_logit=-20.0)
    logits = torch.full((3, 1, 4, 4), 3.0)
    logits[2] = -30.0  # already below the cap: left as it is
    score = torch.tensor([-0.1, 0.1, 5.0])  # p = 0.475, 0.525, 0.99
    out = head.suppress(logits, score)
    assert torch.equal(out[0], logits[0])
    assert torch.all(out[1] == -20.0)
    assert torch.all(out[2] == -30.0)
    # a stricter threshold leaves sample 1 alone
    head.threshold = 0.6
    assert torch.equal(head.suppress(logits, score)[1], logits[1])


def test_decoder_default_has_no_head_and_paper_losses():
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2)
    assert dec.no_target_head is None
    assert not any('no_target' in k for k in dec.state_dict())
    lav, val, mask = _inputs()
    losses = dec.loss(lav, val, mask, _gt())
    assert set(losses) == {'loss_focal', 'loss_dice'}
    assert dec.no_target_logits is None


def test_decoder_head_does_not_change_the_mask_in_training():
    """The same weights with and without the head give the same training
    logits and the same Eq. 12 terms; the head only adds its BCE."""
    lav, val, mask = _inputs()
    torch.manual_seed(1)
    plain = MutualAwareMaskDecoder(in_channels=16, num_heads=2)
    with_head = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                       no_target_head=dict(weight=2.0))
    missing = with_head.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing.missing_keys) == [
        'no_target_head.fc.bias', 'no_target_head.fc.weight',
        'no_target_head.norm.bias', 'no_target_head.norm.weight']
    gt = _gt()
    a = plain.loss(lav, val, mask, gt)
    b = with_head.loss(lav, val, mask, gt)
    torch.testing.assert_close(a['loss_focal'], b['loss_focal'])
    torch.testing.assert_close(a['loss_dice'], b['loss_dice'])
    s = with_head.no_target_logits
    assert s.shape == (3,)
    y = torch.tensor([0.0, 1.0, 1.0])
    expected = 2.0 * F.binary_cross_entropy_with_logits(s, y)
    torch.testing.assert_close(b['loss_no_target'], expected)
    assert b['loss_no_target'].item() > 0.1


def test_decoder_head_suppresses_in_eval_only():
    lav, val, mask = _inputs()
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 no_target_head={}).eval()
    with torch.no_grad():
        dec.no_target_head.fc.weight.zero_()
        dec.no_target_head.fc.bias.fill_(-4.0)  # p_none = 0.018: keep
        kept = dec(lav, val, mask)
        dec.no_target_head.fc.bias.fill_(4.0)  # p_none = 0.982: suppress
        none = dec(lav, val, mask)
    assert kept.max() > -20.0
    assert torch.all(none <= -20.0)
    torch.testing.assert_close(none, kept.clamp(max=-20.0))
    assert torch.all(dec.no_target_logits == 4.0)


def test_head_learns_to_tell_empty_targets():
    """A few Adam steps on the head alone separate two fixed query tokens
    labelled none / target (the BCE falls and the scores order)."""
    torch.manual_seed(0)
    head = NoTargetHead(channels=16)
    tokens = torch.randn(2, 16)
    gt = _gt()[:2]  # target, none
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    first = head.loss(head(tokens), gt)['loss_no_target'].item()
    for _ in range(30):
        opt.zero_grad()
        loss = head.loss(head(tokens), gt)['loss_no_target']
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    s = head(tokens)
    assert s[1] > 0 > s[0]


def test_mask_loss_can_leave_out_empty_targets():
    """mask_loss_on_empty=False: Eq. 12 sees the no-target samples as
    padding, so their (non-zero) mask loss is gone; targeted ones unchanged."""
    head = NoTargetHead(channels=16, mask_loss_on_empty=False)
    gt = _gt()
    t = head.mask_target(gt)
    assert torch.equal(t[0], gt[0])
    assert torch.all(t[1:] == 255)
    assert torch.equal(NoTargetHead(channels=16).mask_target(gt), gt)
    lav, val, mask = _inputs()
    torch.manual_seed(2)
    keep = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                  no_target_head={})
    drop = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                  no_target_head=dict(
                                      mask_loss_on_empty=False))
    drop.load_state_dict(keep.state_dict())
    a, b = keep.loss(lav, val, mask, gt), drop.loss(lav, val, mask, gt)
    torch.testing.assert_close(a['loss_no_target'], b['loss_no_target'])
    # on fixed logits: dice is a batch mean and the left-out samples add 0
    logits = torch.randn(3, 1, 16, 20)
    drop.no_target_logits = torch.zeros(3)
    dropped = drop.loss_by_feat(logits, gt)
    first = drop.loss_decode(F.interpolate(
        logits[:1], size=(64, 80), mode='bilinear',
        align_corners=False)[:, 0], gt[:1])
    torch.testing.assert_close(dropped['loss_dice'], first['loss_dice'] / 3)
    assert a['loss_dice'] > b['loss_dice'] + 0.05
