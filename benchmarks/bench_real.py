"""Benchmark 5: real faces. Every head, stock fastai and dlib's shape predictor on HELEN-29, split by photo; NME in photo pixels.

    python benchmarks/bench_real.py [--data PATH] [--quick] [--seeds 3] [--epochs N] [--jobs J] [--setups A,B] [--out FILE.md]

The photos are not in the repository: `--data`, else `$FASTLANDMARKS_REAL_DATA`, else `../shared/data/helen29` (see
`_real.py`). Without them the benchmark says so and writes nothing.
"""
import argparse, json, os, statistics, sys, tempfile, time, warnings
from fastai.vision.all import *
from _common import HERE, bench_args, run_seeds, spread, write_result, table
from _real import face_files, face_points, find_real_data, real_report, split_by_photo, ENV_VAR
from fastlandmarks.models import RECIPE, landmark_presets
from fastlandmarks.export import export_onnx
from fastlandmarks.datasets import landmark_dataloaders
from fastlandmarks.inference import predict_landmarks
from fastlandmarks.losses import gaussian_heatmap_loss
from fastlandmarks.models import hrnet_body
from fastlandmarks.learner import landmark_learner
from fastlandmarks.boxes import grow_box, points_box, round_box
from fastlandmarks.transforms import target_transform

# key: (label, head, heatmap targets 'gaussian'/'binary' or None for points, flip-aware `LandmarkBlock` or stock `PointBlock`,
#       the loss when not the head's default)
SETUPS = {
    'regression':      ('regression', 'regression', None, True, None),
    'integral':        ('integral (soft-argmax)', 'integral', None, True, None),
    'query':           ('query (attention)', 'query', None, True, None),
    'simcc':           ('SimCC (1-D classification, k=2)', 'simcc', None, True, None),
    'deconv-gaussian': ('deconv, Gaussian', 'deconv', 'gaussian', True, None),
    'deconv-binary':   ('deconv, randomised rounding', 'deconv', 'binary', True, None),
    'hrnet-gaussian':  ('HRNet head, Gaussian', 'hrnet', 'gaussian', True, None),
    'hrnet-gaussian-mse': ('HRNet head, Gaussian, plain MSE (`fg_weight=0`: the loss before the fix)', 'hrnet', 'gaussian', True,
                           partial(gaussian_heatmap_loss, fg_weight=0)),
    'hrnet-binary':    ('HRNet head, randomised rounding', 'hrnet', 'binary', True, None),
    'unet-gaussian':   ('U-Net, Gaussian', 'unet', 'gaussian', True, None),
    'unet-binary':     ('U-Net, randomised rounding', 'unet', 'binary', True, None),
    'stock':           ('regression, stock fastai `PointBlock`', 'regression', None, False, None),
    'recipe':          ('the default recipe (`RECIPE`: what `fastlandmarks train` does when told nothing)', RECIPE['head'], RECIPE['target'], True, None),
    'fast':            ("the `fast` preset (`--preset fast`), and its int8 graph", landmark_presets['fast']['head'], landmark_presets['fast']['target'], True, None),
}
PRESETS = [k for k in SETUPS if k in landmark_presets]  # setups that train with a preset's own settings, not the benchmark's budget


def body(args):
    "The body every setup shares: `args.arch`, one of timm's HRNets, from scratch"
    return hrnet_body(args.arch, pretrained=False)


def settings(args, key:str):
    "The run's settings: the benchmark's, or for a preset (`PRESETS`) its own (at the toy size and length of `--quick`)"
    if key not in PRESETS: return args
    toy = {k:getattr(args, k) for k in ('size', 'heatmap_size', 'epochs')} if args.quick else {}
    return argparse.Namespace(**{**vars(args), **landmark_presets[key], **toy})


def real_dls(args, head:str, target, flip_aware:bool):
    "HELEN-29 through `landmark_dataloaders`, split by photo: the faces of every 5th source photo (sorted by name) for validation"
    valid = {f.name for f in split_by_photo(face_files(args.data))[1]}
    return landmark_dataloaders(args.data, 'pts', 'helen29', size=args.size, head=head, target=target or 'gaussian', heatmap_size=args.heatmap_size,
                                sigma=args.sigma, bs=args.bs,
                                splitter=FuncSplitter(lambda f: Path(f).name in valid), block=None if flip_aware else PointBlock,
                                num_workers=0)


def photo_report(learn, files)->dict:
    "`real_report` of `learn`'s predictions in the photos' own pixels, each face given the box of its annotated landmarks"
    targs = face_points(files)
    with learn.no_bar(): preds = predict_landmarks(learn, files, points_box(targs))
    return real_report(preds, targs)


