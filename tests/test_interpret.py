"Tests of fastlandmarks.interpret: errors of a model on a DataLoader, and every plot rendered to PNG for 68 and 106 landmarks"
import math
import numpy as np, pytest, torch
from fastai.vision.all import vision_learner, resnet18, MSELossFlat, plt
from fastlandmarks.interpret import *
from fastlandmarks.metrics import nme, auc_fr
from fastlandmarks.test_utils import dots_dls, dots_learner

@pytest.fixture(scope='module', params=[(68, 'ibug68'), (106, 'lapa106')])
def interps(request):
    "Two untrained U-Nets on the same dots with K landmarks, read with a face layout: predictions are far off, which is all a picture needs"
    k,layout = request.param
    dls = dots_dls(n=12, size=48, k=k, bs=3, heatmap_size=24, sigma=1.)
    torch.manual_seed(0); a = LandmarkInterpretation.from_learner(dots_learner(dls), norm='iod', layout=layout, name='model A')
    torch.manual_seed(1); b = LandmarkInterpretation.from_learner(dots_learner(dls), norm='iod', layout=layout, name='model B')
    return k, a, b

def _png(fig, path):
    fig.savefig(path, dpi=80)
    plt.close('all')
    assert path.stat().st_size > 10_000  # a rendered picture, not an empty canvas
    return path

def test_errors_agree_with_the_metrics(interps):
    k,a,_ = interps
    assert a.preds.shape==(3,k,2) and a.point_errors.shape==(3,k)
    torch.testing.assert_close(a.errors, nme(a.preds, a.targs, 'iod', a.layout))
    s = a.summary(0.1)
    assert s['nme']==pytest.approx(100*float(a.errors.mean())) and (s['auc'],s['failure_rate']/100)==auc_fr(a.errors, 0.1)
    errs,idx = a.top_losses()
    assert (errs[:-1] >= errs[1:]).all() and (a.errors[idx]==errs).all()

def test_plots_render_with_titles_and_labels(interps, tmp_path):
    k,a,b = interps
    fig = a.plot_top_losses(3)
    assert [ax.get_title().startswith('image ') for ax in fig.axes[:3]] == [True]*3 and fig._suptitle.get_text()
    _png(fig, tmp_path/f'top_losses_{k}.png')

    ax = a.plot_ced(b, threshold=2.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith('model A: AUC@2 ') and labels[1].startswith('model B: AUC@2 ') and 'FR' in labels[0]
    assert ax.get_title() and ax.get_xlabel()=='NME (% of inter-ocular distance)' and ax.get_ylabel()
    _png(ax.figure, tmp_path/f'ced_{k}.png')

    ax = a.plot_landmark_errors()
    assert ax.get_title() and ax.get_xlabel()=='x (pixels)' and ax.get_ylabel()=='y (pixels)'
    assert ax.figure.axes[1].get_ylabel().startswith('mean NME')  # the colour bar
    np.testing.assert_allclose(ax.collections[0].get_array().data, 100*a.landmark_errors().numpy(), rtol=1e-5)
    if a.layout.names: assert all(t.get_text().split(' ')[1] in a.layout.names for t in ax.texts)  # worst landmarks named
    _png(ax.figure, tmp_path/f'landmark_errors_{k}.png')

    fig = a.show_heatmaps(idxs=[0, 2], landmarks=[0, k-1])
    assert len(fig.axes)==2*2*2 and fig.axes[0].get_title()=='image 0, landmark 0\ntarget'
    _png(fig, tmp_path/f'heatmaps_{k}.png')

def test_ced_needs_one_norm_and_regressors_have_no_heatmaps():
    dls = dots_dls(n=8, size=32, k=3, bs=2)
    reg = LandmarkInterpretation.from_learner(
        vision_learner(dls, resnet18, n_out=6, pretrained=False, loss_func=MSELossFlat()), norm='diag')
    other = LandmarkInterpretation(reg.learn, reg.dl, reg.preds, reg.targs, norm='bbox')
    with pytest.raises(ValueError, match='same norm'): reg.plot_ced(other)
    with pytest.raises(ValueError, match='needs a model that outputs heatmaps'): reg.show_heatmaps()
    assert len(reg.plot_top_losses(2).axes)==3  # two images and one unused panel
    plt.close('all')

def test_plot_ced_of_plain_arrays():
    ax = plot_ced({'a': [0.01, 0.02, math.nan], 'b': np.array([0.05, 0.2])}, threshold=0.1, norm='iod')
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ['a: AUC@0.1 0.850, FR 0.0%  (2 images, 1 skipped)', 'b: AUC@0.1 0.250, FR 50.0%  (2 images)']
    x,y = ax.get_lines()[1].get_data()
    np.testing.assert_allclose(y, [0, 0.5, 1, 1]); np.testing.assert_allclose(x, [0, 5, 20, 20])
    plt.close('all')
