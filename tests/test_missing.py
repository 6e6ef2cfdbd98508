"""Missing landmarks (`NaN`) and landmarks pushed outside the image, from the reader to the metric (issue 7).

The policy: a missing point stays `NaN` through every transform, gets an empty heatmap channel, weighs nothing in every
loss, is skipped by the metrics and is not drawn. A point that augmentation pushes outside the image keeps its
coordinates (coordinate heads train on them) but gets an empty heatmap channel (heatmap losses give it weight zero).
"""
import math
import numpy as np, pytest, torch
from fastai.vision.all import *
from fastlandmarks.core import as_plain, scaled_to_pixels
from fastlandmarks.heatmaps import empty_channels, in_image
from fastlandmarks.transforms import HeatmapTransform, RandomBinaryHeatmapTransform, preds_to_points, targs_to_points
from fastlandmarks.data import LandmarkBlock
from fastlandmarks.boxes import CropToBox
from fastlandmarks.losses import *
from fastlandmarks.metrics import NME
from fastlandmarks.test_utils import dots_dblock
from reliability_utils import *

torch.set_num_threads(1)

IMGS, PTS = dots_with_missing(32, share=0.2)
FULL = np.where(np.isnan(PTS), dots_with_missing(32, share=0.)[1], PTS)  # the same points, none missing


def test_the_data_has_a_fifth_missing():
    share = np.isnan(PTS).any(-1).mean()
    assert 0.15 < share < 0.25 and not np.isnan(FULL).any()


# ---------------------------------------------------------------- every transform carries NaN through

AUG = dict(do_flip=True, flip_vert=True, max_rotate=30, max_zoom=1.2, max_warp=0.2)
PIPELINES = {  # name: (item_tfms, batch_tfms)
    'none':              (None, None),
    'CropToBox':         ([CropToBox(box=(2, 3, 30, 29))], None),
    'Resize':            ([Resize(24)], None),
    'RandomResizedCrop': ([RandomResizedCrop(24, min_scale=0.5)], None),
    'FlipItem':          ([FlipItem(p=1.)], None),
    'DihedralItem':      ([DihedralItem(p=1.)], None),
    'aug_transforms':    (None, aug_transforms(**AUG)),
    'aug + Gaussian':    (None, [*aug_transforms(**AUG), HeatmapTransform(HM, sigma=1.)]),
    'aug + binary':      (None, [*aug_transforms(**AUG), RandomBinaryHeatmapTransform(HM)]),
}

def _train_batch(pts, item_tfms=None, batch_tfms=None, block=None, seed=0):
    "The first training batch of the dots with `pts`, drawn with the same random state whatever the points"
    set_seed(seed)
    dls = dots_dblock(IMGS, pts, block=ifnone(block, LandmarkBlock(flip_idx=FLIP_IDX)), item_tfms=item_tfms,
                      batch_tfms=batch_tfms).dataloaders(None, bs=24, num_workers=0)
    xb, yb = dls.train.one_batch()
    return as_plain(xb), as_plain(yb), dls

@pytest.mark.parametrize('name', PIPELINES)
def test_missing_points_flow_through_every_transform(name):
    "With the same random draws, removing landmarks changes nothing else: present points (or heatmaps) are identical"
    _, full, _ = _train_batch(FULL, *PIPELINES[name])
    _, some, _ = _train_batch(PTS, *PIPELINES[name])
    if some.ndim==3:                                  # points: NaN exactly where missing, the rest unchanged
        gone = some.isnan()
        assert torch.equal(gone[...,0], gone[...,1]) and 0 < gone.any(-1).float().mean() < 0.3
        assert torch.equal(some[~gone], full[~gone])
    else:                                             # heatmaps: the channels of missing points are empty, the rest unchanged
        gone = empty_channels(some) & ~empty_channels(full)
        assert gone.any() and torch.equal(some[~gone], full[~gone]) and (some[gone]==0).all()


