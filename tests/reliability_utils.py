"""Tiny data and one small learner per head, shared by the reliability tests (issue 7) and their 2-process worker.

Everything is 32-px coloured dots (`fastlandmarks.test_utils.make_dots`) with flip-aware `LandmarkBlock` targets, so that a
whole epoch of any head takes about a second on one CPU core.
"""
import numpy as np, torch
from fastai.vision.all import *
from fastlandmarks.data import LandmarkBlock
from fastlandmarks.models import landmark_heads
from fastlandmarks.learner import landmark_learner
from fastlandmarks.datasets import target_tfms
from fastlandmarks.test_utils import make_dots, dots_dblock

SIZE, K, HM = 32, 6, 8              # image side, landmarks, heatmap side
FLIP_IDX = (1, 0, 3, 2, 4, 5)       # two left/right pairs, two landmarks on the axis
HEADS = list(landmark_heads)        # every head of fastlandmarks.models
HEATMAP_HEADS = [h for h in HEADS if landmark_heads[h].targets=='heatmaps']
BODY = 'resnet10t'                  # timm's smallest ResNet: ~5 M parameters, 1×1 features at 32 px
QUARTER_BODY = 'hrnet_w18_small'    # for heads that need features at 1/4 of the input (`LandmarkHead.body_stride`)
HEAD_KWARGS = dict(deconv=dict(n_deconv=3, channels=16), integral=dict(n_deconv=3, channels=16), query=dict(dim=16), hrnet=dict(proj_channels=16))


def dots_with_missing(n=32, share=0.2, seed=0):
    "`n` dots images and their points `(n, K, 2)` in pixels, a `share` of the landmarks missing (`NaN`), every image with some present"
    imgs, pts = make_dots(n, size=SIZE, k=K, seed=seed)
    rng = np.random.default_rng(seed)
    missing = rng.random(pts.shape[:2]) < share
    missing[:, 0] = False                # at least one present point per image, so that every image has a box
    pts = pts.copy(); pts[missing] = np.nan
    return imgs, pts


def head_dls(imgs, pts, head, augment=True, binary=False, bs=8, **kwargs):
    "`DataLoaders` of the dots `imgs`, `pts` for `head` (`test_utils.dots_dls` makes its own dots): `LandmarkBlock` targets, flips and rotations, then the head's targets"
    aug = aug_transforms(do_flip=True, max_rotate=20, max_zoom=1.1, max_warp=0.) if augment else []
    return dots_dblock(imgs, pts, block=LandmarkBlock(flip_idx=FLIP_IDX), batch_tfms=[*aug, *target_tfms(head, 'binary' if binary else 'gaussian', HM, sigma=1.)]
                      ).dataloaders(None, bs=bs, num_workers=0, **kwargs)


def head_learner(dls, head, **kwargs):
    "A small untrained learner with `head`: on timm's `resnet10t`, or an HRNet-W18-small for a head that needs features at 1/4"
    body = BODY if landmark_heads[head].body_stride is None else QUARTER_BODY
    return landmark_learner(dls, body, head, pretrained=False, head_kwargs=HEAD_KWARGS.get(head), **kwargs)


def state_hash(model)->str:
    "A hash of every parameter and buffer of `model`, in name order"
    import hashlib
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()): h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class CPUAutocast(Callback):
    "bfloat16 autocast on the CPU around the forward pass and the loss, where fastai's `MixedPrecision` puts CUDA's"
    order = MixedPrecision.order
    def before_batch(self): self.autocast = torch.autocast('cpu', dtype=torch.bfloat16); self.autocast.__enter__()
    def after_pred(self): self.learn.pred = to_float(self.pred)
    def after_loss(self): self.autocast.__exit__(None, None, None)
