"End to end: a stock fastai point-regression workflow switched to heatmap regression (issue 2's 'done when')."
import numpy as np, torch, pytest
from fastai.vision.all import *
from fastlandmarks.all import *
from fastlandmarks.test_utils import *


def _dots_dls(n=32, size=64, k=4, heatmap_size=16, tfms=()):
    return dots_dls(n=n, size=size, k=k, bs=8, heatmap_size=heatmap_size, sigma=1., batch_tfms=list(tfms))


def test_show_methods_are_ours():
    dls = _dots_dls()
    x, y, samples = dls.show_batch(show=False)
    assert type(y) is HeatmapPoint
    assert show_batch.resolve_method((x, y, samples))[0].__module__ == 'fastlandmarks.learner'
    assert show_results.resolve_method((x, y, samples, samples))[0].__module__ == 'fastlandmarks.learner'


def test_stock_workflow_with_heatmaps(tmp_path):
    "show_batch, fine_tune, show_results, get_preds, predict, export/load_learner all run"
    dls = _dots_dls(tfms=aug_transforms(do_flip=False, max_rotate=10, min_scale=1.))
    dls.show_batch(max_n=2); plt.close('all')
    learn = unet_learner(dls, resnet18, n_out=4, loss_func=gaussian_heatmap_loss, metrics=[nmae_argmax], pretrained=False)
    learn.fine_tune(1, 1e-2)
    assert not np.isnan(learn.recorder.values[-1]).any()
    learn.show_results(max_n=2); plt.close('all')
    preds, targs = learn.get_preds()
    assert preds.shape[1:] == (4, 64, 64) and targs.shape[1:] == (4, 16, 16)
    img = PILImage.create(make_dots(1, size=64, k=4, seed=5)[0][0])
    pts, raw, _ = learn.predict(img)
    assert pts.shape == (4, 2) and raw.shape == (4, 64, 64)
    assert ((pts >= 0) & (pts <= 64)).all()
    learn.export(tmp_path/'learn.pkl')
    pts2 = load_learner(tmp_path/'learn.pkl').predict(img)[0]
    torch.testing.assert_close(pts2.as_subclass(torch.Tensor), pts.as_subclass(torch.Tensor))


@pytest.mark.parametrize('hm_size', [16, 64, 100])
def test_target_peak_on_feature_after_augmentation(hm_size):
    "After resize + rotation + zoom, each target's peak lies on the feature it labels (median ≤ 0.3 px)"
    # The README states a median of 0.2 px: measured 0.175 to 0.242 px over seeds 0-7, the same at every heatmap size (the
    # decoding is exact; what remains is where the dots' blended edges put their colour centroids). A half-cell shift of
    # the targets moves every peak by 0.3 to 2 px.
    set_seed(0)
    tfms = aug_transforms(do_flip=False, max_rotate=30, max_zoom=1.3, min_scale=1., p_affine=1., max_lighting=0, max_warp=0)
    dls = dots_dls(n=48, size=80, k=4, bs=16, heatmap_size=hm_size, sigma=1.5, item_tfms=Resize(64), batch_tfms=tfms)
    xb, yb = dls.train.one_batch()
    feats, n = dot_centres(xb.as_subclass(torch.Tensor), 4)
    feats[n <= 8] = torch.nan                                        # only dots visible enough to locate
    err = (decode_points(yb, is_target=True) - feats).norm(dim=-1) * 32  # [-1, 1] units to pixels of the 64 px images
    err = err[~err.isnan()]
    assert len(err) > 32, len(err)
    print(f"median {err.median():.3f} px, n={len(err)}")
    assert err.median() <= 0.3, f"median {err.median():.3f} px"


@pytest.mark.parametrize('size,sigma', [((64, 64), 2.), ((64, 48), 1.), ((13, 200), 3.), ((256, 256), 1.5)])
def test_encode_decode_round_trip(size, sigma):
    "Encode→decode round trip within 2e-6·max(1, sigma²) heatmap cells (measured ≤ 1e-6·max(1, sigma²)), at any heatmap size"
    pts = TensorPoint(torch.rand(4, 68, 2)*2-1)
    tfm = HeatmapTransform(size, sigma)
    back = tfm.decode(tfm(pts))
    err = (scaled_to_cells(back.as_subclass(torch.Tensor), size) - scaled_to_cells(pts.as_subclass(torch.Tensor), size)).abs()
    assert err.max() <= 2e-6*max(1, sigma**2), f"max error {err.max():.2e} cells"
