"""Benchmark 4: accuracy at equal budget on synthetic faces: the heads, flip-aware landmarks, flip TTA; NME over seeds.

    python benchmarks/bench_accuracy.py [--device cuda] [--quick] [--seeds 3] [--epochs N] [--jobs J] [--setups 'A|B' --keep 1] [--out FILE.md]

Every setup uses the same body, cut at `--stride` (its feature levels up to 1/8 of the image by default): heatmap heads
need features that still say where things are, and a body pooled down to 1/32 of a 64-px image leaves a 2×2 map.
"""
import json, math, os, statistics, sys, time
import timm
from fastai.vision.all import *
from _common import bench_args, run_seeds, spread, write_result, table
from fastlandmarks.core import as_plain, scaled_to_pixels
from fastlandmarks.data import LandmarkBlock
from fastlandmarks.losses import gaussian_heatmap_loss
from fastlandmarks.metrics import nme
from fastlandmarks.learner import landmark_learner
from fastlandmarks.synthetic import synthetic_faces_dls
from fastlandmarks.tta import landmark_tta  # noqa: F401 (adds `Learner.landmark_tta`)
from fastlandmarks.transforms import HeatmapTransform, RandomBinaryHeatmapTransform, preds_to_points

# name: (head, target transform for a heatmap size, or None for points; flip-aware `LandmarkBlock` or stock `PointBlock`)
SETUPS = {
    'regression': ('regression', None, True),
    'Gaussian heatmaps': ('deconv', lambda s: HeatmapTransform(s, sigma=2.), True),
    'Gaussian heatmaps, plain MSE (`fg_weight=0`)': ('deconv', lambda s: HeatmapTransform(s, sigma=2.), True),
    'randomised rounding': ('deconv', RandomBinaryHeatmapTransform, True),
    'integral (soft-argmax)': ('integral', None, True),
    'SimCC (1-D classification, k=2)': ('simcc', None, True),
    'regression, stock `PointBlock`': ('regression', None, False),
}

LOSSES = {'Gaussian heatmaps, plain MSE (`fg_weight=0`)': partial(gaussian_heatmap_loss, fg_weight=0)}  # else the head's default


def faces_dls(args, targets, flip_aware:bool):
    "Synthetic faces with fastai's augmentation (flips included), through `LandmarkBlock` or stock `PointBlock`"
    tfms = [*aug_transforms()] + ([targets(heatmap_size(args))] if targets else [])
    return synthetic_faces_dls(n=args.images, size=args.size, bs=args.bs, block=LandmarkBlock('ibug68') if flip_aware else PointBlock,
                               batch_tfms=tfms, num_workers=0, device=args.device)


def heatmap_size(args)->int: return args.size//4


def body_levels(arch:str, stride:int)->tuple:
    "Indices of timm `arch`'s feature levels at a reduction of at most `stride`: the body cut there"
    reductions = timm.create_model(arch, features_only=True, pretrained=False).feature_info.reduction()
    return tuple(i for i,r in enumerate(reductions) if r<=stride)


def head_kwargs(args, head:str)->dict|None:
    "The deconvolution (and integral) head's settings: enough upsampling layers to take the body's features to heatmap size"
    if head not in ('deconv', 'integral'): return None
    return dict(channels=args.head_channels, n_deconv=int(math.log2(args.stride*heatmap_size(args)/args.size)))


def target_pixels(dl)->Tensor:
    "The annotated points `(N, K, 2)` of `dl`'s items, in image pixels, before any transform"
    return torch.stack([as_plain(y).float() for y in dl.dataset.tls[1]])


def predicted_pixels(learn, dl, size, tta:bool)->Tensor:
    "Predicted points `(N, K, 2)` in image pixels, decoded as the targets were made; with `tta`, flip TTA at coordinate level"
    with learn.no_bar():
        preds = learn.landmark_tta(dl=dl)[0] if tta else preds_to_points(learn.get_preds(dl=dl)[0], learn.dls)
    return scaled_to_pixels(as_plain(preds).float().cpu(), size)


