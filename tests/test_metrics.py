"Contract and property tests of fastlandmarks.metrics: NME, PCK, AUC and failure rate, as functions and as fastai metrics"
import math, tempfile
from types import SimpleNamespace
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
from fastai.vision.all import EarlyStoppingCallback, SaveModelCallback, Path, plt
from fastlandmarks.metrics import *
from fastlandmarks.layouts import LandmarkLayout, get_layout
from fastlandmarks.transforms import RandomBinaryHeatmapTransform
from fastlandmarks.heatmaps import gaussian_heatmaps
from fastlandmarks.core import pixels_to_scaled
from fastlandmarks.test_utils import dots_dls, dots_learner

nan = math.nan
# Outer eye corners 0 and 3, eyes {0, 1} and {2, 3}, points 4 and 5 on the axis of symmetry
LAY = LandmarkLayout('toy6', flip_idx=[3,2,1,0,4,5], norm_idx=(0,3), pupil_idx=([0,1],[2,3]))

def fixed_arrays():
    "Two images by hand: a complete one, and one with a missing eye point and a missing chin point"
    t = np.array([[[0,0], [4,0], [12,0], [16,0], [8,6], [8,12]],
                  [[0,0], [nan,nan], [6,0], [10,0], [5,5], [nan,nan]]], dtype=np.float64)
    p = np.nan_to_num(t, nan=100.)     # missing targets predicted far away: they must not count
    p[0,4] += [0,2]; p[0,5] += [-6,8]  # image 0 errors: 0,0,0,0,2,10
    p[1,3] += [3,4]                    # image 1 errors on its present points 0,2,3,4: 0,0,5,0
    return p, t

# normalisers by hand
# image 0: iod |p0-p3| = 16; ipd |(2,0)-(14,0)| = 12; box 16×12: sqrt(192), diagonal 20
# image 1: iod 10; ipd |(0,0)-(8,0)| = 8 (left eye is point 0 alone); box of points 0,2,3,4 is 10×5: sqrt(50), diag sqrt(125)
@pytest.mark.parametrize('norm,expected', [
    ('iod',  [12/6/16, 5/4/10]),
    ('ipd',  [12/6/12, 5/4/8]),
    ('bbox', [12/6/math.sqrt(192), 5/4/math.sqrt(50)]),
    ('diag', [12/6/20, 5/4/math.sqrt(125)]),
])
def test_nme_by_hand(norm, expected):
    p,t = fixed_arrays()
    np.testing.assert_allclose(nme(p, t, norm, LAY).numpy(), expected, rtol=1e-12)

def test_nme_callable_norm_and_name():
    p,t = fixed_arrays()
    np.testing.assert_allclose(nme(p, t, lambda t: torch.full(t.shape[:-2], 2.)).numpy(), [1., 0.625])
    with pytest.raises(ValueError, match='has 68 landmarks but the points have 6'): nme(p, t, 'iod', 'ibug68')

def test_unnormalisable_images_are_nan_and_skipped():
    p,t = fixed_arrays()
    t[1,3] = nan  # image 1 loses an outer eye corner: no inter-ocular distance
    e = nme(p, t, 'iod', LAY)
    assert not e[0].isnan() and e[1].isnan()
    m = NME(layout=LAY); m.accum_points(torch.as_tensor(p), torch.as_tensor(t))
    assert m.value == pytest.approx(100*float(e[0]))
    assert auc_fr(e, 0.5) == auc_fr(e[:1], 0.5)

def test_nan_prediction_is_a_failure():
    p,t = fixed_arrays(); p[0,0] = nan
    e = nme(p, t, 'bbox')
    assert e[0]==math.inf
    assert auc_fr(e, 0.2)[1] == 0.5  # image 1 (NME 0.177) passes, image 0 fails

@pytest.mark.parametrize('alpha,expected', [(0.1, [4/6, 3/4]), (0.2, [5/6, 3/4]), (0.7, [1., 1.])])
def test_pck_by_hand(alpha, expected):
    # normalised by iod, image 0's errors are 0,0,0,0,1/8,5/8 and image 1's 0,0,1/2,0
    p,t = fixed_arrays()
    np.testing.assert_allclose(pck(p, t, alpha, 'iod', LAY).numpy(), expected)
    m = PCK(alpha, 'iod', LAY); m.accum_points(torch.as_tensor(p), torch.as_tensor(t))
    assert m.value == pytest.approx(100*np.mean(expected))