def train_setup(args, key:str, seed:int)->tuple:
    "Setup `key` trained from scratch with `seed` on the training photos: the learner and the seconds it took"
    _,head,target,flip_aware,loss = SETUPS[key]
    a = settings(args, key)
    set_seed(seed, reproducible=True)
    dls = real_dls(a, head, target, flip_aware)
    learn = landmark_learner(dls, body(a), head, pretrained=False, loss_func=loss)
    t = time.perf_counter()
    with learn.no_logging(), learn.no_bar(): learn.fit_one_cycle(a.epochs, a.lr)
    return learn, time.perf_counter() - t


def run(args, key:str, seed:int)->dict:
    "Train setup `key` from scratch with `seed`: its figures on the held-out photos and its training time"
    learn,seconds = train_setup(args, key, seed)
    test = split_by_photo(face_files(args.data))[1]
    return dict(setup=key, seed=seed, **photo_report(learn, test), train_s=seconds, epochs=settings(args, key).epochs,
                **({} if SETUPS[key][2] is None else {'nme_at_output': output_resolution_nme(learn, test)}),
                **({'int8': int8_check(learn)} if key in PRESETS else {}))  # a preset is what a user ships, int8 included


def int8_check(learn)->dict:
    "`export_onnx(quantize='int8')`'s check of `learn`: NME of the float32 and int8 graphs on the validation crops (input pixels, IOD) and the change"
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the change is reported, over the threshold or not
        export_onnx(learn, Path(d)/'int8.onnx', quantize='int8', on_exceed='warn')
    return learn.int8_check


def output_resolution_nme(learn, files)->float:
    "The NME of `learn` with its heatmaps decoded at the model's own output resolution, as before they were decoded at the targets' size"
    tfm = target_transform(learn.dls)
    tfm.at_target_size = noop  # on this instance only
    try: return photo_report(learn, files)['nme']
    finally: del tfm.at_target_size


def crop_frame(pts:Tensor)->tuple:
    "Each face's landmarks as fractions of its training crop (the landmarks' box grown by 25% and squared), and the crops"
    boxes = round_box(grow_box(points_box(pts), 0.25, True))
    return (pts-boxes[:,None,:2])/(boxes[:,None,2:]-boxes[:,None,:2]), boxes


def mean_shape_report(args)->dict:
    "`real_report` of the mean training shape placed in each validation face's crop: what a model that learnt nothing scores"
    train,test = split_by_photo(face_files(args.data))
    mean,_ = crop_frame(face_points(train))
    targs = face_points(test)
    _,boxes = crop_frame(targs)
    return real_report(mean.nanmean(0)*(boxes[:,None,2:]-boxes[:,None,:2]) + boxes[:,None,:2], targs)


def dlib_report(args)->dict|None:
    "dlib's shape predictor trained and measured on the same split (a toy one with `--quick`), or `None`, saying why, without dlib"
    from _dlib_peer import dlib_peer
    toy = dict(cascade_depth=2, num_trees_per_cascade_level=5, oversampling_amount=1) if args.quick else {}
    try: return dlib_peer(args.data, num_threads=args.jobs, **toy)
    except ImportError as e: print(f'dlib peer skipped: {e}'); return None


def ced_plot(fn:Path, curves:dict, limit=15.)->Path:
    "Cumulative error distributions (share of faces with NME at most x %) of `curves` (label -> per-face NMEs in %), to `fn`"
    fig,ax = plt.subplots(figsize=(6,4))
    xs = np.linspace(0, limit, 301)
    for label,errs in curves.items():
        e = np.asarray(errs)
        ax.plot(xs, (e[None]<=xs[:,None]).mean(1), label=f'{label}: NME {e.mean():.2f}%')
    ax.set_xlabel('NME (% of the outer-eye-corner distance)'); ax.set_ylabel('share of faces'); ax.set_ylim(0, 1)
    ax.grid(alpha=0.3); ax.legend(fontsize=8, loc='lower right'); ax.set_title('HELEN-29, held-out photos')
    fn.parent.mkdir(parents=True, exist_ok=True); fig.tight_layout(); fig.savefig(fn, dpi=100); plt.close(fig)
    return fn


def mean_nme(runs)->float: return statistics.mean(r['nme'] for r in runs)


def best_setup(by:dict)->str|None:
    "The fastlandmarks setup with the lowest mean NME over its seeds at the benchmark's equal budget"
    return min((k for k in by if k not in ('stock', *PRESETS)), key=lambda k: mean_nme(by[k]), default=None)


def heatmap_setups(keys)->list:
    "The setups among `keys` that train a heatmap head with its default loss at the benchmark's budget (the ablation of the loss and the presets left out)"
    return [k for k in keys if SETUPS[k][2] is not None and SETUPS[k][4] is None and k not in PRESETS]