def run(args, name:str, seed:int)->dict:
    "Train setup `name` from scratch with `seed`; its validation NME (IOD, %) without and with flip TTA, and its training time"
    head,targets,flip_aware = SETUPS[name]
    set_seed(seed, reproducible=True)
    dls = faces_dls(args, targets, flip_aware)
    learn = landmark_learner(dls, args.arch, head=head, pretrained=False, head_kwargs=head_kwargs(args, head),
                             body_kwargs=dict(out_indices=body_levels(args.arch, args.stride)), loss_func=LOSSES.get(name))
    t = time.perf_counter()
    with learn.no_logging(), learn.no_bar(): learn.fit_one_cycle(args.epochs, args.lr)
    seconds = time.perf_counter() - t
    targ = target_pixels(dls.valid)
    def score(tta): return 100*nme(predicted_pixels(learn, dls.valid, args.size, tta), targ, 'iod', 'ibug68').nanmean().item()
    return dict(setup=name, seed=seed, nme=score(False), nme_tta=score(True) if flip_aware else None, train_s=seconds)


def mean_shape_nme(args)->float:
    "NME (%) of predicting the mean training shape for every validation face: what a model that learnt nothing scores"
    dls = faces_dls(args, None, True)
    train,valid = target_pixels(dls.train),target_pixels(dls.valid)
    return 100*nme(train.nanmean(0).expand_as(valid), valid, 'iod', 'ibug68').nanmean().item()


def kept_runs(args, names)->list:
    "With `--keep 1`, the runs of the setups not in `names` from the result in `args.out`, refusing one made with other settings"
    fn = args.out.with_suffix('.json')
    if not args.keep or not fn.exists(): return []
    old = json.loads(fn.read_text())
    same = ('seeds', 'epochs', 'images', 'size', 'bs', 'arch', 'stride', 'head_channels', 'lr')
    if any(old['settings'].get(k)!=getattr(args, k) for k in same): sys.exit(f'--keep: {fn} was made with other settings: {old["settings"]}')
    return [r for r in old['runs'] if r['setup'] not in names]