def test_auc_fr_by_hand():
    # errors 0.01, 0.05, 0.09, 0.2 under T = 0.1: area (0.09 + 0.05 + 0.01 + 0)/4, divided by 0.1; 1 failure in 4
    auc,fr = auc_fr([0.01, 0.05, 0.09, 0.2, nan], 0.1)
    assert auc == pytest.approx(0.15/4/0.1) and fr == 0.25
    assert auc_fr(np.array([0.08]), 0.08) == (0., 0.)  # an error equal to the threshold is not a failure

def test_auc_matches_published_grid_integration():
    "The usual evaluation scripts integrate the CED on a grid of step 1e-4 up to the threshold, then divide by it"
    rng = np.random.default_rng(0)
    errs = rng.gamma(2., 0.02, 500)
    for thr in (0.08, 0.1):
        grid = np.arange(0, thr+1e-4, 1e-4)
        ced = (errs[:,None] <= grid).mean(0)
        assert auc_fr(errs, thr)[0] == pytest.approx(np.trapezoid(ced, grid)/thr, abs=2e-3)
        assert auc_fr(errs, thr)[1] == pytest.approx((errs>thr).mean())

def test_img_size_converts_scaled_points_to_pixels():
    rng = np.random.default_rng(1)
    px = torch.as_tensor(rng.uniform(0, 40, (3,6,2)))
    pp = px + torch.as_tensor(rng.normal(0, 2, (3,6,2)))
    sc = lambda o: pixels_to_scaled(o, (20,40))
    torch.testing.assert_close(nme(sc(pp), sc(px), 'diag', img_size=(20,40)), nme(pp, px, 'diag'))

def test_clear_errors():
    p,t = fixed_arrays()
    with pytest.raises(ValueError, match='needs a layout'): nme(p, t)
    with pytest.raises(ValueError, match="'coco17' defines no norm_idx"): NME('iod', 'coco17')
    with pytest.raises(ValueError, match='norm must be one of'): PCK(norm='box')
    with pytest.raises(ValueError, match='same shape'): nme(p[:1], t, 'bbox')
    with pytest.raises(ValueError, match=r'shape \(\.\.\., K, 2\)'): nme(p[...,0], t[...,0], 'bbox')
    with pytest.raises(ValueError, match='threshold must be positive'): FailureRate(-0.1, 'bbox')

# ---- properties -------------------------------------------------------------------------------------------------------

floats = st.floats(-1e3, 1e3, allow_nan=False, width=64)
shapes = st.integers(1, 4).flatmap(lambda b: st.integers(6, 9).map(lambda k: (b, k)))

@st.composite
def point_sets(draw):
    b,k = draw(shapes)
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    t = rng.uniform(-50, 50, (b,k,2))
    p = t + rng.normal(0, draw(st.floats(0.01, 10)), (b,k,2))
    return p, t

lay_k = lambda k: LandmarkLayout('toy', flip_idx=list(range(k)), norm_idx=(0,3), pupil_idx=([0,1],[2,3]))

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(point_sets(), floats, floats, st.floats(0.1, 10), st.floats(-math.pi, math.pi))
def test_nme_similarity_invariance(pts, dx, dy, scale, angle):
    "Translating and scaling both point sets leaves every NME unchanged; rotating leaves the eye-based ones unchanged"
    p,t = map(torch.as_tensor, pts)
    lay = lay_k(t.shape[1])
    move = lambda o: o*scale + torch.tensor([dx, dy], dtype=o.dtype)
    c,s = math.cos(angle), math.sin(angle)
    rot = lambda o: o @ torch.tensor([[c, s], [-s, c]], dtype=o.dtype)
    for norm in NORMS:
        torch.testing.assert_close(nme(move(p), move(t), norm, lay), nme(p, t, norm, lay), rtol=1e-6, atol=1e-9)
    for norm in ('iod', 'ipd'):
        torch.testing.assert_close(nme(rot(p), rot(t), norm, lay), nme(p, t, norm, lay), rtol=1e-6, atol=1e-9)

