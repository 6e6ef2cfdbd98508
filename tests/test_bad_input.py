"""Bad input fails early with an error whose message names the culprit; odd but valid images are converted (issue 7).

Unreadable, truncated or missing images, annotations with the wrong number of points, empty datasets, heatmap sizes and
sigmas out of range, and layouts or `n_out` that do not fit the data: each raises an error naming the file, the value or
both counts, in the library and in the command line's datasets.
"""
import re
import numpy as np, pytest, torch
from PIL import Image
from fastai.vision.all import *
from fastlandmarks.readers import read_pts, write_pts
from fastlandmarks.data import LandmarkBlock
from fastlandmarks.layouts import LandmarkLayout
from fastlandmarks.transforms import HeatmapTransform, RandomBinaryHeatmapTransform
from fastlandmarks.losses import gaussian_heatmap_loss
from fastlandmarks.metrics import NME
from fastlandmarks.models import landmark_heads
from fastlandmarks.learner import landmark_learner
from fastlandmarks.datasets import landmark_dataloaders, dataset_items
from fastlandmarks.test_utils import make_dots
from reliability_utils import *

torch.set_num_threads(1)
DOTS = LandmarkLayout('dots', FLIP_IDX)  # the dots' layout, for the command line's `landmark_dataloaders`
NAMED = (OSError, ValueError)  # an unreadable file is an OSError (PIL's, or ours) or a ValueError naming it


def _write_dataset(path, n=12):
    "`n` dots images as PNG files in `train/` and `valid/`, each with its `.pts` file (K points, 1-based pixel centres)"
    imgs, pts = make_dots(n, size=SIZE, k=K)
    for i, (img, p) in enumerate(zip(imgs, pts)):
        fn = path/('valid' if i >= n-3 else 'train')/f'{i:02d}.png'
        fn.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(fn); write_pts(fn.with_suffix('.pts'), torch.tensor(p))
    return sorted(get_image_files(path))

def _dblock(**kwargs):
    return DataBlock(blocks=(ImageBlock, LandmarkBlock(flip_idx=FLIP_IDX)), get_items=get_image_files,
                     splitter=FuncSplitter(lambda f: f.parent.name=='valid'), **{'get_y': read_pts, **kwargs})

def _all_items(dls):
    "Load every training item, in order, in one batch"
    return dls.train.new(shuffle=False, drop_last=False, bs=len(dls.train_ds)).one_batch()

@pytest.fixture(scope='module')
def learner(tmp_path_factory):
    "A coordinate learner on a folder dataset, to predict on files"
    path = tmp_path_factory.mktemp('dots')
    _write_dataset(path)
    return head_learner(_dblock().dataloaders(path, bs=4, num_workers=0), 'regression')

@pytest.fixture
def dataset(tmp_path): return _write_dataset(tmp_path)


# ---------------------------------------------------------------- unreadable images

BROKEN = {'garbage': lambda raw: b'this is not an image' * 8, 'empty': lambda raw: b''}

def _truncated(raw): return raw[:len(raw)//2]

@pytest.mark.parametrize('damage', BROKEN)
def test_unreadable_image_in_a_dataset_is_named(dataset, damage):
    victim = dataset[3]
    victim.write_bytes(BROKEN[damage](victim.read_bytes()))
    dls = _dblock().dataloaders(dataset[0].parent.parent, bs=4, num_workers=0)
    with pytest.raises(NAMED, match=re.escape(str(victim))): _all_items(dls)

@pytest.mark.parametrize('damage', [*BROKEN, 'missing'])
def test_unreadable_image_to_predict_is_named(learner, tmp_path, damage):
    fn = tmp_path/'face.png'
    if damage!='missing': fn.write_bytes(BROKEN[damage](b''))
    with pytest.raises(NAMED, match=re.escape(str(fn))): learner.predict(fn)

def test_truncated_image_in_the_cli_dataset_is_named(dataset):
    victim = dataset[3]
    victim.write_bytes(_truncated(victim.read_bytes()))
    dls = landmark_dataloaders(str(dataset[0].parent.parent), layout=DOTS, size=SIZE, head='regression', bs=4,
                               crop=False, flip=False, num_workers=0)
    with pytest.raises(NAMED, match=re.escape(str(victim))): _all_items(dls)

def test_truncated_image_to_predict_is_named(learner, dataset, tmp_path):
    fn = tmp_path/'face.png'
    fn.write_bytes(_truncated(dataset[0].read_bytes()))
    with pytest.raises(NAMED, match=re.escape(str(fn))): learner.predict(fn)


# ---------------------------------------------------------------- annotations with the wrong number of points

def _drop_a_point(fn):
    write_pts(fn.with_suffix('.pts'), read_pts(fn)[:-1])

def test_wrong_point_count_names_the_file_and_both_counts(dataset):
    _drop_a_point(dataset[2])
    dls = _dblock(get_y=partial(read_pts, n_points=K)).dataloaders(dataset[0].parent.parent, bs=4, num_workers=0)
    with pytest.raises(ValueError, match=re.escape(f"{dataset[2].with_suffix('.pts')}: expected {K} points, found {K-1}")):
        _all_items(dls)

def test_wrong_point_count_against_the_layout_names_both_counts(dataset):
    _drop_a_point(dataset[2])
    dls = _dblock().dataloaders(dataset[0].parent.parent, bs=4, num_workers=0)
    with pytest.raises(ValueError, match=f"has {K} entries but the annotation has {K-1} landmarks"): _all_items(dls)

def test_wrong_point_count_in_the_cli_names_the_file(dataset):
    _drop_a_point(dataset[2])
    dls = landmark_dataloaders(str(dataset[0].parent.parent), layout=DOTS, size=SIZE, head='regression', bs=4,
                               crop=False, flip=False, num_workers=0)
    with pytest.raises(ValueError, match=re.escape(str(dataset[2].with_suffix('.pts')))): _all_items(dls)


# ---------------------------------------------------------------- empty datasets

def test_empty_dataset_names_the_folder_and_format(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"no annotated items in {tmp_path} for format 'pts'")):
        landmark_dataloaders(str(tmp_path), size=SIZE)
    with pytest.raises(FileNotFoundError, match=re.escape(f"no dataset at {tmp_path/'nowhere'}")): dataset_items(tmp_path/'nowhere')

