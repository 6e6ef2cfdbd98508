"""Benchmark 3: what heatmaps cost in training, and the share of a training step spent in augmentation and targets.

    python benchmarks/bench_pipeline.py [--device cuda] [--quick] [--out FILE.md]
"""
import statistics, time
from fastai.vision.all import *
from _common import bench_args, compare, sync, write_result, table, ms, ratio
from fastlandmarks.learner import landmark_learner
from fastlandmarks.test_utils import make_dots, dots_dblock
from fastlandmarks.transforms import HeatmapTransform, target_transform

GOAL = 0.10  # share of a training step in augmentation + target generation


class Timed:
    "A callable that keeps in `seconds` how long each call of `f` took, and otherwise behaves as `f`"
    def __init__(self, f, device): self.f,self.device,self.seconds = f,device,[]
    def __call__(self, *args):
        sync(self.device); t = time.perf_counter()
        res = self.f(*args)
        sync(self.device); self.seconds.append(time.perf_counter()-t)
        return res
    def __getattr__(self, name): return getattr(self.f, name)  # fastai reads `fs`, `decode`… of the pipeline it wraps


class SkipValidation(Callback):
    "Train only: an epoch without its validation pass"
    def before_validate(self): raise CancelValidException()


class StepTimes(SkipValidation):
    "Per training batch: seconds waiting for the batch (loading and batch transforms) and in the model step; skips validation"
    order = -100
    def __init__(self): self.wait,self.step = [],[]
    def _now(self): sync(self.dls.device or torch.device('cpu')); return time.perf_counter()
    def before_train(self): self.t = self._now()
    def before_batch(self): now = self._now(); self.wait.append(now-self.t); self.t = now
    def after_batch(self): now = self._now(); self.step.append(now-self.t); self.t = now


def dots_dls(n, size, k, bs, device, heatmap_size=None, sigma=1., num_workers=0):
    "`DataLoaders` of `n` dots images (at most 128 distinct ones) with fastai's augmentation, and point or Gaussian heatmap targets"
    tfms = [*aug_transforms()] + ([HeatmapTransform(heatmap_size, sigma)] if heatmap_size else [])
    imgs,pts = make_dots(min(n, 128), size, k, radius=2)
    idx = np.arange(n) % len(imgs)
    return dots_dblock(imgs[idx], pts[idx], batch_tfms=tfms, valid_pct=0.1).dataloaders(
        None, bs=bs, num_workers=num_workers, persistent_workers=num_workers>0, device=device)


def timed_epochs(learners:dict, device, rounds:int)->tuple:
    "Train each of `learners` one epoch per round, interleaved: epoch times, and seconds per batch in each part of a step"
    parts = {}
    for name,learn in learners.items():
        dl,tfm = learn.dls.train,target_transform(learn.dls)
        dl.after_batch = Timed(dl.after_batch, device)
        if tfm is not None: tfm.encode_points = Timed(tfm.encode_points, device)
        parts[name] = (StepTimes(), dl.after_batch, tfm.encode_points if tfm is not None else None)
    def epoch(learn, cb):
        def fit():
            with learn.no_logging(), learn.no_bar(): learn.fit(1, 1e-3, cbs=cb)
        return fit
    epochs = compare({n:epoch(learners[n], parts[n][0]) for n in learners}, device, rounds, warmup=0, base=list(learners)[0])
    shares = {}
    for name,(steps,tfms,targets) in parts.items():  # the first batch warms up: left out
        sh = dict(batches=len(steps.step)-1, tfms=statistics.mean(tfms.seconds[1:]), model=statistics.mean(steps.step[1:]),
                  targets=statistics.mean(targets.seconds[1:]) if targets else 0.)
        sh['load'] = statistics.mean(steps.wait[1:]) - sh['tfms']
        sh['total'] = sh['load'] + sh['tfms'] + sh['model']
        shares[name] = sh
    return epochs, shares


def main():
    args = bench_args('pipeline', __doc__, images=(int, None, 'images in the data set (10% go to validation, which is skipped)'))
    size,k,hm_size = (64,8,16) if args.quick else (128,68,32)
    bs = 32 if args.device.type=='cuda' else 8
    n = args.images or (24 if args.quick else 512 if args.device.type=='cuda' else 32)
    rounds = 1 if args.quick else 2
    dls = {'points, regression head': dots_dls(n, size, k, bs, args.device),
           'Gaussian heatmaps, U-Net head': dots_dls(n, size, k, bs, args.device, heatmap_size=hm_size)}
    learners = {name:landmark_learner(d, resnet18, head='unet' if 'heatmaps' in name else 'regression', pretrained=False)
                for name,d in dls.items()}
    epochs, shares = timed_epochs(learners, args.device, rounds)
    rows, data = [], []
    for name,sh in shares.items():
        e = epochs[name]
        rows.append([name, ms(e['s']), ratio(e['ratio']), ms(sh['total']/bs), ms(sh['load']), ms(sh['tfms']), ms(sh['targets']),
                     ms(sh['model']), f"{sh['tfms']/sh['total']:.1%}", f"{sh['targets']/sh['total']:.2%}"])
        data.append(dict(setup=name, epoch_s=e['s'], epoch_ratio=e['ratio'], images=n, batch_size=bs, **sh))
    worst = max(sh['tfms']/sh['total'] for sh in shares.values())
    verdict = 'met' if worst<GOAL else f'not met: {worst:.1%}'
    n_train = len(learners['points, regression head'].dls.train)*bs
    body = f"""
The same body (resnet18, untrained), images of {size} px, {k} landmarks (dots), batch {bs}, fastai's default
`aug_transforms()`, data loaded in the main process (`num_workers=0`); Gaussian heatmaps of {hm_size}×{hm_size} cells
(σ = 1) for the U-Net (fastai's `DynamicUnet`), whose {size}×{size} output `gaussian_heatmap_loss` averages down to
them; the regression head shrinks the body's features to a small grid and maps it to points with a linear layer. Both from `landmark_learner` with their default
losses (`gaussian_heatmap_loss`, `l1_coord_loss`).

An epoch is a training pass over {n_train} images ({n_train//bs} batches; validation skipped: `--images` sets the size
of the data set), timed in {rounds} interleaved round(s); "×" is the epoch time over the regression learner's in the
same round. The per-batch columns are means over those epochs' batches (the first left out as a warm-up), timed inside
fastai's loop: *loading* is items, item transforms and collation; *batch transforms* is fastai's `after_batch` pipeline
(int→float, the augmentation, and the heatmap targets); *targets* is the heatmap encoding alone, part of the batch
transforms; *model step* is forward, loss, backward and optimiser step. Shares are of the whole step (loading + batch
transforms + model step).

**Goal: augmentation + target generation under {GOAL:.0%} of a training step — {verdict}** (worst {worst:.1%}).

{table(['targets and head', 'epoch', '×', 'per image', 'loading', 'batch transforms', 'targets', 'model step', 'share of batch transforms', 'share of targets'], rows)}
"""
    write_result(args, 'Training pipeline: points against heatmaps', body, {'pipeline':data})


if __name__ == '__main__': main()
