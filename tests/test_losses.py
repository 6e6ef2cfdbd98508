"Properties every loss of fastlandmarks.losses must have: missing landmarks count for nothing, float32 results, no loss for a perfect prediction."
from functools import partial
import torch, pytest
from hypothesis import given, settings, strategies as st
from fastai.vision.all import TensorPoint
from fastlandmarks.core import Heatmap
from fastlandmarks.heatmaps import gaussian_heatmaps, random_binary_heatmaps
from fastlandmarks.losses import *

HEATMAP_LOSSES = [gaussian_heatmap_loss, adaptive_wing_loss, partial(binary_heatmap_loss, pos_weight=100.),
                  spatial_softmax_loss, SpatialSoftmaxLoss()]
COORD_LOSSES = [l1_coord_loss, smooth_l1_coord_loss, wing_loss, IntegralLoss(smooth_l1_coord_loss)]

seeds = st.integers(0, 2**16)


def _points(seed, b=2, k=4):
    "Points in [-1.2, 1.2] (some outside the image), landmark 1 of item 0 missing"
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(b, k, 2, generator=g)*2.4 - 1.2
    pts[0, 1] = float('nan')
    return pts, g


@settings(max_examples=15, deadline=None)
@given(seed=seeds, loss=st.sampled_from(HEATMAP_LOSSES), binary=st.booleans())
def test_heatmap_losses_ignore_empty_channels(seed, loss, binary):
    pts, g = _points(seed)
    targ = Heatmap(random_binary_heatmaps(pts, 16, generator=g) if binary else gaussian_heatmaps(pts, 16, 1.5))
    pred = torch.randn(2, 4, 32, 32, generator=g)
    other = pred.clone(); other[~(pts.abs() <= 1).all(-1)] = 7.  # the channels of the missing point and the outside ones
    torch.testing.assert_close(loss(pred, targ), loss(other, targ))
    res = loss(pred.half(), targ)
    assert res.dtype == torch.float32 and torch.isfinite(res)


@pytest.mark.parametrize('loss', [gaussian_heatmap_loss, adaptive_wing_loss])
def test_regression_heatmap_losses_vanish_on_the_target(loss):
    targ = gaussian_heatmaps(_points(0)[0], 16)
    assert loss(targ.clone(), targ) == 0


@settings(max_examples=20, deadline=None)
@given(seed=seeds, loss=st.sampled_from(COORD_LOSSES))
def test_coordinate_losses_ignore_missing_points(seed, loss):
    pts, g = _points(seed)
    targ = TensorPoint(pts)
    pred = torch.randn(2, 4, 2, generator=g)
    other = pred.clone(); other[0, 1] = 5.
    torch.testing.assert_close(loss(pred, targ), loss(other, targ))
    torch.testing.assert_close(loss(pred.view(2, 8), targ), loss(pred, targ))  # flat (B, 2K) regressor outputs too
    assert loss(pred.half(), targ).dtype == torch.float32
    assert loss(torch.nan_to_num(pts), targ) == 0
    assert loss(pred, targ) > 0


def test_spatial_softmax_predictions_decode_alike_in_metrics_preds_and_pictures():
    """`SpatialSoftmaxLoss`'s activation makes `get_preds` return probabilities: they decode to the points of the raw logits
    (what the metrics see), and so do the pictures of `show_results`, near the dots the logits peak on."""
    from fastai.vision.all import Learner, Tensor
    from fastlandmarks.core import scaled_to_pixels
    from fastlandmarks.transforms import RandomBinaryHeatmapTransform, preds_to_points
    from fastlandmarks.test_utils import make_dots, dots_dblock, dot_centres, DotFinder
    class Confident(DotFinder):
        "Logits peaked on the dots: 20 at a dot's Gaussian peak, falling to 0 away from it"
        def forward(self, x): return 20*super().forward(x)
    imgs, pts = make_dots(8, size=32, k=3)
    dls = dots_dblock(imgs, pts, batch_tfms=RandomBinaryHeatmapTransform(16)).dataloaders(None, bs=2, num_workers=0)
    learn = Learner(dls, Confident(3, heatmap_size=16), loss_func=SpatialSoftmaxLoss())
    b = dls.valid.one_batch()
    probs, _, decoded = learn.get_preds(dl=[b], with_decoded=True)
    assert torch.allclose(probs.sum((-2, -1)), torch.ones(2, 3))  # probabilities indeed
    with torch.no_grad(): logits = learn.model(b[0])
    from_logits = preds_to_points(logits, dls)
    torch.testing.assert_close(preds_to_points(probs, dls), from_logits, atol=1e-5, rtol=0)
    # the top-9 mean of a sampled Gaussian leans to its peak cell: 0.28 cells off the dot at most (measured)
    torch.testing.assert_close(from_logits, dot_centres(b[0].as_subclass(Tensor), 3)[0], atol=0.4*2/16, rtol=0)
    pictured = torch.stack([p[0].as_subclass(Tensor) for p in dls.valid.show_results(b, decoded, show=False)[3]])
    torch.testing.assert_close(pictured, scaled_to_pixels(from_logits, 32), atol=1e-4, rtol=0)