def seed_checks(by:dict)->list:
    "The issue's bar, seed by seed: every heatmap head (with its default loss) beats regression, and the best setup's NME is at most 1/4 of stock fastai's"
    nme = {k:[r['nme'] for r in rs] for k,rs in by.items()}
    lines = []
    if 'regression' in nme:
        for k in heatmap_setups(nme):
            diffs = [a-b for a,b in zip(nme[k], nme['regression'])]
            lines.append(f"{SETUPS[k][0]} − regression: {spread(diffs)} NME points; more accurate on {sum(d<0 for d in diffs)} of {len(diffs)} seeds")
    for k,rs in by.items():
        if any(abs(r.get('nme_at_output', r['nme'])-r['nme'])>1e-6 for r in rs):
            lines.append(f"{SETUPS[k][0]}, its finer heatmaps decoded at their own resolution instead of the targets' "
                         f"(as before `at_target_size`): {spread([r['nme_at_output'] for r in rs])} NME, against {spread(nme[k])}")
    for k in PRESETS:
        rs = [r for r in by.get(k, []) if 'int8' in r]
        if not rs: continue
        ch = [r['int8']['change'] for r in rs]
        lines.append(f"the `{k}` preset's int8 graph (`export_onnx(quantize='int8')`) against its float32 graph on the validation crops: "
                     f"{spread(ch, '.3f')} NME points, against the export's threshold of +{rs[0]['int8']['max_nme_change']:g} by default"
                     f" (`max_nme_change`); NME of the int8 graph {spread([r['nme']+c for r,c in zip(rs, ch)])} on the held-out photos")
    best = best_setup(by)
    if best and 'stock' in nme:
        ratios = [a/b for a,b in zip(nme[best], nme['stock'])]
        lines.append(f"the best, {SETUPS[best][0]}, over stock fastai: {spread(ratios, '.3f')} of its NME; "
                     f"at most 1/4 on {sum(r<=0.25 for r in ratios)} of {len(ratios)} seeds")
    return lines


def figures(r:dict)->list:
    "A single run's NME, median, AUC and failure rate as table cells"
    return [f"{r['nme']:.2f}", f"{r['median_nme']:.2f}", f"{r['auc8']:.1f}", f"{r['fr10']:.1f}"]


def report_body(args, keys, results, base, peer)->str:
    "The result section: the table, the seed-by-seed checks, the gap to dlib and the CED of the best against stock fastai and dlib"
    by = {k:[r for r in results if r['setup']==k] for k in keys}
    rows = [[SETUPS[k][0], *(spread([r[m] for r in rs], f) for m,f in (('nme','.2f'), ('median_nme','.2f'), ('auc8','.1f'), ('fr10','.1f'))),
             str(rs[0]['epochs']), f"{statistics.mean(r['train_s']/r['epochs'] for r in rs):.1f} s"] for k,rs in by.items()]
    rows.append(['no model: the mean training shape in each crop', *figures(base), '', ''])
    if peer: rows.append([f"dlib's shape predictor, its own trainer", *figures(peer), '',
                          f"{peer['train_s']:.0f} s to train ({args.jobs} threads), {peer['predict_ms']:.1f} ms a face"])
    best = best_setup(by)
    curves = {SETUPS[k][0]: by[k][0]['errors'] for k in dict.fromkeys([best, 'stock']) if k in by}
    if peer: curves["dlib's shape predictor"] = peer['errors']
    png = ced_plot(args.out.with_suffix('.png'), curves)
    link = png.resolve().relative_to(HERE.resolve()) if png.resolve().is_relative_to(HERE.resolve()) else png  # as REPORT.md sees it
    gap = '' if not (peer and best) else (
        f"\n\nAgainst dlib: the best setup, {SETUPS[best][0]}, reaches {mean_nme(by[best]):.2f}% NME, "
        f"{mean_nme(by[best])/peer['nme']:.2f}× dlib's {peer['nme']:.2f}%.")
    n_train,n_test = map(len, split_by_photo(face_files(args.data)))
    presets = ''.join(f" The row of the `{k}` preset trains with its own settings, `landmark_presets['{k}']` = `{landmark_presets[k]}` "
                      "(`fastlandmarks.models`), on the same faces, from scratch." for k in PRESETS if k in by)
    return f"""
HELEN-29 (Le et al. 2012; 29 LFPW landmarks placed by Zhou, Brandt and Lin, ICCV 2013): {n_train} training faces and
{n_test} validation faces, split by source photo (the faces of every 5th photo, sorted by name, are held out). Every
network is trained from scratch on the faces cropped to their landmarks' box grown by 25% and squared, squished to
{args.size} px, with `landmark_dataloaders`' augmentation (flips, rotation up to 20°, zoom up to 1.1), batch {args.bs},
`fit_one_cycle({args.epochs}, {args.lr})`, each head with `landmark_learner`'s default loss. They share one body,
`{args.arch}` from scratch: its HRNetV2 representation at 1/4 of the input, or for the U-Net its four branches, which
`UnetHead` decodes from 1/32 up to 1/4. Heatmaps are {args.heatmap_size}×{args.heatmap_size}: Gaussian (σ = {args.sigma} cells, the
foreground-weighted `gaussian_heatmap_loss`) or randomised rounding (`binary_heatmap_loss`); the deconvolution and
integral heads map the features to heatmaps with one 1×1 convolution, the features being at heatmap resolution already.
Errors are measured in the photos' own pixels through `predict_landmarks`, each face given its annotated landmarks' box,
and normalised by the outer-eye-corner distance; mean ± standard deviation over {args.seeds} seeds (min–max). A face
fails when its NME is over 10%. dlib's shape predictor (Kazemi & Sullivan 2014) is trained with its own trainer
(oversampling 20, otherwise its defaults) on the same training faces, each in its landmarks' box grown by 10%, and
measured the same way. Runs go {args.jobs} at a time, one torch thread each.{presets}

{table(['setup', 'NME (%)', 'median NME (%)', 'AUC@8% (%)', 'failure rate @10% (%)', 'epochs', 'training time per epoch'], rows)}

Seed by seed:
{chr(10).join(f'- {l}' for l in seed_checks(by))}{gap}

![Cumulative error distributions on the held-out faces, seed 0]({link})
"""


