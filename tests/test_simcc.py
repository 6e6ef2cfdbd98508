"""The SimCC head in the whole workflow: trained on a body that sees the dots, it predicts them, flip TTA averages
each point with its mirror partner, `predict` returns them in image pixels, `show_results` draws them, and its
confidence is high on them.

The body is `DotFinder`'s Gaussian maps of the dots (a body that has found the landmarks), so only the head learns, in
a second of plain PyTorch; the expected points are the dots' colour centroids, found without the model."""
import pytest, torch
from fastai.vision.all import *
from fastlandmarks.core import as_plain
from fastlandmarks.data import LandmarkBlock
from fastlandmarks.learner import landmark_learner
from fastlandmarks.simcc import SimCCHead, SimCCLoss
from fastlandmarks.test_utils import make_dots, dots_dblock, dot_centres, DotFinder
import fastlandmarks.tta  # Learner.landmark_tta

torch.set_num_threads(1)
SIZE, K, FLIP_IDX = 32, 5, [1, 0, 2, 4, 3]
IMGS, PTS = make_dots(16, size=SIZE, k=K)
STEPS = 600
INT8_MAX_CHANGE = 0.4  # NME points (bbox-normalised): the int8 graph moves it from 4.19% to 4.36% (measured)
BIAS_TOL = 0.1  # pixels: the mean signed error over the validation points is 0.03 px (measured); a decoder off by half a bin gives 0.25
TOL = 0.75  # pixels of the 32-px input: the trained head's worst point is 0.54 px from its dot's centroid (measured)


def dot_body():
    "`DotFinder`'s 16×16 Gaussian maps of the dots as a body (behind an identity 1×1 conv, the weight layer fastai's `dummy_eval` looks for)"
    ident = nn.Conv2d(3, 3, 1)
    with torch.no_grad(): ident.weight.copy_(torch.eye(3)[..., None, None]); ident.bias.zero_()
    ident.requires_grad_(False)
    body = nn.Sequential(ident, DotFinder(K, heatmap_size=16, sigma=1.))
    body.out_channels, body.stats = K, None
    return body


def found(x:Tensor)->Tensor: return dot_centres(as_plain(x), K)[0]


def trained_learner():
    "A SimCC learner on the dots whose head (only) is trained"
    dls = dots_dblock(IMGS, PTS, block=LandmarkBlock(flip_idx=FLIP_IDX)).dataloaders(None, bs=4, num_workers=0)
    learn = landmark_learner(dls, dot_body(), head='simcc', pretrained=False, head_kwargs=dict(sigma=1., hidden=128))
    body, head = learn.model
    assert isinstance(head, SimCCHead) and learn.loss_func.head is head
    imgs, _ = make_dots(2048, size=SIZE, k=K, seed=1)  # other images than the learner's
    x = torch.tensor(imgs).permute(0, 3, 1, 2).float()/255
    with torch.no_grad(): feats, targs = body(x), found(x)
    torch.manual_seed(0)
    opt = torch.optim.Adam(head.parameters(), 3e-3)
    for step in range(STEPS):
        i = torch.randint(0, len(x), (32,))
        head(feats[i]); loss = learn.loss_func(None, targs[i])
        opt.zero_grad(); loss.backward(); opt.step()
    return learn


@pytest.fixture(scope='module')
def learn(): return trained_learner()


def valid_x(learn)->Tensor: return torch.cat([b[0] for b in learn.dls.valid]).as_subclass(Tensor)


def test_the_head_reads_the_dots(learn):
    preds, targs = learn.get_preds()
    d = (preds.view(-1, K, 2) - found(valid_x(learn)))*SIZE/2
    print(f'largest error {d.abs().max():.3f} px, mean signed error {d.mean((0, 1)).tolist()} px')
    assert d.abs().max() < TOL
    assert d.mean((0, 1)).abs().max() < BIAS_TOL  # no systematic shift: the bins' centres are where the labels put them


def test_flip_tta_averages_each_point_with_its_mirror_partner(learn):
    "On the mirrored image dot `i` is found at `(-x, y)`; mapped back and re-indexed, landmark `j` is dot `FLIP_IDX[j]`"
    c = found(valid_x(learn))
    assert ((c - c[:, FLIP_IDX])/2).abs().max()*SIZE/2 > 3*TOL  # some partners far apart: a TTA that did not swap would miss them
    preds, _ = learn.landmark_tta()
    torch.testing.assert_close(preds, (c + c[:, FLIP_IDX])/2, atol=TOL*2/SIZE, rtol=0)


def test_predict_returns_the_dots_in_image_pixels(learn):
    for i in (0, 7):
        pts = learn.predict(IMGS[i])[0]
        assert pts.shape == (K, 2)
        c = (found(torch.tensor(IMGS[i]).permute(2, 0, 1)[None].float()/255)[0] + 1)*SIZE/2  # the dots' centroids in pixels
        assert (torch.as_tensor(pts).as_subclass(Tensor) - c).abs().max() < TOL


def test_show_results_draws_the_predicted_points(learn):
    learn.show_results(max_n=2, shuffle=False)
    axes = [a for a in plt.gcf().axes if a.collections]
    preds = learn.get_preds()[0].view(-1, K, 2)
    drawn = axes[1].collections[-1].get_offsets()  # target, then prediction: the second image shows the first prediction
    np.testing.assert_allclose(drawn, ((preds[0] + 1)*SIZE/2).numpy(), atol=1e-4)
    plt.close('all')


def test_confidence_is_high_on_the_dots(learn):
    "The trained head's 1-D distributions are nearly as sharp as its labels on the validation dots (min 0.88 measured)"
    head = learn.model[1]
    with torch.no_grad(): learn.model(valid_x(learn)); conf = head.confidence()
    print(f'confidence on dots: min {conf.min():.2f}')
    assert conf.shape == (4, K) and conf.min() > 0.75 and conf.max() <= 1


def test_onnx_and_int8_export_keep_the_points(learn, tmp_path):
    "The trained head exports with its decoder (float32 within 1e-3 px of PyTorch) and quantises to int8 within the NME threshold"
    from fastlandmarks.export import export_onnx, landmark_predictor, onnx_predict
    x = valid_x(learn)
    with torch.no_grad(): expected = landmark_predictor(learn)(x).numpy()
    fp32 = export_onnx(learn, tmp_path/'simcc.onnx')
    err = np.abs(onnx_predict(fp32, x) - expected).max()
    print(f'max |ONNX - PyTorch| = {err:.1e} px')
    assert err < 1e-3
    export_onnx(learn, tmp_path/'simcc_int8.onnx', quantize='int8', max_nme_change=INT8_MAX_CHANGE)
    chk = learn.int8_check
    print(f"NME float32 {chk['nme_fp32']:.3f}%, int8 {chk['nme_int8']:.3f}%")
    assert chk['nme_fp32'] < 5 and abs(chk['change']) <= INT8_MAX_CHANGE
