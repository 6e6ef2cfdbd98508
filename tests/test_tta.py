"""`Learner.landmark_tta`: the mean, in coordinates, of each view's prediction mapped back to the original image."""
import numpy as np, pytest, torch
from fastai.vision.all import *
from hypothesis import given, settings, strategies as st
from fastlandmarks.layouts import *
from fastlandmarks.data import *
from fastlandmarks.transforms import HeatmapTransform
from fastlandmarks.heatmaps import gaussian_heatmaps
from fastlandmarks.tta import *
from fastlandmarks.test_utils import make_dots, dots_dblock

torch.set_num_threads(1)
FLIP_IDX = [1,0,2,4,3]
IMGS,PTS = make_dots(16, size=32, k=5)

class ConstantModel(Module):
    "Outputs `out` for every image, whatever the image"
    def __init__(self, out): self.out = nn.Parameter(out)
    def forward(self, x): return self.out[None].expand(len(x), *self.out.shape)

@pytest.fixture(scope='module')
def dls(): return dots_dblock(IMGS, PTS, block=LandmarkBlock(flip_idx=FLIP_IDX)).dataloaders(None, bs=4, num_workers=0)

@pytest.fixture(scope='module')
def hm_dls():
    return dots_dblock(IMGS, PTS, block=LandmarkBlock(flip_idx=FLIP_IDX), batch_tfms=HeatmapTransform(16, sigma=1.)
                      ).dataloaders(None, bs=4, num_workers=0)

points = st.lists(st.floats(-0.9, 0.9), min_size=10, max_size=10).map(lambda v: torch.tensor(v).view(5,2))

@settings(max_examples=20, deadline=None)
@given(points, st.sampled_from([None, [0.5], [0.75, 1.5]]))
def test_constant_coordinate_model_gives_the_mean_of_view_and_unmirrored_mirror(dls, c, scales):
    learn = Learner(dls, ConstantModel(c.flatten()), loss_func=MSELossFlat())
    preds,_ = learn.landmark_tta(scales=scales)
    expected = (c + mirror_landmarks(c, FLIP_IDX))/2
    assert torch.allclose(preds, expected.expand_as(preds), atol=1e-6)

@settings(max_examples=10, deadline=None)
@given(points)
def test_constant_heatmap_model_averages_decoded_coordinates(hm_dls, c):
    hm = gaussian_heatmaps(c, 16, sigma=1.)
    learn = Learner(hm_dls, ConstantModel(hm), loss_func=MSELossFlat())
    preds,_ = learn.landmark_tta()
    decoded = tta_points(lambda x: hm[None].expand(len(x), *hm.shape), torch.zeros(1,3,32,32), hm_dls)  # one plain view
    expected = (decoded[0] + mirror_landmarks(decoded[0], FLIP_IDX))/2
    assert torch.allclose(preds, expected.expand_as(preds), atol=1e-6)

def test_no_flip_is_plain_prediction(dls):
    c = torch.rand(5,2)*2-1
    learn = Learner(dls, ConstantModel(c.flatten()), loss_func=MSELossFlat())
    preds,targs = learn.landmark_tta(flip=False)
    assert torch.allclose(preds, c.expand_as(preds))
    assert torch.allclose(targs, learn.get_preds()[1].as_subclass(torch.Tensor))

def test_pointblock_needs_a_flip_map():
    dls = dots_dblock(IMGS, PTS).dataloaders(None, bs=4, num_workers=0)
    learn = Learner(dls, ConstantModel(torch.zeros(10)), loss_func=MSELossFlat())
    with pytest.raises(ValueError, match='no LandmarkBlock targets'): learn.landmark_tta()
    assert learn.landmark_tta(flip_idx=FLIP_IDX)[0].shape==(4,5,2)
