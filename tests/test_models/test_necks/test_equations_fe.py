"""Feature Enhancement, Eq. 1-2, against the equations written out.

    F_hat = CBA([MLP(F_v1), MLP(F_v2)])        (Eq. 1)
    F_v   = CBA([MLP(F_hat), MLP(F_v3)])       (Eq. 2)

The reference below uses only functional torch ops on the module's own
parameters, so a swapped concatenation, a skipped MLP, a level fused in the
wrong stage or a missing BatchNorm/GELU changes the numbers.
"""
import pytest
import torch
import torch.nn.functional as F

from projects.risam.models.necks.feature_enhancement import FeatureEnhancement


def _mlp(mlp, x):
    """Point-wise Linear-GELU-Linear on ``B x C x H x W``."""
    x = x.permute(0, 2, 3, 1)
    x = F.linear(F.gelu(F.linear(x, mlp.fc1.weight, mlp.fc1.bias)),
                 mlp.fc2.weight, mlp.fc2.bias)
    return x.permute(0, 3, 1, 2)


def _cba(cba, x):
    """conv 3x3 (no bias) -> BatchNorm (batch statistics) -> GELU."""
    conv, bn = cba[0], cba[1]
    x = F.conv2d(x, conv.weight, padding=1)
    x = F.batch_norm(x, None, None, bn.weight, bn.bias, training=True,
                     eps=bn.eps)
    return F.gelu(x)


def _randomise_bn(fe):
    """Non-trivial BN affine parameters, so a skipped BN shows."""
    for cba in fe.cbas:
        cba[1].weight.data.uniform_(0.5, 2.0)
        cba[1].bias.data.uniform_(-1.0, 1.0)


def test_eq1_eq2_written_out():
    torch.manual_seed(0)
    fe = FeatureEnhancement(in_channels=[5, 6, 7], out_channels=4).train()
    _randomise_bn(fe)
    f1, f2, f3 = (torch.randn(2, c, 3, 4) for c in (5, 6, 7))
    f_hat = _cba(fe.cbas[0], torch.cat(
        [_mlp(fe.level_mlps[0], f1), _mlp(fe.level_mlps[1], f2)], 1))
    f_v = _cba(fe.cbas[1], torch.cat(
        [_mlp(fe.fused_mlps[0], f_hat), _mlp(fe.level_mlps[2], f3)], 1))
    got = fe([f1, f2, f3])
    assert got.shape == (2, 4, 3, 4)
    torch.testing.assert_close(got, f_v)


def test_each_level_reaches_f_v_through_its_own_stage():
    """F_v1 and F_v2 enter only through F_hat (Eq. 1); F_v3 only in Eq. 2:
    the gradient of F_v w.r.t. each level is non-zero, and F_hat does not
    depend on F_v3."""
    torch.manual_seed(0)
    fe = FeatureEnhancement(in_channels=4, out_channels=4).train()
    feats = [torch.randn(2, 4, 3, 3, requires_grad=True) for _ in range(3)]
    fe(feats).square().sum().backward()
    assert all(f.grad.abs().sum() > 0 for f in feats)
    f_hat = fe.cbas[0](torch.cat([fe.level_mlps[0](feats[0]),
                                  fe.level_mlps[1](feats[1])], 1))
    grads = torch.autograd.grad(f_hat.sum(), feats, allow_unused=True)
    assert grads[2] is None


def test_hand_numbers_one_pixel():
    """One pixel, one channel, inference-mode BN (running mean 0, var 1):
    every stage reduces to scalars that can be added up by hand.

    Every MLP maps x -> GELU(x + 10) - 10 = x (GELU is the identity on
    [8, 12] to 1e-14); each conv is a centre tap with weights (first,
    second) on the two concatenated channels.
    """
    fe = FeatureEnhancement(in_channels=1, out_channels=1).eval()
    with torch.no_grad():
        for mlp in [*fe.level_mlps, *fe.fused_mlps]:
            mlp.fc1.weight.fill_(1.0)
            mlp.fc1.bias.fill_(10.0)
            mlp.fc2.weight.fill_(1.0)
            mlp.fc2.bias.fill_(-10.0)
        fe.cbas[0][0].weight.zero_()
        fe.cbas[0][0].weight[0, :, 1, 1] = torch.tensor([1.0, 2.0])
        fe.cbas[1][0].weight.zero_()
        fe.cbas[1][0].weight[0, :, 1, 1] = torch.tensor([3.0, -1.0])
        fe.cbas[1][1].bias.fill_(-16.0)  # lands Eq. 2 where GELU bends
    v1, v2, v3 = 1.0, 2.0, -1.5
    out = fe([torch.full((1, 1, 1, 1), v) for v in (v1, v2, v3)]).item()
    s = (1 + 1e-5)**-0.5  # BN: x / sqrt(running_var + eps)
    # Eq. 1: F_hat = GELU(s * (1 * v1 + 2 * v2)) = GELU(5 s) = 4.99997
    f_hat = 5 * s
    # Eq. 2: F_v = GELU(s * (3 * F_hat - 1 * v3) - 16) = GELU(0.49992)
    u = s * (3 * f_hat - v3) - 16
    # GELU(0.5) = 0.5 * Phi(0.5) = 0.5 * 0.691462 = 0.345731
    assert abs(u - 0.5) < 2e-4
    assert out == pytest.approx(0.345731 + 0.867 * (u - 0.5), abs=2e-5)


def test_feature_enhancement_stages_and_messages():
    """n levels: n level MLPs, n - 2 MLPs of the enhanced feature, n - 1
    CBAs, C = 256 by default; two levels are enough, one is refused, as is
    a wrong number of inputs. With 4 levels, stage k re-projects the
    previous stage through its own MLP (written out)."""
    fe = FeatureEnhancement(in_channels=[4, 6, 8, 4])
    assert (len(fe.level_mlps), len(fe.fused_mlps), len(fe.cbas)) == (4, 2, 3)
    assert fe.out_channels == 256
    assert fe.cbas[0][0].bias is None
    FeatureEnhancement(in_channels=[4, 6])  # two levels: one stage
    with pytest.raises(ValueError,
                       match='^FeatureEnhancement needs at least two '
                       'levels$'):
        FeatureEnhancement(in_channels=[4])
    torch.manual_seed(0)
    fe = FeatureEnhancement(in_channels=4, out_channels=8,
                            num_levels=4).eval()
    feats = [torch.randn(1, 4, 3, 3) for _ in range(4)]
    with torch.no_grad():
        got = fe(feats)
        f = fe.cbas[0](torch.cat([fe.level_mlps[0](feats[0]),
                                  fe.level_mlps[1](feats[1])], 1))
        for k, (mlp, cba) in enumerate(zip(fe.fused_mlps, fe.cbas[1:]), 2):
            f = cba(torch.cat([mlp(f), fe.level_mlps[k](feats[k])], 1))
    torch.testing.assert_close(got, f)
    with pytest.raises(ValueError, match='^expected 4 levels, got 3$'):
        fe(feats[:3])
