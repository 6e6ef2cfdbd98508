"""Benchmark 7: NME on real faces for each head × body at a small budget, for the speed–accuracy picture of `bench_latency.py`.

    python benchmarks/bench_speed_accuracy.py [--data PATH] [--epochs 10] [--bodies A,B] [--heads A,B] [--out FILE.md]
    python benchmarks/bench_latency.py --accuracy benchmarks/latency/accuracy_cpu.json   # then: the picture and the frontier

HELEN-29 split by photo as in `bench_real.py` (the same DataLoaders, boxes and NME in the photos' own pixels), from
scratch, one seed, `fit_one_cycle(epochs, lr)`; heatmap heads on randomised-rounding targets (the recipe's), the HRNet
head on HRNet bodies only. dlib's shape predictor is trained and measured on the same split in the same run.
"""
import sys, time
from fastai.vision.all import *
from _common import HERE, bench_args, table, write_result
from _real import face_files, find_real_data, split_by_photo, ENV_VAR
from bench_real import dlib_report, int8_check, photo_report, real_dls
from fastlandmarks.learner import landmark_learner

BODIES = ('mobilenetv3_small_100', 'resnet18', 'hrnet_w18_small')
HEADS = ('regression', 'integral', 'simcc', 'deconv', 'hrnet')
TARGETS = {'deconv': 'binary', 'hrnet': 'binary', 'unet': 'binary'}  # heatmap heads: the recipe's targets; coordinate heads: points


def pairs(bodies, heads)->list:
    "The `(body, head)` pairs to train: every head on every body, the HRNet head on HRNet bodies only"
    return [(b, h) for b in bodies for h in heads if h!='hrnet' or b.startswith('hrnet')]


def run(args, body:str, head:str)->dict:
    "Train `head` on `body` from scratch: its NME on the held-out photos and its training time"
    set_seed(0, reproducible=True)
    dls = real_dls(args, head, TARGETS.get(head), True)
    learn = landmark_learner(dls, body, head=head, pretrained=False)
    t = time.perf_counter()
    with learn.no_logging(), learn.no_bar(): learn.fit_one_cycle(args.epochs, args.lr)
    seconds = time.perf_counter() - t
    rep = photo_report(learn, split_by_photo(face_files(args.data))[1])
    return dict(body=body, head=head, nme=rep['nme'], fr10=rep['fr10'], train_s=seconds, int8=int8_check(learn))


def main():
    args = bench_args('speed_accuracy', __doc__, data=(str, None, f'the HELEN-29 folder (default: ${ENV_VAR}, else ../shared/data/helen29)'),
                      epochs=(int, 10, 'epochs per training'), size=(int, 96, 'input side in pixels'),
                      heatmap_size=(int, 24, 'heatmap side in cells'), sigma=(float, 1.5, 'Gaussian sigma in heatmap cells (unused: binary targets)'),
                      bs=(int, 16, 'batch size'), lr=(float, 2e-3, 'peak learning rate'),
                      bodies=(str, ','.join(BODIES), 'comma-separated bodies'), heads=(str, ','.join(HEADS), 'comma-separated heads'))
    found = find_real_data(args.data)
    if found is None:
        print(f'no real faces: pass --data PATH (a folder of HELEN-29 .jpg + .pts) or set {ENV_VAR}; nothing written'); return
    args.data, args.jobs = str(found), 1
    if args.quick: args.epochs, args.size, args.heatmap_size, args.bodies, args.heads = 1, 64, 16, 'resnet18', 'regression,simcc'
    if args.out == HERE/'_out'/'speed_accuracy_cpu.md': args.out = HERE/'latency'/'accuracy_cpu.md'
    torch.set_num_threads(1)
    peer = dlib_report(args)
    results = []
    for body, head in pairs(args.bodies.split(','), args.heads.split(',')):
        results.append(run(args, body, head))
        print(results[-1], flush=True)
        write(args, results, peer)  # after every training: an interrupted run keeps what it measured


def refused(results)->str:
    "What the export does with the int8 graphs whose NME change exceeds its threshold"
    over = [f"{r['head']} on {r['body']} ({r['int8']['change']:+.2f})" for r in results if r['int8']['change'] > r['int8']['max_nme_change']]
    return '' if not over else (f" Over it: {', '.join(over)}; `export_onnx` refuses such a graph by default (`on_exceed='raise'`), "
                                "and the `fast` preset's pick (`bench_latency.py`) takes no int8 graph that went over.")


def write(args, results, peer):
    "The table of `results` so far, in `args.out` and its JSON"
    rows = [[r['body'], r['head'], f"{r['nme']:.2f}", f"{r['fr10']:.1f}", f"{r['int8']['nme_fp32']:.2f} → {r['int8']['nme_int8']:.2f} ({r['int8']['change']:+.2f})",
             f"{r['train_s']/args.epochs:.1f} s"] for r in results]
    if peer: rows.append(["dlib's shape predictor", '(trained on the same split)', f"{peer['nme']:.2f}", f"{peer['fr10']:.1f}", '', f"{peer['train_s']:.0f} s in all"])
    changes = [r['int8']['change'] for r in results]
    body = f"""
HELEN-29's held-out photos (split by photo, as `bench_real.py`), {args.size} px, from scratch, one seed,
`fit_one_cycle({args.epochs}, {args.lr})`, batch {args.bs}; heatmap heads on randomised-rounding targets of {args.heatmap_size}²
cells. NME over the outer-eye-corner distance in the photos' pixels, through `predict_landmarks` with the annotations' boxes.
A small budget, to place every head × body on the speed–accuracy picture (`bench_latency.py --accuracy`), not to rank
them finely: `bench_real.py` gives the 3-seed figures of the HRNet body.

The int8 column: `export_onnx(learn, path, quantize='int8')` (static QDQ, calibrated on 64 training crops), the NME of the
float32 and the int8 graph on the validation crops (input pixels, same normaliser) and the change. Over these
{len(changes)} models the change runs from {min(changes):+.2f} to {max(changes):+.2f} NME points, against the export's default
threshold of +0.5 (`max_nme_change`).{refused(results)}

{table(['body', 'head', 'NME %', 'failure rate @10% (%)', 'int8: NME float32 → int8 graph (change)', 'training time per epoch'], rows)}
"""
    write_result(args, f'Speed–accuracy trainings: HELEN-29, {args.epochs} epochs', body,
                 {'results': results, 'dlib': peer, 'settings': {k: getattr(args, k) for k in ('epochs', 'size', 'heatmap_size', 'bs', 'lr', 'bodies', 'heads')}})


if __name__ == '__main__': main()