def kept_runs(args, keys)->list:
    "With `--keep 1`, the runs of the setups not in `keys` from the result in `args.out`, refusing one made with other settings"
    fn = args.out.with_suffix('.json')
    if not args.keep or not fn.exists(): return []
    old = json.loads(fn.read_text())
    same = ('seeds', 'epochs', 'size', 'heatmap_size', 'sigma', 'bs', 'arch', 'lr')
    if any(old['settings'].get(k)!=getattr(args, k) for k in same): sys.exit(f'--keep: {fn} was made with other settings: {old["settings"]}')
    return [r for r in old['runs'] if r['setup'] not in keys]


def training_options(seeds:int, setups)->dict:
    "The command-line options of a benchmark that trains `bench_real.py`'s setups: data, budget, body, and which setups"
    return dict(data=(str, None, f'the HELEN-29 folder (default: ${ENV_VAR}, else ../shared/data/helen29)'),
                seeds=(int, seeds, 'training seeds per setup'), epochs=(int, 20, 'epochs per training'),
                size=(int, 96, 'input side in pixels'), heatmap_size=(int, 24, 'heatmap side in cells'),
                sigma=(float, 1.5, 'Gaussian sigma in heatmap cells'), bs=(int, 16, 'batch size'),
                jobs=(int, None, 'training processes at once: 2 on the CPU, 1 on a GPU'),
                arch=(str, 'hrnet_w18_small', "the body: one of timm's HRNets"), lr=(float, 2e-3, 'peak learning rate'),
                setups=(str, ','.join(setups), f"comma-separated setups to train, among {','.join(SETUPS)}"),
                keep=(int, 0, "1: keep the other setups' runs from the result already in --out (same settings), retrain only --setups"))


def main():
    args = bench_args('real', __doc__, **training_options(3, SETUPS))
    found = find_real_data(args.data)
    if found is None:
        print(f'no real faces: pass --data PATH (a folder of HELEN-29 .jpg + .pts) or set {ENV_VAR}; nothing written'); return
    args.data = str(found)
    if args.quick: args.seeds,args.epochs,args.size,args.heatmap_size,args.setups = 1,1,32,8,'regression,hrnet-gaussian,stock,recipe,fast'
    args.jobs = args.jobs or (1 if args.device.type=='cuda' else min(2, os.cpu_count()))
    keys = [k.strip() for k in args.setups.split(',') if k.strip()]  # none, with --keep 1: only write the report again
    unknown = [k for k in keys if k not in SETUPS]
    if unknown: sys.exit(f'unknown setups {unknown}: choose among {list(SETUPS)}')
    base,peer = mean_shape_report(args),dlib_report(args)
    results = kept_runs(args, keys) + run_seeds(run, args, keys)
    keys = list(dict.fromkeys(k for k in SETUPS if k in {r['setup'] for r in results}))
    write_result(args, f'Real faces: HELEN-29, {args.epochs} epochs', report_body(args, keys, results, base, peer),
                 {'runs':results, 'mean_shape':base, 'dlib':peer,
                  'settings':{k:getattr(args, k) for k in ('seeds', 'epochs', 'size', 'heatmap_size', 'sigma', 'bs', 'arch', 'lr', 'jobs', 'setups')}})


if __name__ == '__main__': main()