@settings(max_examples=40, deadline=None)
@given(point_sets(), st.data())
def test_missing_point_is_the_same_as_an_absent_point(pts, data):
    "A NaN target point gives the NME of the same image without that point (the box normalisers use present points only)"
    p,t = map(torch.as_tensor, pts)
    k = t.shape[1]
    drop = data.draw(st.integers(0, k-1))
    t_nan = t.clone(); t_nan[:,drop] = nan
    keep = [i for i in range(k) if i!=drop]
    for norm in ('bbox', 'diag'):
        torch.testing.assert_close(nme(p, t_nan, norm), nme(p[:,keep], t[:,keep], norm))

@settings(max_examples=40, deadline=None)
@given(point_sets())
def test_nme_zero_for_perfect_predictions_and_positive_otherwise(pts):
    p,t = map(torch.as_tensor, pts)
    assert (nme(t, t, 'diag')==0).all()
    assert (nme(p, t, 'diag')>0).all()

@settings(max_examples=40, deadline=None)
@given(point_sets(), st.floats(0.001, 1), st.floats(0.001, 1))
def test_pck_is_monotone_in_alpha(pts, a, b):
    p,t = map(torch.as_tensor, pts)
    lo,hi = sorted([a, b])
    assert (pck(p, t, lo, 'bbox') <= pck(p, t, hi, 'bbox')).all()
    assert (pck(p, t, 1e9, 'bbox')==1).all()

errors = st.lists(st.one_of(st.floats(0, 1), st.just(nan), st.just(math.inf)), min_size=1, max_size=50)

@settings(max_examples=80, deadline=None)
@given(errors, st.floats(0.01, 0.5), st.floats(0.01, 0.5))
def test_auc_fr_properties(errs, t1, t2):
    "AUC in [0, 1] and non-decreasing with the threshold, the failure rate non-increasing; all-NaN gives NaN"
    lo,hi = sorted([t1, t2])
    (a_lo,f_lo),(a_hi,f_hi) = auc_fr(errs, lo), auc_fr(errs, hi)
    if all(math.isnan(e) for e in errs): assert math.isnan(a_lo) and math.isnan(f_lo); return
    assert 0 <= a_lo <= a_hi + 1e-12 <= 1 + 1e-12
    assert 0 <= f_hi <= f_lo <= 1
    finite = [e for e in errs if not math.isnan(e)]
    assert f_lo == pytest.approx(np.mean([e>lo for e in finite]))

@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 0.3), min_size=2, max_size=40), st.integers(1, 39))
def test_cumulated_metric_is_over_all_images(errs, cut):
    "Feeding the images in two batches gives the metric of all the images"
    n = len(errs); cut = min(cut, n-1)
    # one point per image on the x axis: the diag norm of a unit box is sqrt(2)
    t = torch.tensor([[[0.,0.], [1.,1.]]]).repeat(n,1,1).double()
    p = t.clone(); p[:,1,0] += torch.tensor(errs, dtype=torch.float64)*2*math.sqrt(2)
    for m in (NME('diag'), AUC(0.1, 'diag'), FailureRate(0.1, 'diag'), PCK(0.1, 'diag')):
        m.reset(); m.accum_points(p[:cut], t[:cut]); m.accum_points(p[cut:], t[cut:])
        whole = m.value
        m.reset(); m.accum_points(p, t)
        assert whole == pytest.approx(m.value, nan_ok=True)
    assert AUC(0.1, 'diag').name == 'auc'
    m = NME('diag'); m.accum_points(p, t)
    assert m.value == pytest.approx(100*np.mean(errs))

# ---- decoding every head ----------------------------------------------------------------------------------------------