@pytest.mark.parametrize('item_tfms', [Resize(24), Resize((24, 32), method='pad')], ids=['crop', 'pad'])
def test_landmark_block_resizes_like_point_block(item_tfms):
    "`LandmarkBlock` moves points exactly as fastai's `PointBlock` does when nothing is mirrored, NaN included"
    # (`Resize(method='squish')`, `RandomResizedCrop` and `CropToBox` take the size from the image and are right already)
    _, stock, _ = _train_batch(PTS, [item_tfms], block=PointBlock)
    _, ours, _ = _train_batch(PTS, [item_tfms])
    assert torch.equal(stock.isnan(), ours.isnan())
    torch.testing.assert_close(ours.nan_to_num(), stock.nan_to_num())


def test_missing_and_outside_points_get_empty_channels():
    "Augmentation pushes some points off the image: those and the missing ones, and only those, have empty channels"
    _, pts, _ = _train_batch(PTS, batch_tfms=aug_transforms(**AUG))
    for tfm in (HeatmapTransform(HM, sigma=1.), RandomBinaryHeatmapTransform(HM)):
        hm = tfm(TensorPoint(pts))
        keep = in_image(pts)
        assert (~keep & ~pts.isnan().any(-1)).any(), "some present points should be outside the image"
        assert torch.equal(empty_channels(hm), ~keep)


def test_outside_points_keep_their_coordinates():
    "Points pushed off the image are not clipped nor dropped: coordinate heads train on them, heatmap heads ignore them"
    set_seed(0)
    zoom = [Zoom(min_zoom=1.6, max_zoom=1.6, p=1.)]  # zooming in by 1.6 pushes points within 0.375 of an edge out
    _, pts, _ = _train_batch(FULL, batch_tfms=zoom)
    _, hms, hm_dls = _train_batch(FULL, batch_tfms=[*zoom, HeatmapTransform(HM, sigma=1.)])
    outside = ~in_image(pts)
    assert outside.any() and not pts.isnan().any()
    assert (pts.abs().amax(-1)[outside] > 1).all()
    # coordinate losses count an outside point, heatmap losses do not
    pred = torch.zeros_like(pts)
    moved = pred.clone(); moved[outside] = 5.
    assert l1_coord_loss(moved, pts) != l1_coord_loss(pred, pts)
    hm_pred = torch.rand(*hms.shape)
    hm_moved = hm_pred.clone(); hm_moved[outside] = 9.
    for loss in (gaussian_heatmap_loss, adaptive_wing_loss, spatial_softmax_loss, binary_heatmap_loss):
        torch.testing.assert_close(loss(hm_moved, hms), loss(hm_pred, hms))
    # and the metrics read an outside point of a heatmap target as missing, of a point target as where it is
    assert torch.equal(targs_to_points(hms, hm_dls).isnan().any(-1), outside)
    assert not targs_to_points(pts, hm_dls).isnan().any()


# ---------------------------------------------------------------- training with missing points, every head

class CheckFinite(Callback):
    "Fail as soon as a loss or a gradient is not finite"
    order = 100
    def after_loss(self):
        assert torch.isfinite(self.loss), f"non-finite loss at iteration {self.iter} of epoch {self.epoch}"
    def after_backward(self):
        bad = [n for n, p in self.model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
        assert not bad, f"non-finite gradients in {bad[:3]}"

def _hand_nme(preds_px:np.ndarray, targs_px:np.ndarray)->float:
    "NME (%) by the box normaliser √(w·h), by hand: per image, over its present points only, then over images"
    res = []
    for p, t in zip(preds_px, targs_px):
        present = ~np.isnan(t).any(-1)
        w, h = t[present].max(0) - t[present].min(0)
        res.append(np.linalg.norm(p[present] - t[present], axis=-1).mean() / math.sqrt(w*h))
    return 100*float(np.mean(res))

def _valid_points(dls)->np.ndarray:
    "The annotated pixel points of the validation items, straight from the data"
    return PTS[np.array(dls.valid.items)]

VARIANTS = [(h, {}) for h in HEADS] + [
    ('deconv', dict(binary=True)),                                           # randomised-rounding targets, binary BCE
    ('integral', dict(loss_func=IntegralLoss(heatmap_weight=0.5))),          # the heatmap term on soft-argmax logits
]

@pytest.mark.parametrize('head,opts', VARIANTS, ids=[h + ('-' + '-'.join(o) if o else '') for h, o in VARIANTS])
def test_every_head_trains_with_a_fifth_missing(head, opts):
    "No NaN loss or gradient, finite weights, and an NME over the present points only, as computed by hand"
    opts = dict(opts)
    binary = opts.pop('binary', False)
    learn = _trained(head, binary, **opts)
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())
    nme, hand = _nme_and_hand_nme(learn)
    assert math.isfinite(nme)
    assert nme == pytest.approx(hand, rel=1e-3)


