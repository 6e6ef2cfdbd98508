"""Property tests of the core maths (issue 7): coordinate conversions, heatmap encoders and decoders, at random sizes,
sigmas, 1 to 200 landmarks, and points on and near the borders of the image.

Flip maps (`tests/test_flips.py`) and readers on random valid files (`tests/test_readers.py`) have their property tests
already. Points are drawn by torch from a seed that hypothesis draws: a few hundred floats per example would make
hypothesis slow to generate and shrink, and a seed reproduces the example just as well.
"""
import math
import pytest, torch
from hypothesis import given, settings, strategies as st
from fastlandmarks.core import *
from fastlandmarks.heatmaps import *

torch.set_num_threads(1)
NAN = float('nan')

def tol(sigma:float)->float:
    """Heatmap cells: how close the sub-pixel round trip of a Gaussian of `sigma` cells must be, anywhere on the image.
    The README states 1.5e-6 cells (for sigma = 2); measured over 1500 random cases (sizes 3-80, sigma 0.4-40, points on
    the edges), the error is at most 1e-6·max(1, sigma²): float32 logarithms of a wide Gaussian lose digits as sigma grows."""
    return 2e-6*max(1., sigma**2)


def random_points(seed, b, k, border=0.5, missing=0., outside=0.):
    """Points `(b, k, 2)` in `[-1, 1]`: a share `border` with a coordinate on an edge or within 0.05 of it, the rest uniform;
    then a share `missing` set to `NaN` and a share `outside` moved off the image."""
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(b, k, 2, generator=g)*2 - 1
    near = torch.rand(b, k, 2, generator=g) < border/2                           # per coordinate: half of `border` per axis
    edge = torch.where(torch.rand(b, k, 2, generator=g) < 0.5, -1., 1.)
    inset = torch.rand(b, k, 2, generator=g)*0.05 * (torch.rand(b, k, 2, generator=g) > 0.2)  # a fifth exactly on the edge
    pts = torch.where(near, edge*(1 - inset), pts)
    pts[torch.rand(b, k, generator=g) < outside] *= 1.5 + torch.rand(1, generator=g)  # beyond the edge on some axis
    pts[torch.rand(b, k, generator=g) < missing] = NAN
    return pts

sizes = st.tuples(st.integers(3, 80), st.integers(3, 80))
seeds = st.integers(0, 2**31)
ks = st.integers(1, 200)


# ---------------------------------------------------------------- the coordinate convention

@settings(max_examples=50, deadline=None)
@given(seeds, sizes, sizes)
def test_conversions_are_inverse_pairs(seed, hm_size, img_size):
    pts = random_points(seed, 2, 30, outside=0.2)
    torch.testing.assert_close(cells_to_scaled(scaled_to_cells(pts, hm_size), hm_size), pts, atol=1e-5, rtol=0)
    torch.testing.assert_close(pixels_to_scaled(scaled_to_pixels(pts, img_size), img_size), pts, atol=1e-5, rtol=0)
    px = scaled_to_pixels(pts, img_size)
    for one_based in (False, True):
        torch.testing.assert_close(index_to_pixels(pixels_to_index(px, one_based), one_based), px, atol=1e-4, rtol=0)

@settings(max_examples=30, deadline=None)
@given(sizes)
def test_image_edges_are_cell_edges(size):
    "The image's edges are the outer edges of the outer cells: -0.5 and w - 0.5 (x), -0.5 and h - 0.5 (y)"
    h, w = size
    corners = scaled_to_cells(torch.tensor([[-1., -1.], [1., 1.]]), size)
    torch.testing.assert_close(corners, torch.tensor([[-0.5, -0.5], [w-0.5, h-0.5]]))


# ---------------------------------------------------------------- Gaussian targets and the sub-pixel decoder

@st.composite
def gaussian_cases(draw, min_sigma=0.4):
    "A heatmap size, a sigma in `[min_sigma, min(h, w)/2]` (the range `check_sigma` allows), a batch and a K"
    h, w = draw(sizes)
    sigma = draw(st.floats(min_sigma, min(h, w)/2))
    return (h, w), sigma, draw(st.integers(1, 3)), draw(ks)

@settings(max_examples=60, deadline=None)
@given(seeds, gaussian_cases())
def test_gaussian_round_trip_to_a_millionth_of_a_cell(seed, case):
    size, sigma, b, k = case
    pts = random_points(seed, b, k, missing=0.1, outside=0.1)
    hm = gaussian_heatmaps(pts, size, sigma)
    keep = in_image(pts)
    assert hm.shape == (b, k, *size)
    assert torch.equal(empty_channels(hm), ~keep)
    assert (hm[keep].flatten(-2).amax(-1) > math.exp(-1/(4*sigma**2)) - 1e-6).all()  # the peak cell is within half a cell
    err = (decode_subpixel(hm) - scaled_to_cells(pts, size)).abs()[keep]
    assert err.numel()==0 or err.max() <= tol(sigma), f"max error {err.max():.2e} cells (sigma {sigma:.2f})"
    dec = decode_points(hm, is_target=True)
    assert torch.equal(dec.isnan().any(-1), ~keep)
    cell = torch.tensor([2/size[1], 2/size[0]])
    assert ((dec - pts).abs()[keep] <= tol(sigma)*cell + 2e-7).all()  # and float32 rounding of [-1, 1] coordinates

