"The Gaussian heatmap loss computed from the points equals `gaussian_heatmap_loss` on the targets, masking and resizing included."
import pytest, torch
from hypothesis import given, settings, strategies as st
from fastlandmarks.heatmaps import gaussian_heatmaps, gaussian_profiles
from fastlandmarks.losses import gaussian_heatmap_loss, gaussian_heatmap_loss_from_points


def _points(b, k, seed, missing=0.2, outside=0.2):
    "Points over the image and a margin around it, some missing (NaN) and some outside the image"
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(b, k, 2, generator=g)*2 - 1
    pts[torch.rand(b, k, generator=g) < outside] *= 1.5   # about half of these land outside [-1, 1]
    pts[torch.rand(b, k, generator=g) < missing] = float('nan')
    return pts


def _loss_and_grad(loss_fn, pred):
    pred = pred.detach().requires_grad_()
    loss = loss_fn(pred)
    return loss.detach(), torch.autograd.grad(loss, pred)[0]


def _check_same(pred, pts, sigma, size, fg_weight=0.):
    ref_loss, ref_grad = _loss_and_grad(lambda p: gaussian_heatmap_loss(p, gaussian_heatmaps(pts, size, sigma), fg_weight=fg_weight), pred)
    loss, grad = _loss_and_grad(lambda p: gaussian_heatmap_loss_from_points(p, pts, sigma, size, fg_weight), pred)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, ref_loss, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-5*float(ref_grad.abs().max()) + 1e-12)


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 3), k=st.integers(1, 5), h=st.integers(3, 24), w=st.integers(3, 24),
       scale=st.sampled_from([(1, 1), (2, 2), (3, 2), (1.5, 1.7), (0.5, 0.75)]), rel_sigma=st.floats(0.02, 1.), seed=st.integers(0, 10**6))
def test_matches_encode_then_mse(b, k, h, w, scale, rel_sigma, seed):
    "Any size, any sigma, predictions equal, larger (area-averaged) or smaller (bilinear) than the targets"
    sigma = rel_sigma*min(h, w)/2
    pred = torch.randn(b, k, max(1, round(h*scale[0])), max(1, round(w*scale[1])), generator=torch.Generator().manual_seed(seed))
    _check_same(pred, _points(b, k, seed), sigma, (h, w))


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 3), k=st.integers(1, 5), h=st.integers(3, 24), w=st.integers(3, 24),
       scale=st.sampled_from([(1, 1), (2, 2), (1.5, 1.7), (0.5, 0.75)]), sigma=st.floats(0.5, 6.),
       fg_weight=st.sampled_from([0.5, 1., 4.]), seed=st.integers(0, 10**6))
def test_foreground_weighted_matches_encode_then_loss(b, k, h, w, scale, sigma, fg_weight, seed):
    """The foreground-weighted loss too. From half a cell of sigma up: narrower targets underflow away from their peak,
    and their mass, which normalises the weights, differs between the maps and the profiles at float32 precision"""
    pred = torch.randn(b, k, max(1, round(h*scale[0])), max(1, round(w*scale[1])), generator=torch.Generator().manual_seed(seed))
    _check_same(pred, _points(b, k, seed), min(sigma, min(h, w)/2), (h, w), fg_weight)


def test_typical_training_sizes():
    "64×64 targets from 64×64 and from 256×256 (U-Net) predictions, with 68 landmarks"
    pts = _points(2, 68, 0)
    for p in (64, 256):
        for fg in (0., 1.): _check_same(torch.rand(2, 68, p, p), pts, 2., 64, fg)


def test_default_size_and_flat_points():
    "Without `heatmap_size` the targets take the prediction's size; flat `(B, 2K)` points work as `(B, K, 2)`"
    pts, pred = _points(2, 3, 1), torch.rand(2, 3, 12, 10)
    ref = gaussian_heatmap_loss(pred, gaussian_heatmaps(pts, (12, 10), 1.5))
    torch.testing.assert_close(gaussian_heatmap_loss_from_points(pred, pts, 1.5), ref)
    torch.testing.assert_close(gaussian_heatmap_loss_from_points(pred, pts.flatten(1), 1.5), ref)


def test_masking_rule():
    "Channels of missing or outside points are ignored, whatever the prediction holds there; the mean is over present channels"
    pts = torch.tensor([[[0., 0.], [float('nan'), 0.], [1.2, 0.]]])
    targ = gaussian_heatmaps(pts, 16, 2.)
    pred = targ.clone(); pred[0, 1:] = 7.
    assert gaussian_heatmap_loss_from_points(pred, pts, 2.) < 1e-6
    zero = torch.zeros(1, 3, 16, 16)
    torch.testing.assert_close(gaussian_heatmap_loss_from_points(zero, pts, 2., fg_weight=0), (targ[0, 0]**2).mean())


def test_no_point_present():
    "With every point missing the loss is 0 and so is its gradient, as for `gaussian_heatmap_loss`"
    pred = torch.rand(2, 3, 8, 8, requires_grad=True)
    loss = gaussian_heatmap_loss_from_points(pred, torch.full((2, 3, 2), float('nan')), 1.)
    loss.backward()
    assert loss == 0 and (pred.grad == 0).all()


def test_underflowing_gaussian_is_an_empty_channel():
    "A sigma so small that a target underflows to zeros everywhere: the target channel is empty, so it is ignored here too"
    pts = torch.tensor([[[0.03, 0.03], [-0.4375, -0.4375]]])  # between cells, and on the centre of cell 4 of 16
    targ = gaussian_heatmaps(pts, 16, 0.02)
    assert targ[0, 0].max() == 0 and targ[0, 1].max() == 1
    _check_same(torch.rand(1, 2, 16, 16), pts, 0.02, 16)


def test_profiles_make_the_targets():
    pts = _points(2, 4, 2)
    gy, gx = gaussian_profiles(pts, (12, 20), 1.5)
    torch.testing.assert_close(gy[..., :, None]*gx[..., None, :], gaussian_heatmaps(pts, (12, 20), 1.5))


def test_half_precision_and_autocast():
    "Half predictions, and a bfloat16 autocast context, still give the float32 loss"
    pts, pred = _points(2, 4, 3), torch.rand(2, 4, 16, 16)
    ref = gaussian_heatmap_loss_from_points(pred, pts, 2.)
    torch.testing.assert_close(gaussian_heatmap_loss_from_points(pred.half(), pts, 2.), ref, rtol=1e-3, atol=1e-4)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = gaussian_heatmap_loss_from_points(pred, pts, 2.)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, ref)


def test_bad_input():
    with pytest.raises(ValueError, match=r'points of shape \(2, 3, 2\) do not match predicted heatmaps of shape \(2, 4, 8, 8\)'):
        gaussian_heatmap_loss_from_points(torch.zeros(2, 4, 8, 8), torch.zeros(2, 3, 2))
    with pytest.raises(ValueError, match='sigma must be in'):
        gaussian_heatmap_loss_from_points(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 2), sigma=5.)
