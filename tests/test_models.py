"Contract tests of the bodies, heads and learners of fastlandmarks.models (issue 4), in the style of timm's model tests."
import pickle
import numpy as np, torch, pytest
from fastai.vision.all import *
from fastlandmarks.models import *
from fastlandmarks.learner import landmark_learner, hrnet_learner
from fastlandmarks.losses import *
from fastlandmarks.heatmaps import decode_soft_argmax
from fastlandmarks.transforms import RandomBinaryHeatmapTransform
from fastlandmarks.metrics import nmae_argmax, nmae_topk, NME
from fastlandmarks.test_utils import dots_dls, make_dots

K = 5


@pytest.fixture(scope='module')
def heatmap_dls(): return dots_dls(n=16, size=64, k=K, bs=4, heatmap_size=16)

@pytest.fixture(scope='module')
def point_dls(): return dots_dls(n=16, size=64, k=K, bs=4)

@pytest.fixture(scope='module')
def img(): return PILImage.create(make_dots(1, size=64, k=K, seed=7)[0][0])


@pytest.mark.parametrize('arch,width', [('hrnet_w18_small', 240), ('hrnet_w18_small_v2', 270), ('hrnet_w18', 270)])
def test_hrnet_body_channels_match_timm(arch, width):
    "The HRNetV2 body is as wide as the branches timm reports, at 1/4 of the input resolution"
    body = hrnet_body(arch, pretrained=False)
    assert body.out_channels == sum(body.feature_info.channels()) == width
    assert body.feature_info.reduction() == [4, 8, 16, 32]
    assert body(torch.zeros(1, 3, 64, 64)).shape == (1, width, 16, 16)


@pytest.mark.parametrize('arch', ['resnet18', resnet18])
def test_body_reports_its_channels(arch):
    body = landmark_body(arch, pretrained=False)
    assert body(torch.zeros(2, 3, 64, 64)).shape == (2, body.out_channels, 2, 2)


@pytest.mark.parametrize('head,shape', [
    (DeconvHead(64, K, n_deconv=2, channels=16), (2, K, 16, 16)),
    (BinaryHeadBlock(64, 32, K), (2, K, 4, 4)),
    (IntegralHead(64, K, n_deconv=1, channels=16), (2, K, 2)),
    (RegressionHead(64, K, (4, 4)), (2, K, 2)),
    (QueryHead(64, K, dim=32), (2, K, 2)),
])
def test_head_output_shapes(head, shape):
    assert head(torch.randn(2, 64, 4, 4)).shape == shape


def test_integral_head_outputs_soft_argmax_and_pickles_without_logits():
    head = IntegralHead(64, K, n_deconv=1, channels=16)
    pts = head(torch.randn(2, 64, 4, 4))
    torch.testing.assert_close(pts, decode_soft_argmax(head.logits, scale=True))
    assert pickle.loads(pickle.dumps(head)).logits is None


HEADS = [  # head, DataLoaders fixture, head_kwargs
    ('unet', 'heatmap_dls', {}),
    ('deconv', 'heatmap_dls', dict(n_deconv=3, channels=32)),
    ('integral', 'point_dls', dict(n_deconv=3, channels=32)),
    ('regression', 'point_dls', {}),
    ('query', 'point_dls', dict(dim=32)),
    ('simcc', 'point_dls', dict(hidden=64)),
]

@pytest.mark.parametrize('head,dls_name,head_kwargs', HEADS)
def test_landmark_learner_trains_and_predicts(head, dls_name, head_kwargs, img, request):
    "Every head builds for 5 landmarks, trains an epoch on the CPU with a metric, and predicts 5 points in the image"
    dls = request.getfixturevalue(dls_name)
    learn = landmark_learner(dls, resnet18, head=head, pretrained=False, head_kwargs=head_kwargs,
                             metrics=[nmae_argmax, NME(norm='bbox')])
    with learn.no_bar(): learn.fit(1, 1e-3)
    assert np.isfinite(learn.recorder.values[-1]).all()
    pts = learn.predict(img)[0]
    assert pts.shape == (K, 2)
    if landmark_heads[head].targets == 'points':  # heatmap heads may decode an untrained channel with no positive value to NaN
        assert ((pts >= 0) & (pts <= 64)).all()


def test_coordinate_heads_show_results(point_dls):
    learn = landmark_learner(point_dls, resnet18, head='regression', pretrained=False)
    learn.show_results(max_n=2); plt.close('all')


def test_integral_loss_heatmap_term_is_bound_to_the_head(point_dls):
    loss = IntegralLoss(heatmap_weight=0.5)
    learn = landmark_learner(point_dls, resnet18, head='integral', pretrained=False, loss_func=loss,
                             head_kwargs=dict(n_deconv=2, channels=16))
    assert loss.head is learn.model[1]
    xb, yb = point_dls.one_batch()
    pred = learn.model(xb)
    assert loss(pred, yb) > l1_coord_loss(pred, yb)


