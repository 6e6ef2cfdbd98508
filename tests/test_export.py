"""ONNX export of every head of `landmark_heads`: onnxruntime agrees with PyTorch, decoder included, at two batch sizes.

Small untrained models (`pretrained=False`) on 32-px dots, their weights jittered (a fresh coordinate head starts at the
mean shape, whatever the image): their outputs depend on the image, so an exported graph that froze the example batch or
dropped the decoder would disagree."""
import pytest, torch
from fastlandmarks.export import export_onnx, landmark_predictor, onnx_predict
from reliability_utils import *

torch.set_num_threads(1)
IMGS, PTS = dots_with_missing(16, share=0.)
TOL = 5e-4  # pixels of the 32-px input: float32 graphs that order their sums differently (measured at most 1e-4, HRNet)

@pytest.mark.parametrize('head,binary', [(h, False) for h in HEADS] + [('deconv', True)])
def test_onnx_agrees_with_pytorch(head, binary, tmp_path):
    dls = head_dls(IMGS, PTS, head, augment=False, binary=binary)
    learn = head_learner(dls, head)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in learn.model.parameters(): p.add_(0.1*torch.randn_like(p))
    xb, _ = dls.valid.one_batch()
    xb = torch.cat([xb, xb.flip(-1)]).as_subclass(torch.Tensor)                 # 8 images, the exported example has 1
    with torch.no_grad(): expected = landmark_predictor(learn)(xb).numpy()
    path = export_onnx(learn, tmp_path/f'{head}.onnx')
    got = onnx_predict(path, xb)
    assert got.shape == (len(xb), K, 2)
    assert np.abs(expected[:4] - expected[4:]).max() > 0.01, "the untrained model sees the image: other images, other points"
    err = np.abs(got - expected).max()
    print(f"{head}{' binary' if binary else ''}: max |ONNX - PyTorch| = {err:.1e} px")
    assert err <= TOL, f"{head}: max |ONNX - PyTorch| = {err:.1e} px"
    np.testing.assert_allclose(onnx_predict(path, xb[:3]), expected[:3], atol=TOL, rtol=0)  # the batch axis is dynamic
