"""`Learner.landmark_tta`: the mean, in coordinates, of each view's prediction mapped back to the original image.

The model is `DotFinder`, which finds the coloured dots in the image it is given. On the mirrored image it finds dot `i`
at `(-x_i, y_i)`; mapped back (`x → -x`) and re-indexed by the flip map, landmark `j` of that view is dot `flip_idx[j]`.
So with flip TTA landmark `j` is the mean of dots `j` and `flip_idx[j]` as found on the plain image: the expectation is
computed here by indexing, without `mirror_landmarks`, and a TTA that forgot to mirror the image or to swap left and
right would return another point.
"""
import pytest, torch
from fastai.vision.all import *
from fastlandmarks.data import *
from fastlandmarks.transforms import HeatmapTransform
from fastlandmarks.tta import *
from fastlandmarks.test_utils import make_dots, dots_dblock, dot_centres, DotFinder

torch.set_num_threads(1)
K, FLIP_IDX = 5, [1,0,2,4,3]
IMGS,PTS = make_dots(16, size=32, k=K)
SCALED_TOL = 0.012  # [-1, 1] units: rescaled whole dots (with blended edges) are found within 0.0083 of the plain ones (measured)
WHOLE = 25          # pixels: a dot of radius 3 has 28 to 32; fewer, another dot painted over it, and rescaling moves what is left

@pytest.fixture(scope='module')
def dls(): return dots_dblock(IMGS, PTS, block=LandmarkBlock(flip_idx=FLIP_IDX)).dataloaders(None, bs=4, num_workers=0)

@pytest.fixture(scope='module')
def hm_dls():
    return dots_dblock(IMGS, PTS, block=LandmarkBlock(flip_idx=FLIP_IDX), batch_tfms=HeatmapTransform(16, sigma=1.)
                      ).dataloaders(None, bs=4, num_workers=0)

def found(dl, whole=False)->Tensor:
    "The dots' centres `(N, K, 2)` found on the plain images of `dl`, in `[-1, 1]` (and which dots are whole, with `whole`)"
    c,n = map(torch.cat, zip(*[dot_centres(b[0].as_subclass(Tensor), K) for b in dl]))
    return (c, n>=WHOLE) if whole else c

def with_partners(c:Tensor)->Tensor:
    "Each landmark averaged with its mirror partner: what flip TTA of a model that sees the image returns"
    return (c + c[:, FLIP_IDX])/2

def test_partners_are_apart(dls):
    "The check below tells a swapped mean from an unswapped one only if partners are far apart"
    c = found(dls.valid)
    assert (with_partners(c) - c).abs().amax(-1)[:, [0,1,3,4]].min() > 0.01

@pytest.mark.parametrize('heatmaps', [False, True])
def test_flip_tta_averages_each_point_with_its_mirror_partner(dls, hm_dls, heatmaps):
    d = hm_dls if heatmaps else dls
    learn = Learner(d, DotFinder(K, heatmap_size=16 if heatmaps else None), loss_func=MSELossFlat())
    preds,_ = learn.landmark_tta()
    torch.testing.assert_close(preds, with_partners(found(d.valid)), atol=1e-5, rtol=0)  # sub-pixel decoding: ~1e-7

@pytest.mark.parametrize('heatmaps', [False, True])
def test_scaled_views_are_predicted_and_averaged(dls, hm_dls, heatmaps):
    d = hm_dls if heatmaps else dls
    learn = Learner(d, DotFinder(K, heatmap_size=16 if heatmaps else None), loss_func=MSELossFlat())
    c,whole = found(d.valid, whole=True)
    assert whole.sum() >= 10  # of the 20 dots of 4 validation images (14 measured)
    plain = learn.landmark_tta(flip=False, scales=[0.75, 1.5])[0]
    torch.testing.assert_close(plain[whole], c[whole], atol=SCALED_TOL, rtol=0)
    both = whole & whole[:, FLIP_IDX]  # the dot and its partner
    torch.testing.assert_close(learn.landmark_tta(scales=[0.75, 1.5])[0][both], with_partners(c)[both], atol=SCALED_TOL, rtol=0)

def test_no_flip_is_plain_prediction(dls):
    learn = Learner(dls, DotFinder(K), loss_func=MSELossFlat())
    preds,targs = learn.landmark_tta(flip=False)
    torch.testing.assert_close(preds, found(dls.valid), atol=1e-6, rtol=0)
    assert torch.allclose(targs, learn.get_preds()[1].as_subclass(torch.Tensor))

def test_pointblock_needs_a_flip_map():
    dls = dots_dblock(IMGS, PTS).dataloaders(None, bs=4, num_workers=0)
    learn = Learner(dls, DotFinder(K), loss_func=MSELossFlat())
    with pytest.raises(ValueError, match='no LandmarkBlock targets'): learn.landmark_tta()
    torch.testing.assert_close(learn.landmark_tta(flip_idx=FLIP_IDX)[0], with_partners(found(dls.valid)), atol=1e-6, rtol=0)