def main():
    args = bench_args('accuracy', __doc__, seeds=(int, 3, 'training seeds per setup'), epochs=(int, 20, 'epochs per training'),
                      images=(int, 500, 'synthetic faces (20% for validation)'), size=(int, 64, 'image side in pixels'),
                      jobs=(int, None, 'training processes at once: 2 on the CPU, 1 on a GPU'),
                      bs=(int, 32, 'batch size'), arch=(str, 'lcnet_050', 'body: a timm name'),
                      stride=(int, 8, "where the body is cut: its feature levels up to this reduction of the image"),
                      head_channels=(int, 64, 'channels of the deconv and integral heads'), lr=(float, 2e-2, 'peak learning rate'),
                      setups=(str, None, f"setups to train, separated by '|' (their names have commas); all by default: {'|'.join(SETUPS)}"),
                      keep=(int, 0, "1: keep the other setups' runs from the result already in --out (same settings), train only --setups"))
    if args.quick: args.seeds,args.epochs,args.images,args.size,args.bs = 1,1,40,32,8
    args.jobs = args.jobs or (1 if args.device.type=='cuda' else min(2, os.cpu_count()))
    baseline = mean_shape_nme(args)  # makes the synthetic faces once, before the processes read them
    names = list(SETUPS) if args.setups is None else [n.strip() for n in args.setups.split('|') if n.strip()]
    if unknown := [n for n in names if n not in SETUPS]: sys.exit(f'unknown setups {unknown}: choose among {list(SETUPS)}')
    results = kept_runs(args, names) + run_seeds(run, args, names)
    results.sort(key=lambda r: (r['seed'], list(SETUPS).index(r['setup'])))
    by = {name:[r for r in results if r['setup']==name] for name in SETUPS if any(r['setup']==name for r in results)}
    rows = [[name, spread([r['nme'] for r in rs]), spread([r['nme_tta'] for r in rs]),
             f"{statistics.mean(r['train_s'] for r in rs)/args.epochs:.1f} s"] for name,rs in by.items()]
    rows.append(['no model: the mean training shape', f'{baseline:.2f}', '', ''])
    def paired(a, b, key='nme'):
        "Mean ± sd over seeds of setup `a`'s NME minus setup `b`'s, seed by seed"
        if a not in by or b not in by: return '— (not both measured)'
        return spread([x[key]-y[key] for x,y in zip(by[a], by[b])])
    hm = heatmap_size(args)
    body = f"""
Synthetic faces (`fastlandmarks.synthetic`, 68 iBUG landmarks, {args.images} faces, {int(args.images*0.2)} of them for
validation), {args.size} px, fastai's default `aug_transforms()` (flips included), batch {args.bs},
`fit_one_cycle({args.epochs}, {args.lr})`. Every setup has the same body, `{args.arch}` untrained, cut at 1/{args.stride} of
the image (timm `out_indices={body_levels(args.arch, args.stride)}`): its {args.size//args.stride}×{args.size//args.stride}
feature map goes to a head. (The whole body pools a 64-px image down to 2×2 cells, too coarse for a heatmap head: with it,
in an earlier version of this benchmark, Gaussian heatmaps did worse than the mean shape.) The regression head pools it into a linear layer; the heatmap heads are the deconvolution head
({args.head_channels} channels) making heatmaps of {hm}×{hm} (Gaussian σ = 2 cells, decoded by `decode_subpixel`, or
randomised rounding with `binary_heatmap_loss`, top-k decoding); the integral head is the same deconvolution with a
soft-argmax; SimCC (`head='simcc'`, `fastlandmarks.simcc`) classifies x and y over half-pixel bins from the flattened
feature map, trained with Gaussian 1-D labels (σ = 2 px) and a KL divergence. Every setup uses `landmark_learner`'s default loss for its head (for Gaussian heatmaps the foreground-weighted
`gaussian_heatmap_loss`), except the plain-MSE row, the loss before that weighting. The same data for every run; the seed
({args.seeds} of them) sets the initial weights and the augmentation. NME is the validation mean of each face's error over
its inter-ocular distance, in %, as mean ± standard deviation over seeds (min–max); flip TTA averages the coordinates
predicted on the image and on its mirror, un-mirrored and re-indexed (`landmark_tta`). Runs go {args.jobs} at a time, one
torch thread each, so the time per epoch is that of one core shared with another run.

{table(['setup', 'NME (IOD, %)', 'with flip TTA', 'training time per epoch'], rows)}

Differences seed by seed (same seed, same data), NME points; negative means the first is more accurate:
- `LandmarkBlock` − stock `PointBlock`, both with flips (regression): {paired('regression', 'regression, stock `PointBlock`')}
- Gaussian heatmaps − regression: {paired('Gaussian heatmaps', 'regression')}
- Gaussian heatmaps, foreground-weighted − plain MSE: {paired('Gaussian heatmaps', 'Gaussian heatmaps, plain MSE (`fg_weight=0`)')}
- randomised rounding − regression: {paired('randomised rounding', 'regression')}
- integral − regression: {paired('integral (soft-argmax)', 'regression')}
- SimCC − regression: {paired('SimCC (1-D classification, k=2)', 'regression')}
- SimCC − integral: {paired('SimCC (1-D classification, k=2)', 'integral (soft-argmax)')}
- randomised rounding − Gaussian heatmaps: {paired('randomised rounding', 'Gaussian heatmaps')}
- flip TTA − none, every flip-aware setup: {spread([r['nme_tta']-r['nme'] for r in results if r['nme_tta'] is not None])}
"""
    write_result(args, f'Accuracy at equal budget on synthetic faces, {args.epochs} epochs', body, {'runs':results, 'mean_shape_nme':baseline, 'settings':{
        k:getattr(args, k) for k in ('seeds', 'epochs', 'images', 'size', 'bs', 'arch', 'stride', 'head_channels', 'lr', 'jobs')}})


if __name__ == '__main__': main()