@pytest.mark.parametrize('sigma', [0.2, 0.3, 0.35])
def test_narrow_gaussians_decode_at_the_edges(sigma):
    size = 16
    edge = torch.linspace(0.9, 1., 41)
    pts = torch.stack([torch.cat([edge, -edge]), torch.zeros(82)], -1)[None]
    err = (decode_subpixel(gaussian_heatmaps(pts, size, sigma)) - scaled_to_cells(pts, size)).abs().max()
    assert err <= tol(sigma), f"max error {err:.2e} cells"

@settings(max_examples=30, deadline=None)
@given(seeds, gaussian_cases(min_sigma=1.))
def test_soft_argmax_of_log_gaussians_away_from_the_edges(seed, case):
    "The spatial softmax of log-Gaussian logits is the normalised Gaussian: its mean is the point, where no tail is cut off"
    # (from sigma = 1 cell: a narrower Gaussian sampled on the grid has a mean up to 0.02 cell off its centre)
    size, sigma, b, k = case
    cells = scaled_to_cells(random_points(seed, b, k, border=0.), size)
    margin = 6*sigma                                        # tails below 1e-8 beyond the heatmap
    hi = torch.tensor([size[1]-1, size[0]-1.])
    inner = ((cells >= margin) & (cells <= hi - margin)).all(-1)
    if not inner.any(): return
    pts = cells_to_scaled(cells, size)
    logits = -((torch.arange(size[1]) - cells[...,0,None])**2)[...,None,:]/(2*sigma**2) \
             - ((torch.arange(size[0]) - cells[...,1,None])**2)[...,:,None]/(2*sigma**2)
    err = (decode_soft_argmax(logits) - cells).abs()[inner]
    assert err.max() <= 1e-3
    torch.testing.assert_close(decode_soft_argmax(logits, scale=True)[inner], pts[inner], atol=1e-3, rtol=0)


# ---------------------------------------------------------------- randomised-rounding binary targets

@settings(max_examples=60, deadline=None)
@given(seeds, sizes, st.integers(1, 3), ks)
def test_binary_targets_are_one_hot_next_to_the_point(seed, size, b, k):
    "Exactly one 1 per present, in-image point, on one of the (edge-clamped) four cells around it; empty otherwise"
    h, w = size
    pts = random_points(seed, b, k, missing=0.1, outside=0.1)
    hm = random_binary_heatmaps(pts, size, generator=torch.Generator().manual_seed(seed))
    keep = in_image(pts)
    assert hm.shape == (b, k, h, w) and ((hm==0) | (hm==1)).all()
    assert torch.equal(hm.flatten(-2).sum(-1), keep.float())
    assert torch.equal(empty_channels(hm), ~keep)
    hot = decode_argmax(hm)[keep]
    c = scaled_to_cells(pts, size)[keep]
    lo = torch.stack([c[:,0].floor().clamp(0, w-1), c[:,1].floor().clamp(0, h-1)], -1)
    hi = torch.stack([c[:,0].ceil().clamp(0, w-1), c[:,1].ceil().clamp(0, h-1)], -1)
    assert ((hot >= lo) & (hot <= hi)).all()

@settings(max_examples=15, deadline=None)
@given(seeds, st.tuples(st.integers(3, 24), st.integers(3, 24)), st.integers(1, 8))
def test_binary_targets_are_unbiased_inside_the_grid(seed, size, k):
    "Averaged over many draws, the hot cell is the point itself wherever its four neighbours are all cells of the heatmap"
    h, w = size
    pts = random_points(seed, 1, k)
    draws = random_binary_heatmaps(pts.expand(3000, k, 2), size, generator=torch.Generator().manual_seed(seed))
    c = scaled_to_cells(pts[0], size)
    inner = ((c >= 0) & (c <= torch.tensor([w-1., h-1.]))).all(-1)
    mean = decode_argmax(draws).mean(0)
    assert ((mean - c).abs()[inner] <= 0.05).all()

def test_binary_targets_draw_each_corner_with_its_bilinear_probability():
    "x and y are rounded independently: each of the four cells around a point is drawn with the product of its 1-D weights"
    size, n = (6, 8), 20000
    pts = cells_to_scaled(torch.tensor([[[2.3, 1.6], [4.5, 3.5], [1.8, 4.1], [6.05, 0.7]]]), size)
    draws = random_binary_heatmaps(pts.expand(n, 4, 2), size, generator=torch.Generator().manual_seed(0)).mean(0)
    expected = torch.zeros(4, *size)
    for i,(x,y) in enumerate(scaled_to_cells(pts[0], size).tolist()):  # the bilinear weights, written out
        x0, y0, fx, fy = math.floor(x), math.floor(y), x - math.floor(x), y - math.floor(y)
        for dx, wx in ((0, 1-fx), (1, fx)):
            for dy, wy in ((0, 1-fy), (1, fy)): expected[i, y0+dy, x0+dx] += wx*wy
    # 20000 draws: a cell's frequency has a standard error of at most 0.0035; sharing one random number for x and y
    # would move the corners of the first point by 0.12
    torch.testing.assert_close(draws, expected, atol=0.02, rtol=0)
