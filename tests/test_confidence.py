"""Every head of the registry scores each landmark it predicts (issue 15): `predict`, `predict_faces` and the CLI return the
confidences beside the points. What each confidence is made of is tested against independent values in `nbs/09_models`;
how well it ranks errors on real faces is measured by `benchmarks/bench_confidence.py`."""
import pytest, torch
from fastlandmarks.inference import predict_faces
from fastlandmarks.learner import LandmarkLearner
from fastlandmarks.models import landmark_heads, view_confidence
from fastlandmarks.test_utils import DotFinder, dots_dls as plain_dots_dls
from reliability_utils import *

IMGS, PTS = make_dots(12, size=SIZE, k=K, seed=3)


@pytest.mark.parametrize('head', HEADS)
def test_every_head_returns_a_confidence_per_landmark(head):
    learn = head_learner(head_dls(IMGS, PTS, head, augment=False, bs=4), head)
    pts, raw, conf = learn.predict(IMGS[0])
    assert pts.shape == (K, 2) and conf.shape == (K,)
    assert torch.isfinite(conf).all() and ((conf >= 0) & (conf <= 1)).all()
    (face,) = predict_faces(learn, [IMGS[1]], boxes=[(0, 0, SIZE, SIZE)])[0]
    assert face.confidence.shape == (K,)


def test_view_confidence_tells_a_model_that_sees_from_one_that_guesses():
    "Dots found by their colour follow the mirrored, turned and moved image (within 1% of the width); a fixed guess does not"
    dls = plain_dots_dls(n=8, size=SIZE, k=K, bs=4)  # fastai's `PointBlock`: dots have no left and right, the mirror keeps each index
    seeing = LandmarkLearner.from_learner(Learner(dls, DotFinder(K), loss_func=MSELossFlat()))
    seeing.head = 'regression'
    _, _, sure = seeing.predict(IMGS[0])
    guess = torch.full((1, 2*K), 0.3)
    unsure = view_confidence(lambda x: guess.expand(len(x), -1), torch.zeros(1, 3, SIZE, SIZE), guess, dls)[0]
    assert (sure > 0.5).all() and (unsure < 0.2).all(), (sure, unsure)
