"Contract tests for `fastlandmarks.synthetic`: determinism, landmarks on the drawn features, asymmetry, files on disk"
import math, time
from pathlib import Path

import numpy as np, torch
from hypothesis import given, settings, strategies as st
from PIL import Image
from fastlandmarks.readers import read_pts, keypoints_csv_items, read_keypoints_csv
from fastai.vision.all import Flip, PointBlock
from fastlandmarks.data import LandmarkBlock
from fastlandmarks.synthetic import *

# iBUG 68 mirror permutation (written here on purpose: layouts live in fastlandmarks.layouts)
FLIP68 = [*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
          45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
          54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
          64, 63, 62, 61, 60, 67, 66, 65]

def in_layout_order(lm):
    "The left-to-right orders that every upright (|roll| < 45°) face shows in the image"
    x = lm[:, 0]
    chains = [(0, 16), (17, 21, 22, 26), (36, 39, 42, 45), (31, 35), (48, 51, 54), (60, 62, 64)]
    return all(bool((x[list(c)].diff() > 0).all()) for c in chains)

def mirror(img, lm):
    "The mirror image and its points, not relabelled"
    return img[:, ::-1], torch.stack([img.shape[1] - lm[:, 0], lm[:, 1]], 1)

def test_flip_map_is_an_involution():
    assert sorted(FLIP68) == list(range(68)) and [FLIP68[i] for i in FLIP68] == list(range(68))

def test_deterministic_by_seed():
    for seed in (0, 7, (3, 11)):
        a, b = synthetic_face(seed, 64), synthetic_face(seed, 64)
        np.testing.assert_array_equal(a[0], b[0]); assert torch.equal(a[1], b[1])
    assert not np.array_equal(synthetic_face(1, 64)[0], synthetic_face(2, 64)[0])
    assert not torch.equal(synthetic_face((0, 1), 64)[1], synthetic_face((1, 0), 64)[1])
    assert torch.equal(synthetic_face(5, clean=True)[1], synthetic_face(5)[1])      # `clean` changes the picture only

@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(16, 200))
def test_landmarks_inside_image_and_in_order(seed, size):
    img, lm = synthetic_face(seed, size)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    assert lm.shape == (68, 2) and lm.dtype == torch.float32
    assert ((lm >= 0) & (lm <= size)).all()
    assert in_layout_order(lm)

def colour_at(img, p): return img[int(p[1]), int(p[0])].astype(float)

def test_landmarks_on_drawn_features():
    "On clean faces the eyes, lips and brows at their landmarks are not skin, and the jaw line separates face from background"
    far = {k: 0 for k in ('eyes', 'lip', 'brows', 'jaw')}
    n = 30
    for seed in range(n):
        img, lm = synthetic_face(seed, 128, clean=True)
        skin = colour_at(img, (lm[4] + lm[48]) / 2)
        def differs(p): return np.linalg.norm(colour_at(img, p) - skin) > 25
        far['eyes'] += differs(lm[36:42].mean(0)) and differs(lm[42:48].mean(0))
        far['lip'] += differs(lm[[50, 51, 52, 61, 62, 63]].mean(0))
        far['brows'] += differs(lm[19]) and differs(lm[24])
        chin = lm[8]; centre = lm[27:36].mean(0)
        inside, outside = chin + 0.1 * (centre - chin), chin - 0.1 * (centre - chin)
        off_image = not ((outside >= 0) & (outside < 128)).all()
        far['jaw'] += off_image or bool(np.abs(colour_at(img, inside) - colour_at(img, outside)).max() > 10)
    assert all(v >= 0.85 * n for v in far.values()), far

def test_turned_faces_are_asymmetric_and_need_the_flip_map():
    ratios = []
    for seed in range(40):
        img, lm = synthetic_face(seed, 96)
        ratios.append(math.log((lm[39] - lm[36]).norm() / (lm[45] - lm[42]).norm()))
        mimg, mlm = mirror(img, lm)
        assert not in_layout_order(mlm)              # mirrored, not relabelled: the right eye is now on the image's right
        assert in_layout_order(mlm[FLIP68])          # relabelled with the flip map: a valid face again
        np.testing.assert_array_equal(colour_at(mimg, mlm[30]), colour_at(img, lm[30]))
    ratios = torch.tensor(ratios)
    assert ratios.std() > 0.15 and ratios.min() < -0.25 and ratios.max() > 0.25

def test_make_synthetic_faces_round_trips(tmp_path):
    path = make_synthetic_faces(tmp_path, n=10, size=40, seed=2, valid_pct=0.3)
    assert sorted(p.name for p in (path/'valid').glob('*.png')) == ['00007.png', '00008.png', '00009.png']
    assert len(list((path/'train').glob('*.pts'))) == 7
    img, lm = synthetic_face((2, 8), 40)
    np.testing.assert_array_equal(np.array(Image.open(path/'valid/00008.png')), img)
    assert torch.allclose(read_pts(path/'valid/00008.png'), lm, atol=1e-3)
    items = keypoints_csv_items(path/'landmarks.csv', n_points=68)
    assert items[8].path == path/'valid/00008.png'
    assert torch.allclose(read_keypoints_csv(items[8]), lm, atol=1e-3)

def test_synthetic_faces_dls_and_cache(tmp_path):
    dls = synthetic_faces_dls(n=12, size=32, bs=4, seed=3, path=tmp_path, num_workers=0)
    assert len(dls.train_ds) == 10 and len(dls.valid_ds) == 2
    xb, yb = dls.one_batch()
    assert xb.shape == (4, 3, 32, 32) and yb.shape == (4, 68, 2) and yb.abs().max() <= 1
    folder = synthetic_faces(n=12, size=32, seed=3, path=tmp_path)
    stamp = (folder/'landmarks.csv').stat().st_mtime_ns
    assert synthetic_faces(n=12, size=32, seed=3, path=tmp_path) == folder        # cached: not written again
    assert (folder/'landmarks.csv').stat().st_mtime_ns == stamp

def test_flipped_batches_need_the_flip_map(tmp_path):
    "A mirroring augmentation keeps faces valid only when the target block relabels left and right"
    for block, valid in [(LandmarkBlock(flip_idx=FLIP68), True), (PointBlock, False)]:
        dls = synthetic_faces_dls(n=8, size=32, bs=4, seed=4, path=tmp_path, block=block, batch_tfms=Flip(p=1.), num_workers=0)
        _, yb = dls.one_batch()
        assert all(in_layout_order(p) == valid for p in yb.as_subclass(torch.Tensor))

def test_generation_is_fast():
    start = time.perf_counter()
    for i in range(100): synthetic_face(i, 128)
    assert time.perf_counter() - start < 10     # about 3 ms a face on one idle core; generous for shared machines