def test_metric_decodes_gaussian_and_binary_heatmaps_and_coordinates():
    for tfms,hs in (([], 16), ([RandomBinaryHeatmapTransform(16)], None), ([], None)):
        dls = dots_dls(n=8, size=32, k=3, bs=4, heatmap_size=hs, batch_tfms=tfms)
        xb,yb = dls.one_batch()
        perfect = yb if yb.ndim==4 else yb.view(yb.shape[0], -1)  # a perfect heatmap, or flat (B, 2K) coordinates
        m = NME('bbox')
        m.accumulate(SimpleNamespace(xb=(xb,), yb=(yb,), pred=perfect*(20 if tfms else 1), dls=dls))
        assert m.value == pytest.approx(0, abs=1e-3)

def test_metric_measures_in_input_pixels_on_non_square_images():
    "An error of 0.1 along x on a 64-px-wide input is 3.2 px; the diag normaliser is computed in pixels too"
    xb = torch.zeros(1,3,32,64)
    t = torch.tensor([[[-0.5,-0.5], [0.5,0.5]]])
    p = t + torch.tensor([0.1, 0.])
    dls = dots_dls(n=4, size=32, k=2, bs=2)
    m = NME('diag'); m.accumulate(SimpleNamespace(xb=(xb,), yb=(t,), pred=p, dls=dls))
    assert m.value == pytest.approx(100*3.2/math.hypot(32, 16), rel=1e-5)

def test_missing_target_channel_is_skipped():
    dls = dots_dls(n=8, size=32, k=3, bs=4, heatmap_size=16)
    pts = torch.tensor([[[0.,0.], [0.5,0.5], [-0.5,0.5]]])
    targ = gaussian_heatmaps(pts, 16); targ[0,2] = 0  # landmark 2 is missing
    pred = gaussian_heatmaps(pts + torch.tensor([[0.,0.], [0.,0.], [0.9,-0.9]]), 16)
    m = NME('bbox'); m.accumulate(SimpleNamespace(xb=(torch.zeros(1,3,32,32),), yb=(targ,), pred=pred, dls=dls))
    assert m.value == pytest.approx(0, abs=1e-3)

def test_eye_metrics_read_the_layout_of_landmark_block_targets():
    from fastlandmarks.synthetic import synthetic_faces_dls
    from fastlandmarks.data import LandmarkBlock
    faces = synthetic_faces_dls(n=8, size=32, bs=4, block=LandmarkBlock('ibug68'))
    xb,yb = faces.one_batch()
    for m in (NME(), AUC(), FailureRate(norm='ipd')):
        m.accumulate(SimpleNamespace(xb=(xb,), yb=(yb,), pred=yb, dls=faces))
        assert m.layout.name=='ibug68'
    dots = dots_dls(n=8, size=32, k=3, bs=4)
    xb,yb = dots.one_batch()
    with pytest.raises(ValueError, match='needs a layout'): NME().accumulate(SimpleNamespace(xb=(xb,), yb=(yb,), pred=yb, dls=dots))

# ---- training ---------------------------------------------------------------------------------------------------------

def test_trackers_and_recorder_with_nme():
    dls = dots_dls(n=8, size=32, k=3, bs=4, heatmap_size=16)
    learn = dots_learner(dls, metrics=[NME('bbox'), AUC(0.1, 'bbox'), FailureRate(0.1, 'bbox'), PCK()],
                         path=Path(tempfile.mkdtemp()))
    with learn.no_bar(), learn.no_logging():
        learn.fit(2, 1e-3, cbs=[EarlyStoppingCallback(monitor='nme', comp=np.less, patience=5),
                                SaveModelCallback(monitor='nme', comp=np.less, fname='best')])
    names = list(learn.recorder.metric_names)
    assert names[3:7] == ['nme', 'auc', 'failure_rate', 'pck']
    nmes = [v[2] for v in learn.recorder.values]
    assert len(nmes)==2 and all(np.isfinite(nmes))
    assert (learn.path/'models/best.pth').exists()
    axs = plot_metrics(learn.recorder, ['nme', 'auc'])
    np.testing.assert_allclose(axs[0].lines[0].get_ydata(), nmes)
    assert axs[0].get_xlabel()=='epoch' and axs[0].get_ylabel()=='nme' and axs[0].get_title()
    plt.close('all')
