"""One rank of the 2-process CPU training of `test_distributed.py`: every head, one epoch, fastai's distributed trainer.

Run by `python -m torch.distributed.run --standalone --nproc_per_node 2 tests/distributed_worker.py OUT_DIR`; each rank
writes `OUT_DIR/rank<r>.json` with, per head, hashes of its weights before and after training and its training steps,
then, for a coordinate and a heatmap head trained with the `NME` metric, the NME it recorded (or the error it met) and the
NME of the whole validation set computed in this process alone.

fastai's `DistributedTrainer` (what `learn.distrib_ctx()` adds) runs on Hugging Face accelerate, which handles CPU processes
with the gloo backend when asked (`cpu=True`). Its data loader, `DistributedDL`, broadcasts the shuffled indices of each
epoch as a CUDA tensor (NCCL needs one), so on CPUs we subclass it to broadcast a CPU tensor: everything else is fastai's.
SyncBatchNorm is CUDA-only, so `sync_bn=False`.
"""
import json, os, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from fastai.vision.all import *
from fastai.distributed import DistributedDL, DistributedTrainer, rank_distrib, num_distrib
sys.path.insert(0, str(Path(__file__).parent))
from reliability_utils import HEADS, dots_with_missing, head_dls, head_learner, state_hash
from fastlandmarks.transforms import preds_to_points, targs_to_points
from fastlandmarks.metrics import NME, nme


class GlooDistributedDL(DistributedDL):
    "fastai's `DistributedDL`, broadcasting each epoch's indices as a CPU tensor, which the gloo backend needs"
    def _broadcast(self, t, rank):
        t = torch.tensor(t, dtype=torch.long)
        torch.distributed.broadcast(t, rank)
        return t.tolist()

class GlooDistributedTrainer(DistributedTrainer):
    "fastai's `DistributedTrainer` on CPU processes: accelerate on gloo, no SyncBatchNorm"
    def __init__(self, **kwargs): super().__init__(sync_bn=False, cpu=True, **kwargs)
    def _wrap_dl(self, dl): return dl if isinstance(dl, DistributedDL) else GlooDistributedDL(dl, device=self.learn.model.device)


def train(head:str)->dict:
    "Train `head` for one epoch on this rank, from weights seeded by the rank (the trainer must make them agree)"
    imgs, pts = dots_with_missing(32)       # the same data, and the same split, on every rank
    dls = head_dls(imgs, pts, head, bs=4)
    set_seed(rank_distrib())
    learn = head_learner(dls, head)
    before = state_hash(learn.model)
    learn.add_cb(GlooDistributedTrainer())
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    learn.remove_cb(GlooDistributedTrainer)
    return dict(before=before, after=state_hash(learn.model), steps=learn.train_iter, batches=len(dls.train),
                losses=[float(v) for v in learn.recorder.values[-1]])


def validation_nme(learn, dls)->float:
    "NME (%, box norm) of the whole validation set, computed in this process alone"
    model = learn.model.eval()
    with torch.no_grad():
        pairs = [(preds_to_points(model(xb), dls), targs_to_points(yb, dls)) for xb,yb in dls.valid]
    return 100*float(nme(torch.cat([p for p,_ in pairs]), torch.cat([t for _,t in pairs]), 'bbox').nanmean())

def metric(head:str)->dict:
    "The NME recorded by one epoch of distributed training, or the error met, and that of the whole validation set"
    imgs, pts = dots_with_missing(32)
    dls = head_dls(imgs, pts, head, bs=4)
    set_seed(0)
    learn = head_learner(dls, head, metrics=NME('bbox'))
    learn.add_cb(GlooDistributedTrainer())
    try:
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    except Exception as e: return dict(error=f'{type(e).__name__}: {e}'[:500])
    finally: learn.remove_cb(GlooDistributedTrainer)
    return dict(recorded=float(learn.recorder.values[-1][-1]), whole=validation_nme(learn, dls))


if __name__ == '__main__':
    assert num_distrib()==2, "launch with 2 processes: python -m torch.distributed.run --standalone --nproc_per_node 2 ..."
    res = {head: train(head) for head in HEADS}
    res['metrics'] = {head: metric(head) for head in ('regression', 'deconv')}
    Path(sys.argv[1], f'rank{rank_distrib()}.json').write_text(json.dumps(res))
