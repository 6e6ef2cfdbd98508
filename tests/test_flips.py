"""Every way fastai mirrors an image swaps left and right landmarks, checked on the pixels under each point.

Images hold one coloured disc per landmark (every landmark its own colour, so left and right differ). After augmentation,
landmark `i` must lie on the disc of landmark `i` when the sample was not mirrored, and on the disc of `flip_idx[i]` when
it was. Whether a sample was mirrored is read from the image itself: the discs of landmarks 0, 1, 2 are drawn
counter-clockwise in every original, and a reflection (and only a reflection) reverses that orientation.
"""
import numpy as np, pytest, torch
from fastai.vision.all import *
from hypothesis import given, settings, strategies as st
from fastlandmarks.layouts import *
from fastlandmarks.data import *
from fastlandmarks.test_utils import dot_colours, draw_discs

torch.set_num_threads(1)

K,SIZE,RADIUS = 6,64,3
FLIP_IDX = (1,0,3,2,4,5)  # two left/right pairs, two landmarks on the axis
COLOURS = torch.tensor(dot_colours(K), dtype=torch.float32)/255

def _orientation(p0, p1, p2):
    "Sign of the signed area of triangles `(..., 2)`: +1 one way round, -1 the other"
    a,b = p1-p0, p2-p0
    return np.sign(a[...,0]*b[...,1] - a[...,1]*b[...,0])

def _dot_images(n:int, seed=0):
    "`n` images `(n, SIZE, SIZE, 3)` and pixel points `(n, K, 2)`, discs near the centre, (0, 1, 2) all oriented alike"
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0, 2*np.pi, (n,1)) + np.linspace(0, 2*np.pi, K, endpoint=False) + rng.uniform(-0.2, 0.2, (n,K))
    r = rng.uniform(0.35, 0.55, (n,K)) * SIZE/2  # within the central disc: rotations and zooms never push a dot out
    pts = np.stack([np.cos(ang)*r, np.sin(ang)*r], -1)
    pts[...,0] *= _orientation(*pts.transpose(1,0,2)[:3])[:,None]  # mirror the shapes that run the other way round
    pts = (pts + SIZE/2).astype(np.float32)
    imgs = rng.integers(0, 40, (n,SIZE,SIZE,3), dtype=np.uint8)
    return draw_discs(imgs, pts, dot_colours(K), RADIUS), pts

IMGS,PTS = _dot_images(32)

def _classify(rgb:torch.Tensor)->torch.Tensor:
    "The landmark whose colour each pixel `(..., 3)` in [0, 1] has, or -1 for background"
    d = (rgb[...,None,:] - COLOURS).norm(dim=-1)
    return torch.where(d.min(-1).values < 0.3, d.argmin(-1), -1)

def _was_mirrored(img:torch.Tensor)->bool:
    "Whether the discs 0, 1, 2 of an augmented image `(3, H, W)` run the other way round than in the originals"
    cls = _classify(img.permute(1,2,0))
    centre = lambda i: torch.nonzero(cls==i).float().mean(0).flip(-1).numpy()  # (x, y) centroid
    return _orientation(centre(0), centre(1), centre(2)) < 0

def _landmark_on(img:torch.Tensor, pts:torch.Tensor)->torch.Tensor:
    "The disc under each point `(K, 2)` in [-1, 1] of image `(3, H, W)`, -1 for background or off the image"
    xy = ((pts+1)/2*SIZE).floor().long()
    inside = ((xy>=0) & (xy<SIZE)).all(-1)
    xy = xy.clamp(0, SIZE-1)
    return torch.where(inside, _classify(img[:, xy[:,1], xy[:,0]].T), -1)

def _batch(block, item_tfms=None, batch_tfms=None, seed=0):
    "A training batch of the dot images through `block` and the augmentations"
    set_seed(seed)
    dls = DataBlock(blocks=(ImageBlock, block), get_items=lambda _: list(range(len(IMGS))),
                    get_x=lambda i: PILImage.create(IMGS[i]), get_y=lambda i: torch.tensor(PTS[i]),  # a copy: stock DihedralItem negates in place
                    splitter=RandomSplitter(0.25, seed=0), item_tfms=item_tfms, batch_tfms=batch_tfms
                   ).dataloaders(None, bs=24, num_workers=0)
    xb,yb = dls.train.one_batch()
    return xb.as_subclass(torch.Tensor).cpu(), yb.as_subclass(torch.Tensor).cpu()

def _audit(xb, yb):
    "Per sample: was it mirrored, and does every landmark lie on the disc the flip rule says"
    mirrored = torch.tensor([_was_mirrored(img) for img in xb])
    found = torch.stack([_landmark_on(img, pts) for img,pts in zip(xb, yb)])
    expected = torch.where(mirrored[:,None], torch.tensor(FLIP_IDX), torch.arange(K))
    return mirrored, (found==expected).all(-1)

AUGMENTATIONS = {
    'batch Flip(p=.5)':      dict(batch_tfms=Flip(p=.5)),
    'batch Dihedral(p=1)':   dict(batch_tfms=Dihedral(p=1.)),
    'aug_transforms':        dict(batch_tfms=aug_transforms(do_flip=True, flip_vert=True, max_rotate=30)),
    'item FlipItem(p=.5)':   dict(item_tfms=FlipItem(p=.5)),
    'item DihedralItem(p=1)':dict(item_tfms=DihedralItem(p=1.)),
}

def test_audit_sees_unaugmented_batches_right():
    mirrored,ok = _audit(*_batch(LandmarkBlock(flip_idx=FLIP_IDX)))
    assert not mirrored.any() and ok.all()