def test_timm_unet_and_vit_query(heatmap_dls, point_dls):
    xb = heatmap_dls.one_batch()[0]
    assert landmark_learner(heatmap_dls, 'resnet18', head='unet', pretrained=False).model(xb).shape == (4, K, 64, 64)
    learn = landmark_learner(point_dls, 'vit_tiny_patch16_224', head='query', pretrained=False, body_kwargs=dict(img_size=64))
    assert learn.model(xb).shape == (4, K, 2)


def test_hrnet_learner_trains_and_predicts(heatmap_dls, img):
    learn = hrnet_learner(heatmap_dls, 'hrnet_w18_small', pretrained=False, proj_channels=32, metrics=nmae_argmax)
    assert learn.loss_func is gaussian_heatmap_loss
    with learn.no_bar(): learn.fit(1, 1e-3)
    assert np.isfinite(learn.recorder.values[-1]).all()
    assert learn.predict(img)[0].shape == (K, 2)


def test_blog_binary_workflow(img):
    "Randomised-rounding targets at 64×64, HRNet + BinaryHeadBlock, BCE with pos_weight=100, top-k error, show_results"
    dls = dots_dls(n=16, size=64, k=K, bs=4, batch_tfms=[RandomBinaryHeatmapTransform(heatmap_size=(64, 64))])
    body = hrnet_body('hrnet_w18_small', pretrained=False)
    model = nn.Sequential(body, BinaryHeadBlock(body.out_channels, 64, K))
    learn = Learner(dls, model, loss_func=partial(binary_heatmap_loss, pos_weight=100), metrics=nmae_topk)
    with learn.no_bar(): learn.fit(1, 1e-3)
    assert np.isfinite(learn.recorder.values[-1]).all()
    assert learn.predict(img)[0].shape == (K, 2)
    learn.show_results(max_n=2); plt.close('all')


def test_default_losses_follow_the_targets(heatmap_dls, point_dls):
    binary = dots_dls(n=16, size=64, k=K, bs=4, batch_tfms=[RandomBinaryHeatmapTransform(16)])
    assert heatmap_loss_for(heatmap_dls) is gaussian_heatmap_loss
    assert heatmap_loss_for(binary).func is binary_heatmap_loss
    assert isinstance(landmark_learner(point_dls, resnet18, head='integral', pretrained=False).loss_func, IntegralLoss)


def test_wrong_n_out_or_targets_fail_at_creation(heatmap_dls, point_dls):
    with pytest.raises(ValueError, match='n_out=10 but the DataLoaders have 5 landmarks'):
        landmark_learner(point_dls, resnet18, head='regression', n_out=10, pretrained=False)
    with pytest.raises(ValueError, match='n_out=3 but the DataLoaders have 5 landmarks'):
        hrnet_learner(heatmap_dls, 'hrnet_w18_small', n_out=3, pretrained=False)
    with pytest.raises(ValueError, match='add a HeatmapTransform'):
        landmark_learner(point_dls, resnet18, head='deconv', pretrained=False)
    with pytest.raises(ValueError, match='remove HeatmapTransform'):
        landmark_learner(heatmap_dls, resnet18, head='query', pretrained=False)
    with pytest.raises(ValueError, match="unknown head 'heat'"):
        landmark_learner(point_dls, resnet18, head='heat', pretrained=False)


def test_splits_freeze_the_body(point_dls):
    "Two parameter groups, body and head, so that freeze / fine_tune train the head first"
    learn = landmark_learner(point_dls, 'resnet18', head='query', pretrained=False, head_kwargs=dict(dim=32))
    learn.create_opt(); learn.freeze()
    assert len(learn.opt.param_lists) == 2
    assert not learn.model[0].model.conv1.weight.requires_grad
    assert all(p.requires_grad for p in learn.model[1].parameters())


def test_pretrained_body_adds_its_normalisation_and_freezes():
    "As vision_learner: a pretrained body adds a Normalize with its stats to the DataLoaders, and starts frozen"
    dls = dots_dls(n=16, size=64, k=K, bs=4)
    body = timm_encoder('resnet18', pretrained=False)  # a module is used as given: no download, treated as pretrained
    learn = landmark_learner(dls, body, head='regression', pretrained=True)
    norm = first(dls.after_batch.fs, risinstance(Normalize))
    torch.testing.assert_close(norm.mean.flatten().cpu(), torch.tensor(body.stats[0]).float())
    assert not body.model.conv1.weight.requires_grad
