"""Mixed precision with every head and every loss (issue 7).

fastai's `learn.to_fp16()` / `to_bf16()` autocast on CUDA only: on a CPU they warn and train in float32, which we check.
Real reduced precision on the CPU is bfloat16 autocast (`torch.autocast('cpu', dtype=torch.bfloat16)`), applied here
around the forward pass and the loss exactly where fastai's `MixedPrecision` applies CUDA autocast. fp16 on a GPU is
checked by `benchmarks/gpu_checks.py`.

Tolerances (bfloat16 keeps 8 significant bits, a relative step of 2⁻⁸ ≈ 0.4%):
- one forward pass and loss, same weights and batch: every loss within 1% of its float32 value (measured ≤ 0.53%, HRNet),
  heatmap outputs within 5% of their largest value (≤ 2.2%, HRNet), coordinates within 0.004 in `[-1, 1]` units, one bfloat16
  step near 1 (0.2% of the image width; measured ≤ 0.0008);
- one epoch of training from the same initial weights: losses within 10% of float32's (≤ 6.5%, HRNet);
- Gaussian targets held in bfloat16 (float16) decode within 0.05 (0.01) of a cell for sigma ≤ 2 cells.
"""
import copy, warnings
import pytest, torch
from fastai.vision.all import *
from fastlandmarks.core import scaled_to_cells
from fastlandmarks.heatmaps import gaussian_heatmaps, decode_subpixel
from fastlandmarks.losses import *
from reliability_utils import *

torch.set_num_threads(1)
IMGS, PTS = dots_with_missing(32)
LOSS_RTOL, HEATMAP_RTOL, COORD_ATOL, EPOCH_RTOL = 1e-2, 5e-2, 4e-3, 0.1

HEATMAP_LOSSES = {'gaussian': [gaussian_heatmap_loss, adaptive_wing_loss, spatial_softmax_loss, SpatialSoftmaxLoss()],
                  'binary': [partial(binary_heatmap_loss, pos_weight=100.), spatial_softmax_loss]}
COORD_LOSSES = [l1_coord_loss, smooth_l1_coord_loss, wing_loss]
CASES = [(h, t) for h in HEATMAP_HEADS for t in HEATMAP_LOSSES] + [(h, None) for h in HEADS if h not in HEATMAP_HEADS]



def _losses(head, targets, model):
    if targets is not None: return HEATMAP_LOSSES[targets]
    extra = [IntegralLoss(heatmap_weight=0.5, head=model[1])] if head=='integral' else []
    return COORD_LOSSES + extra

@pytest.mark.parametrize('head,targets', CASES, ids=[f'{h}-{t}' if t else h for h, t in CASES])
def test_bf16_forward_and_every_loss_match_float32(head, targets):
    dls = head_dls(IMGS, PTS, head, augment=False, binary=targets=='binary')
    set_seed(0)
    model = head_learner(dls, head).model.eval()  # eval: batch norm does not update its statistics between the two passes
    xb, yb = dls.one_batch()
    for loss in _losses(head, targets, model):
        with torch.no_grad(): out32 = model(xb); ref = loss(out32, yb)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out16 = model(xb); res = loss(out16, yb)
        assert res.dtype == torch.float32 and torch.isfinite(res)
        torch.testing.assert_close(res.detach(), ref, rtol=LOSS_RTOL, atol=1e-7)
        res.backward()
        assert all(p.grad.dtype==torch.float32 and torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        model.zero_grad()
    diff = (out16.float() - out32).abs().max()
    if targets is None: assert diff <= COORD_ATOL
    else: assert diff <= HEATMAP_RTOL*out32.abs().max()


def _fit(head, *cbs, fp16=False):
    "Recorded train and valid losses of one epoch from seed 0, with callbacks `cbs` (and `to_fp16()`), and the warnings"
    set_seed(0)
    learn = head_learner(head_dls(IMGS, PTS, head), head)
    if fp16: learn.to_fp16()
    with warnings.catch_warnings(record=True) as caught, learn.no_bar(), learn.no_logging():
        warnings.simplefilter('always')
        learn.fit(1, 1e-3, cbs=list(cbs))
    return learn.recorder.values[-1], [str(w.message) for w in caught]

@pytest.mark.parametrize('head', HEADS)
def test_training_in_bf16_matches_float32_and_to_fp16_is_float32_on_cpu(head):
    ref, _ = _fit(head)
    bf16, _ = _fit(head, CPUAutocast())
    assert np.isfinite(bf16).all()
    np.testing.assert_allclose(bf16, ref, rtol=EPOCH_RTOL)
    fp16, caught = _fit(head, fp16=True)
    assert fp16 == ref, "without CUDA, fastai's to_fp16 trains in float32"
    assert any('CUDA is not available' in m for m in caught)


@pytest.mark.parametrize('dtype,tol', [(torch.bfloat16, 0.05), (torch.float16, 0.01)])
@pytest.mark.parametrize('sigma', [1., 1.5, 2.])
def test_low_precision_gaussian_heatmaps_decode_to_a_fraction_of_a_cell(dtype, tol, sigma):
    pts = torch.rand(4, 68, 2, generator=torch.Generator().manual_seed(0))*2 - 1
    hm = gaussian_heatmaps(pts, 64, sigma).to(dtype)
    assert (decode_subpixel(hm) - scaled_to_cells(pts, 64)).abs().max() <= tol
