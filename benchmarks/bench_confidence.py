"""Benchmark 7: what each head's per-landmark confidence says, on HELEN-29's held-out photos.

    python benchmarks/bench_confidence.py [--data PATH] [--quick] [--seeds 1] [--epochs N] [--jobs J] [--setups A,B] [--keep 1] [--out FILE.md]

Each setup is trained as `bench_real.py` trains it (same split by photo, body, size, epochs and loss), then predicts the
held-out faces in their photos' pixels, each face in its annotated landmarks' box, with `predict_faces`, which gives every
landmark its head's confidence (`landmark_heads[head].confidence`). For every landmark, its error is normalised by the
outer-eye-corner distance; `confidence_quality` gives Spearman's rank correlation between confidence and error (negative
when low confidence goes with large error) and the AUROC of low confidence for the landmarks whose error is above 10%.
The same for each face: its mean confidence against its NME. The photos are not in the repository: `--data`, else
`$FASTLANDMARKS_REAL_DATA`, else `../shared/data/helen29`; without them the benchmark says so and writes nothing.
"""
import os, statistics, sys
import torch
from _common import HERE, bench_args, run_seeds, spread, table, write_result
from _real import face_files, face_points, find_real_data, split_by_photo, ENV_VAR
from bench_real import SETUPS, kept_runs, train_setup, training_options
from fastlandmarks.inference import predict_faces
from fastlandmarks.metrics import confidence_quality, point_errors
from fastlandmarks.models import landmark_heads
from fastlandmarks.boxes import points_box

# One setup per head, both heatmap scorings among them: randomised-rounding logits (their mass near the peak) and
# Gaussian maps (the fitted peak's height)
DEFAULT_SETUPS = ('hrnet-binary', 'unet-binary', 'deconv-gaussian', 'integral', 'regression', 'query', 'simcc')
THRESHOLD = 0.1


def run(args, key:str, seed:int)->dict:
    "Train setup `key` with `seed`, then how its confidences rank its errors on the held-out faces, landmark by landmark and face by face"
    learn,_ = train_setup(args, key, seed)
    test = split_by_photo(face_files(args.data))[1]
    targs = face_points(test)
    with learn.no_bar(): faces = [fs[0] for fs in predict_faces(learn, test, points_box(targs))]
    conf = torch.stack([f.confidence for f in faces])
    errs = point_errors(torch.stack([f.points for f in faces]), targs, 'iod', 'helen29')
    return dict(setup=key, seed=seed, head=SETUPS[key][1], nme=100*float(errs.nanmean()),
                landmarks=confidence_quality(conf, errs, THRESHOLD),
                faces=confidence_quality(conf.mean(-1), errs.nanmean(-1), THRESHOLD))


def scoring(head:str)->str:
    "What the head's confidence is made of: the name of its confidence function"
    return f"`{landmark_heads[head].confidence.__name__}`"


def report_body(args, keys, results)->str:
    "The table: per setup, the NME and how well its confidences rank the errors, of landmarks and of faces"
    by = {k:[r for r in results if r['setup']==k] for k in keys}
    rows = [[SETUPS[k][0], scoring(rs[0]['head']), spread([r['nme'] for r in rs]),
             *(spread([r[level][m] for r in rs], f) for level in ('landmarks', 'faces') for m,f in (('spearman', '.3f'), ('auroc', '.3f'))),
             spread([r['landmarks']['failure_share'] for r in rs], '.1f')] for k,rs in by.items()]
    ranks = [f"{SETUPS[k][0]}: ρ < 0 and AUROC > 0.5 on {sum(r['landmarks']['spearman']<0 and r['landmarks']['auroc']>0.5 for r in rs)} "
             f"of {len(rs)} seeds" for k,rs in by.items()]
    return f"""
Each setup trained as in the real-faces benchmark ({args.epochs} epochs, {args.size} px, `{args.arch}` from scratch, its
head's default loss), then measured on the {results[0]['landmarks']['n_points']//29} held-out faces in their photos' pixels. Per landmark:
Spearman's ρ between the confidence and the error (inter-ocular), and the AUROC of low confidence for the landmarks
whose error is above {THRESHOLD:.0%} (their share in the last column); per face, the same with the face's mean
confidence and its NME. ρ below 0 and AUROC above 0.5 mean that lower confidence goes with larger error. Mean ± standard
deviation over {args.seeds} seed(s) (min–max).

{table(['setup', 'confidence', 'NME (%)', 'landmarks: ρ', 'landmarks: AUROC', 'faces: ρ', 'faces: AUROC', 'landmarks failing (%)'], rows)}

{chr(10).join(f'- {l}' for l in ranks)}
"""


def main():
    args = bench_args('confidence', __doc__.splitlines()[0], **training_options(1, DEFAULT_SETUPS))
    found = find_real_data(args.data)
    if found is None:
        print(f'no real faces: pass --data PATH (a folder of HELEN-29 .jpg + .pts) or set {ENV_VAR}; nothing written'); return
    args.data = str(found)
    if '--out' not in sys.argv and not args.quick: args.out = HERE/'real'/'confidence_cpu.md'  # committed, as real/: its photos are not
    if args.quick: args.seeds,args.epochs,args.size,args.heatmap_size,args.setups = 1,1,32,8,'hrnet-binary,integral,regression'
    args.jobs = args.jobs or (1 if args.device.type=='cuda' else min(2, os.cpu_count()))
    keys = [k.strip() for k in args.setups.split(',') if k.strip()]
    unknown = [k for k in keys if k not in SETUPS]
    if unknown: sys.exit(f'unknown setups {unknown}: choose among {list(SETUPS)}')
    results = kept_runs(args, keys) + run_seeds(run, args, keys)
    keys = list(dict.fromkeys(k for k in SETUPS if k in {r['setup'] for r in results}))
    write_result(args, f'Confidence per landmark: HELEN-29, {args.epochs} epochs', report_body(args, keys, results),
                 {'runs':results, 'settings':{k:getattr(args, k) for k in ('seeds', 'epochs', 'size', 'heatmap_size', 'sigma', 'bs', 'arch', 'lr')}})


if __name__ == '__main__': main()