def test_training_set_smaller_than_a_batch_names_both_numbers(dataset):
    dls = _dblock().dataloaders(dataset[0].parent.parent, bs=16, num_workers=0)
    with pytest.raises(ValueError, match=r"9 training items.*batch size of 16"): head_learner(dls, 'regression')


# ---------------------------------------------------------------- heatmap size and sigma

@pytest.mark.parametrize('sigma', [0, -1., 8.5, float('nan')])
def test_sigma_out_of_range_is_named(sigma):
    with pytest.raises(ValueError, match=rf"sigma must be in \(0, 8.0\] heatmap cells .* got {sigma}"): HeatmapTransform(16, sigma=sigma)

@pytest.mark.parametrize('make', [lambda: HeatmapTransform(0), lambda: HeatmapTransform((16, -1)),
                                  lambda: HeatmapTransform(2, sigma=1.), lambda: RandomBinaryHeatmapTransform(2, topk=9)],
                         ids=['zero', 'negative', 'below 3x3', 'fewer cells than topk'])
def test_heatmap_size_out_of_range_is_named(make):
    with pytest.raises(ValueError, match='heatmap_size'): make()


# ---------------------------------------------------------------- n_out and layouts that do not fit the data

@pytest.mark.parametrize('head', HEADS)
def test_n_out_different_from_the_landmarks_fails_at_creation(head):
    imgs, pts = make_dots(16, size=SIZE, k=K)
    dls = head_dls(imgs, pts, head, augment=False)
    with pytest.raises(ValueError, match=f"n_out={K+1} but the DataLoaders have {K} landmarks"): head_learner(dls, head, n_out=K+1)

def test_heatmap_loss_names_channel_counts():
    with pytest.raises(ValueError, match=f"{K+1}.*{K}"):
        gaussian_heatmap_loss(torch.zeros(2, K+1, HM, HM), torch.zeros(2, K, HM, HM))

def test_layout_of_the_wrong_size_is_named():
    imgs, pts = make_dots(16, size=SIZE, k=K)
    with pytest.raises(ValueError, match=f"layout 'ibug68' has 68 entries but the annotation has {K} landmarks"):
        dots_dblock(imgs, pts, block=LandmarkBlock('ibug68')).dataloaders(None, bs=4, num_workers=0)
    learn = head_learner(head_dls(imgs, pts, 'regression', augment=False), 'regression', metrics=NME(layout='ibug68'))
    with pytest.raises(ValueError, match=f"the layout has 68 landmarks but the points have {K}"): learn.validate()


# ---------------------------------------------------------------- odd but valid images are converted

MODES = {'L': 128, 'LA': (128, 200), 'RGBA': (10, 20, 30, 128), 'P': 3, '1': 1, 'CMYK': (0, 255, 0, 0)}

@pytest.mark.parametrize('mode', MODES)
def test_grey_palette_alpha_and_cmyk_images_are_converted(dataset, learner, mode):
    suffix = '.jpg' if mode=='CMYK' else '.png'
    for fn in dataset:
        img = Image.open(fn).convert(mode)
        img.save(fn.with_suffix(suffix))
        if suffix!='.png': fn.unlink()
    dls = _dblock().dataloaders(dataset[0].parent.parent, bs=4, num_workers=0)
    xb, _ = _all_items(dls)
    assert xb.shape == (len(dls.train_ds), 3, SIZE, SIZE)
    assert learner.predict(dataset[0].with_suffix(suffix))[0].shape == (K, 2)

def test_sixteen_bit_grey_keeps_its_content(dataset):
    "A 16-bit grey image gives the batch its 8-bit version gives"
    def batch():  # the validation images: no random augmentation
        dls = landmark_dataloaders(str(dataset[0].parent.parent), layout=DOTS, size=SIZE, head='regression', bs=3,
                                   crop=False, flip=False, num_workers=0)
        return dls.valid.one_batch()[0]
    for fn in dataset: Image.open(fn).convert('L').save(fn)
    eight = batch()
    for fn in dataset: Image.fromarray(np.asarray(Image.open(fn), dtype=np.uint16)*257).save(fn)  # the full 16-bit range
    assert Image.open(dataset[0]).mode.startswith('I')
    torch.testing.assert_close(batch(), eight, atol=0.05, rtol=0)