def test_binary_validation_is_the_same_at_every_pass():
    "Randomised-rounding validation targets are their expectation, not a draw: the validation loss and NME repeat exactly"
    learn = _trained('deconv', binary=True)
    assert list(learn.validate()) == list(learn.validate())


def _trained(head, binary=False, **kwargs):
    "A learner for `head` trained one epoch on the dots with a fifth of the landmarks missing, checking every loss and gradient"
    learn = head_learner(head_dls(IMGS, PTS, head, binary=binary), head, metrics=NME('bbox'), cbs=CheckFinite(), **kwargs)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    return learn

def _nme_and_hand_nme(learn)->tuple:
    "The validation NME of the `NME` metric, and the same computed by hand from the predictions and the annotations"
    valid_loss, nme = learn.validate()
    assert math.isfinite(valid_loss)
    preds, _ = learn.get_preds(dl=learn.dls.valid)
    pred_px = scaled_to_pixels(preds_to_points(preds, learn.dls).float(), SIZE).numpy()
    assert not np.isnan(pred_px).any(), "missing points are predicted too, and then ignored by the metric"
    return nme, _hand_nme(pred_px, _valid_points(learn.dls))


@pytest.mark.parametrize('loss', [gaussian_heatmap_loss, adaptive_wing_loss, spatial_softmax_loss, SpatialSoftmaxLoss(),
                                  l1_coord_loss, smooth_l1_coord_loss, wing_loss], ids=lambda f: getattr(f, '__name__', repr(f)))
def test_every_loss_trains_with_a_fifth_missing(loss):
    head = 'deconv' if loss in (gaussian_heatmap_loss, adaptive_wing_loss, spatial_softmax_loss) or isinstance(loss, SpatialSoftmaxLoss) else 'regression'
    learn = head_learner(head_dls(IMGS, PTS, head), head, loss_func=loss, cbs=CheckFinite())
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert np.isfinite(learn.recorder.values[-1]).all()


# ---------------------------------------------------------------- pictures draw the present points only

def _drawn(ax)->int:
    "How many points the scatter plots of `ax` actually draw (matplotlib masks NaN offsets)"
    return sum(int((~np.ma.getmaskarray(c.get_offsets()).any(-1)).sum()) for c in ax.collections)

@pytest.mark.parametrize('head', ['regression', 'deconv'])
def test_pictures_draw_only_present_points(head):
    dls = head_dls(IMGS, PTS, head, augment=False)
    learn = head_learner(dls, head)
    valid_present = (~np.isnan(_valid_points(dls)).any(-1)).sum(-1)
    ctxs = dls.valid.show_batch(max_n=4, show=True)
    axes = plt.gcf().axes
    shown = [a for a in axes if a.collections]
    assert [_drawn(a) for a in shown] == valid_present[:4].tolist()
    plt.close('all')
    learn.show_results(max_n=3, shuffle=False)
    drawn = [_drawn(a) for a in plt.gcf().axes if a.collections]
    # per image: the target's present points, then all K predicted points
    assert drawn == [n for p in valid_present[:3].tolist() for n in (p, K)]
    plt.close('all')