@pytest.mark.parametrize('name', AUGMENTATIONS)
def test_landmarks_follow_every_reflection(name):
    mirrored,ok = _audit(*_batch(LandmarkBlock(flip_idx=FLIP_IDX), **AUGMENTATIONS[name]))
    assert mirrored.any() and (~mirrored).any(), f"{name}: the batch should mix mirrored and unmirrored samples"
    assert ok.all(), f"{name}: samples {torch.nonzero(~ok).flatten().tolist()} have landmarks on the wrong disc"

@pytest.mark.parametrize('name', AUGMENTATIONS)
def test_stock_pointblock_fails_the_same_audit(name):
    mirrored,ok = _audit(*_batch(PointBlock, **AUGMENTATIONS[name]))
    assert not ok.all()

def test_stock_pointblock_unchanged():
    "fastai's own point type keeps fastai's methods and results (including its item-flip misplacement)"
    for meth in ['affine_coord', 'flip_lr', 'dihedral', 'flip_batch', 'dihedral_batch']:
        assert TensorPoint.__dict__[meth].__module__=='fastai.vision.augment'
    _,y0 = _batch(PointBlock)
    _,y1 = _batch(PointBlock, batch_tfms=Flip(p=1.))
    assert torch.allclose(y1, y0*torch.tensor([-1.,1.]))  # mirrored, indices unchanged
    _,y2 = _batch(PointBlock, item_tfms=FlipItem(p=1.))
    assert (y2[...,0] < -1).all()  # item flips negate pixel coordinates: every point leaves the image

# Properties

@st.composite
def involutions(draw, max_k=12):
    "Random flip maps: a random number of random disjoint pairs"
    k = draw(st.integers(1, max_k))
    order = draw(st.permutations(range(k)))
    n_pairs = draw(st.integers(0, k//2))
    idx = list(range(k))
    for a,b in zip(order[:2*n_pairs:2], order[1:2*n_pairs:2]): idx[a],idx[b] = b,a
    return idx

def _landmarks(flip_idx, seed, batch=None):
    g = torch.Generator().manual_seed(seed)
    shape = (len(flip_idx),2) if batch is None else (batch,len(flip_idx),2)
    return LandmarkPoint(torch.rand(shape, generator=g)*2-1, landmark_layout=LandmarkLayout('random', flip_idx))

@settings(max_examples=50, deadline=None)
@given(involutions(), st.integers(0, 2**16), st.floats(0, np.pi))
def test_reflecting_twice_restores(flip_idx, seed, theta):
    p = _landmarks(flip_idx, seed)
    assert torch.allclose(p.flip_lr().flip_lr(), p)
    for k in (1,2,6,7): assert torch.allclose(p.dihedral(k).dihedral(k), p)
    c,s = np.cos(2*theta), np.sin(2*theta)
    mirror = torch.tensor([[[c,s,0.],[s,-c,0.]]]*3, dtype=torch.float32)  # reflections across lines through the centre
    b = _landmarks(flip_idx, seed, batch=3)
    once = b.affine_coord(mirror)
    assert torch.allclose(once.affine_coord(mirror), b, atol=1e-5)
    swapped_back = swap_mirrored(once, flip_idx)  # one reflection: positions mirrored and indices swapped
    assert torch.allclose(swapped_back, b.as_subclass(torch.Tensor) @ mirror[0,:,:2].T, atol=1e-5)

@settings(max_examples=30, deadline=None)
@given(involutions(), st.integers(0, 2**16), st.floats(-np.pi, np.pi))
def test_rotations_keep_the_order(flip_idx, seed, theta):
    c,s = np.cos(theta), np.sin(theta)
    rot = torch.tensor([[[c,-s,0.],[s,c,0.]]]*2, dtype=torch.float32)
    b = _landmarks(flip_idx, seed, batch=2)
    assert torch.allclose(b.affine_coord(rot), b.as_subclass(torch.Tensor) @ torch.linalg.inv(rot[0,:,:2]).T, atol=1e-5)

def _is_involution(idx):
    return sorted(idx)==list(range(len(idx))) and all(idx[j]==i for i,j in enumerate(idx))

@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-2, 9), min_size=1, max_size=9))
def test_invalid_flip_maps_are_refused(idx):
    if _is_involution(idx): assert check_flip_idx(idx)==tuple(idx)
    else:
        with pytest.raises(ValueError, match='flip_idx'): check_flip_idx(idx)

@settings(max_examples=30, deadline=None)
@given(involutions(), st.integers(1, 15))
def test_size_mismatch_names_both_numbers(flip_idx, n):
    create = LandmarkPointCreate(LandmarkLayout('random', flip_idx))
    pts = torch.rand(n, 2)
    if n==len(flip_idx): assert isinstance(create(pts), LandmarkPoint)
    else:
        with pytest.raises(ValueError, match=f"has {len(flip_idx)} entries but the annotation has {n} landmarks"): create(pts)

def test_landmarks_never_modify_their_source():
    "fastai's `TensorPoint.dihedral` negates in place, and `tensor(array)` shares memory: `LandmarkBlock` copies"
    src = PTS[:2].copy()
    create = LandmarkPointCreate(LandmarkLayout('random', FLIP_IDX))
    for k in range(8): create(torch.from_numpy(src[0])).dihedral(k).flip_lr()
    assert (src==PTS[:2]).all()

def test_size_mismatch_fails_when_building_dataloaders():
    with pytest.raises(ValueError, match="has 5 entries but the annotation has 6 landmarks"):
        _batch(LandmarkBlock(flip_idx=[1,0,2,3,4]))
