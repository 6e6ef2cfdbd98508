"""Benchmark 6: how fast a model answers on the CPU, against dlib's shape predictor timed in the same run.

    python benchmarks/bench_latency.py [--quick] [--repeats 7] [--heads A,B] [--bodies A,B] [--sizes 96,128] [--out FILE.md]
                                       [--keep 1] [--accuracy benchmarks/latency/accuracy_cpu.json [--replot 1]]

For each head of `landmark_heads` on a few bodies, at the input sizes the recipes use, with 29 landmarks (HELEN-29's),
untrained (`pretrained=False`: the time does not depend on the weights):
- one face on one thread: PyTorch eager, ONNX Runtime float32 and ONNX Runtime int8 (`export_onnx(..., quantize='int8')`'s
  graph, calibrated here on synthetic images: the time does not depend on the calibration either), decoder included;
- a batch of faces on every core (ONNX Runtime float32), as milliseconds a face;
- the parameters and the multiply-accumulates of one forward pass (`FlopCounterMode`'s FLOPs / 2).
Every time is also given as a ratio to dlib's 68-point shape predictor (the optional `bench` extra: `dlib-bin` and
`face-recognition-models`, whose package holds dlib's model file) on one face of scikit-image's astronaut photo, timed
in the same interleaved rounds (`_common.compare`), so that load from other processes hits both alike.

With `--accuracy FILE.json` (NME on HELEN-29's held-out photos: `bench_real.py`'s JSON, every head on one body at its
equal budget over seeds, or `bench_speed_accuracy.py`'s, head × body at a small budget), it also draws the speed–accuracy
picture (one-thread ONNX Runtime time against NME, the frontier marked) and picks the `fast` preset: the most accurate
model within twice dlib's time.
"""
import importlib.util, json, math, os, statistics, tempfile, time, warnings
from pathlib import Path
import numpy as np, torch
from fastai.vision.all import *
from torch.utils.flop_counter import FlopCounterMode
from _common import HERE, bench_args, compare, table, write_result
from fastlandmarks.data import LandmarkBlock
from fastlandmarks.export import export_onnx, landmark_predictor, onnx_session
from fastlandmarks.learner import landmark_learner
from fastlandmarks.models import landmark_heads, landmark_presets
from fastlandmarks.test_utils import astronaut, make_dots, dots_dblock
from fastlandmarks.transforms import RandomBinaryHeatmapTransform

K = 29                                    # HELEN-29's landmarks
BODIES = ('mobilenetv3_small_100', 'resnet18', 'hrnet_w18_small')
SIZES = (64, 96, 128)                     # the fast preset's input, bench_real's and the default recipe's
BATCH = 16                                # faces a batch for the throughput figure
TARGET_S = 0.05                           # each timed call repeats a figure's work to last about this long
ASTRONAUT_BOX = (170, 40, 290, 200)       # the astronaut's face, (x0, y0, x1, y1) in pixels


def dlib_predictor():
    "`(predictor, None)`: dlib's 68-point shape predictor; or `(None, why)` when the optional `bench` extra is missing"
    try: import dlib
    except ImportError: return None, 'dlib is not installed: pip install -e ".[bench]"'
    spec = importlib.util.find_spec('face_recognition_models')  # not imported: its __init__ needs setuptools' pkg_resources
    if spec is None: return None, 'the optional `bench` extra is missing (face-recognition-models holds dlib\'s 68-point model): pip install -e ".[bench]"'
    fn = Path(list(spec.submodule_search_locations)[0])/'models'/'shape_predictor_68_face_landmarks.dat'
    if not fn.exists(): return None, f'{fn} is missing: reinstall face-recognition-models'
    return dlib.shape_predictor(str(fn)), None


def dlib_face():
    "The astronaut photo (RGB) and the box of her face, a `dlib.rectangle`"
    import dlib
    img = np.ascontiguousarray(astronaut())
    return img, dlib.rectangle(*ASTRONAUT_BOX)


def learner(body:str, size:int, head:str):
    "An untrained learner for `head` on `body` at `size` px with K landmarks: synthetic dots give it its `DataLoaders`"
    imgs, pts = make_dots(16, size=size, k=K)
    tfms = [RandomBinaryHeatmapTransform(size//4)] if landmark_heads[head].targets=='heatmaps' else []  # the recipe's targets
    dls = dots_dblock(imgs, pts, block=LandmarkBlock(flip_idx=list(range(K))), batch_tfms=tfms).dataloaders(None, bs=8, num_workers=0)
    return landmark_learner(dls, body, head=head, pretrained=False)


def jitter(model:nn.Module, seed=0):
    "Perturb every parameter and BatchNorm statistic a little, in place. Untrained BatchNorms fold into identical zero biases, which the ONNX exporter shares between convolutions, and ONNX Runtime then leaves those convolutions unquantised: timings of a graph no trained model has"
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in [*model.parameters(), *(b for b in model.buffers() if b.is_floating_point())]:
            t.add_(0.01*torch.randn(t.shape, generator=g))


def macs(model, x)->float:
    "Multiply-accumulates of one forward pass of `model` on `x`: `FlopCounterMode`'s FLOPs / 2"
    with FlopCounterMode(display=False) as fc: model(x)  # with autograd on: its module tracker fails on QueryHead under no_grad
    return fc.get_total_flops()/2


def repeat(fn, seconds:float):
    "`fn` and how many times to call it in one timed round so that the round lasts about `seconds`"
    fn(); t = time.perf_counter(); fn(); one = time.perf_counter() - t
    n = max(1, round(seconds/max(one, 1e-6)))
    def many():
        for _ in range(n): fn()
    return many, n


def measure(args, body:str, size:int, head:str, dlib_call, tmp:Path)->dict:
    "Every figure of one model, timed in rounds interleaved with dlib's predictor"
    learn = learner(body, size, head)
    jitter(learn.model)
    model = landmark_predictor(learn)
    x1, xb = torch.randn(1, 3, size, size), torch.randn(BATCH, 3, size, size)
    fp32 = export_onnx(learn, tmp/'fp32.onnx')
    int8 = export_onnx(learn, tmp/'int8.onnx', quantize='int8', max_nme_change=math.inf)  # untrained: only its time counts here
    one, many_threads = onnx_session(fp32, threads=1), onnx_session(fp32, threads=os.cpu_count())
    one8 = onnx_session(int8, threads=1)
    feed1, feedb = {'images': x1.numpy()}, {'images': xb.numpy()}
    def eager():
        with torch.inference_mode(): model(x1)
    calls = {'torch': (eager, 1), 'ort_fp32': (lambda: one.run(None, feed1), 1), 'ort_int8': (lambda: one8.run(None, feed1), 1),
             'ort_batch': (lambda: many_threads.run(None, feedb), BATCH)}
    if dlib_call is not None: calls['dlib'] = (dlib_call, 1)
    fns, per = {}, {}
    for name, (fn, faces) in calls.items():
        fns[name], n = repeat(fn, TARGET_S)
        per[name] = n*faces  # faces a timed call answers
    res = compare(fns, torch.device('cpu'), args.repeats, base='dlib' if dlib_call is not None else None)
    row = dict(body=body, size=size, head=head, params=sum(p.numel() for p in learn.model.parameters()), macs=macs(model, x1),
               int8_bytes=int8.stat().st_size, fp32_bytes=fp32.stat().st_size)
    for name in calls:
        row[f'{name}_ms'] = 1e3*res[name]['s']/per[name]
        if dlib_call is not None: row[f'{name}_x_dlib'] = res[name]['ratio']*per['dlib']/per[name]
    return row


def frontier(points:list)->list:
    "The points `(ms, nme, label)` that no other point beats on both time and NME, fastest first"
    best, out = math.inf, []
    for p in sorted(points):
        if p[1] < best: out.append(p); best = p[1]
    return out


REAL_SETUPS = {'regression': 'regression', 'integral': 'integral', 'query': 'query', 'simcc': 'simcc', 'deconv-binary': 'deconv',
               'hrnet-binary': 'hrnet', 'unet-binary': 'unet'}  # bench_real's setup of each head on the targets timed here (randomised rounding)


def accuracy_results(d:dict)->dict:
    "The NME of each head × body from a `bench_speed_accuracy.py` JSON, or from a `bench_real.py` one (each head's mean over seeds)"
    if 'results' in d: return d
    st = d['settings']
    res = [dict(body=st['arch'], head=head, nme=statistics.mean(r['nme'] for r in d['runs'] if r['setup']==setup),
                seeds=sum(r['setup']==setup for r in d['runs']))
           for setup, head in REAL_SETUPS.items() if any(r['setup']==setup for r in d['runs'])]
    return dict(results=res, dlib=d['dlib'], settings=dict(size=st['size'], epochs=st['epochs'], seeds=st['seeds']))


def with_int8_changes(acc:dict, src:dict)->dict:
    "`acc` with the int8 NME change that `src` (a `bench_speed_accuracy.py` JSON) measured for the same head × body, where it did"
    changes = {(r['body'], r['head']): r['int8'] for r in src['results'] if 'int8' in r}
    for a in acc['results']:
        if (a['body'], a['head']) in changes and 'int8' not in a: a['int8'] = {**changes[a['body'], a['head']], 'from': src['settings']}
    return acc


MARGIN = 0.8  # the pick answers within this share of the bar: one int8 graph's ratio to dlib ran from under to over 2× in a day's runs here


def fastest_within(rows:list, acc:dict, times=2., margin=MARGIN)->dict|None:
    "The `fast` preset's pick: of the trained head × body models, the most accurate at the equal budget among those answering one face within `margin·times` dlib's time on one thread (the rounds' median ratio) at some input size of `rows`, at its largest such size; float32 where that is fast enough, else its int8 graph (only where its NME change was measured, and within the export's threshold)"
    best = None
    for a in acc['results']:
        timed = sorted((r for r in rows if (r['body'], r['head'])==(a['body'], a['head'])), key=lambda r: -r['size'])
        fits = [(r, engine, key) for r in timed for engine, key in (('float32', 'ort_fp32'), ('int8', 'ort_int8'))
                if r[f'{key}_x_dlib'] <= margin*times and (engine=='float32' or 'int8' in a and a['int8']['change'] <= a['int8']['max_nme_change'])]
        if not fits: continue
        r, engine, key = fits[0]
        pick = dict(body=a['body'], head=a['head'], size=r['size'], engine=engine, ms=r[f'{key}_ms'], x_dlib=r[f'{key}_x_dlib'],
                    nme=a['nme'] + (a['int8']['change'] if engine=='int8' else 0.), nme_size=acc['settings']['size'], bar=margin*times)
        if best is None or pick['nme'] < best['nme']: best = pick
    return best


def preset_figures(d:dict, rows:list)->dict|None:
    "The `fast` preset as trained with its own settings (`bench_real.py`'s `fast` runs in `d`): its NME over seeds, float32 and int8, and the time of its model in `rows`"
    runs = [r for r in d.get('runs', []) if r['setup']=='fast']
    p = landmark_presets['fast']
    lat = [r for r in rows if (r['body'], r['head'], r['size'])==(p['arch'], p['head'], p['size'])]
    if not runs or not lat or any('int8' not in r for r in runs): return None
    nme, changes = [r['nme'] for r in runs], [r['int8']['change'] for r in runs]
    return dict(seeds=len(runs), epochs=runs[0]['epochs'], nme=statistics.mean(nme), nme_sd=statistics.stdev(nme) if len(nme)>1 else 0.,
                nme_int8=statistics.mean(n+c for n,c in zip(nme, changes)), change_max=max(changes),
                max_nme_change=runs[0]['int8']['max_nme_change'], **{k: lat[0][k] for k in lat[0] if k.startswith('ort_')})


def speed_accuracy_plot(fn:Path, rows:list, acc:dict, dlib_ms:float|None)->dict:
    "Time a face (one thread, ONNX Runtime float32) against HELEN-29 NME for each trained head × body, dlib's point, the frontier"
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    size = acc['settings']['size']
    ms = {(r['body'], r['head']): r['ort_fp32_ms'] for r in rows if r['size']==size and 'ort_fp32_ms' in r}
    pts = [(ms[r['body'], r['head']], r['nme'], f"{r['head']} / {r['body']}") for r in acc['results'] if (r['body'], r['head']) in ms]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for t, e, label in pts: ax.scatter(t, e, s=25); ax.annotate(label, (t, e), fontsize=7, xytext=(3, 3), textcoords='offset points')
    front = frontier(pts)
    ax.plot([p[0] for p in front], [p[1] for p in front], 'k--', lw=1, label='frontier')
    peer = acc.get('dlib')
    if peer: ax.scatter(peer['predict_ms'], peer['nme'], marker='*', s=150, c='red', label=f"dlib, trained on HELEN-29 ({peer['predict_ms']:.2f} ms, timed in the trainings' run)")
    if dlib_ms: ax.axvline(2*dlib_ms, c='grey', ls=':', label=f"2× dlib's 68-point predictor ({2*dlib_ms:.2f} ms)")
    ax.set_xscale('log'); ax.set_xlabel(f'ms a face, one thread, ONNX Runtime float32, {size} px'); ax.set_ylabel('NME % (HELEN-29 held-out photos)')
    ax.grid(alpha=0.3, which='both'); ax.legend(fontsize=7); ax.set_title(f"Speed and accuracy ({acc['settings']['epochs']} epochs, from scratch"
                 + (f", mean of {acc['settings']['seeds']} seeds)" if 'seeds' in acc['settings'] else ", one seed)"))
    fn.parent.mkdir(parents=True, exist_ok=True); fig.tight_layout(); fig.savefig(fn, dpi=100); plt.close(fig)
    return dict(points=pts, frontier=front)


def main():
    args = bench_args('latency', __doc__, heads=(str, ','.join(landmark_heads), 'comma-separated heads'),
                      bodies=(str, ','.join(BODIES), 'comma-separated bodies (timm names)'),
                      sizes=(str, ','.join(map(str, SIZES)), 'comma-separated input sides in pixels'),
                      accuracy=(Path, None, 'NME of trained head × body models (bench_speed_accuracy.py JSON), for the speed–accuracy picture'),
                      replot=(int, 0, '1: take the timings from the result already in --out instead of measuring again (to add the picture)'),
                      keep=(int, 0, "1: keep the rows of the other heads × bodies × sizes from the result already in --out, measure only those asked for"),
                      int8_from=(Path, None, "a bench_speed_accuracy.py JSON: its int8 NME changes apply to --accuracy's models of the same head × body"))
    if args.device.type!='cpu': raise SystemExit('bench_latency measures the CPU only')
    heads, bodies, sizes = args.heads.split(','), args.bodies.split(','), [int(s) for s in args.sizes.split(',')]
    if args.quick: heads, bodies, sizes = ['regression', 'simcc'], ['resnet18'], [64]
    if args.out == HERE/'_out'/'latency_cpu.md': args.out = HERE/'latency'/'latency_cpu.md'  # committed: dlib is not in `make test`
    torch.set_num_threads(1)
    if args.replot:
        old = json.loads(args.out.with_suffix('.json').read_text())
        return report(args, old['latency'], old['dlib_ms'], old['dlib_missing'], old['settings']['sizes'], old.get('timed_on', old['machine']))
    predictor, missing = dlib_predictor()
    dlib_call = None
    if predictor is not None:
        img, rect = dlib_face()
        dlib_call = lambda: predictor(img, rect)
    else: print(f'dlib peer skipped: {missing}')
    rows = []
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for body in bodies:
            for size in sizes:
                for head in heads:
                    t = time.perf_counter()
                    try: rows.append(measure(args, body, size, head, dlib_call, Path(d)))
                    except Exception as e: rows.append(dict(body=body, size=size, head=head, error=f'{type(e).__name__}: {e}'[:300]))
                    print(f'{body} {size} {head}: {time.perf_counter()-t:.0f} s', rows[-1].get('error', ''), flush=True)
    if args.keep and args.out.with_suffix('.json').exists():
        asked = {(r['body'], r['size'], r['head']) for r in rows}
        rows = [r for r in json.loads(args.out.with_suffix('.json').read_text())['latency'] if (r['body'], r['size'], r['head']) not in asked] + rows
        sizes = sorted({r['size'] for r in rows})
    ok = [r for r in rows if 'error' not in r]
    report(args, rows, statistics.median(r['dlib_ms'] for r in ok) if dlib_call is not None and ok else None, missing, sizes)


def report(args, rows:list, dlib_ms, missing, sizes, timed_on=None):
    "Write the latency table (and with `--accuracy`, the speed–accuracy picture and its frontier)"
    order = lambda r: (BODIES.index(r['body']) if r['body'] in BODIES else len(BODIES), r['body'], r['size'],
                       list(landmark_heads).index(r['head']) if r['head'] in landmark_heads else len(landmark_heads))
    rows = sorted(rows, key=order)
    ok = [r for r in rows if 'error' not in r]
    def fig(r, k): return f"{r[f'{k}_ms']:.2f} ({r[f'{k}_x_dlib']:.1f}×)" if dlib_ms else f"{r[f'{k}_ms']:.2f}"
    table_rows = [[r['body'], r['size'], r['head'], f"{r['params']/1e6:.2f}", f"{r['macs']/1e6:,.0f}", fig(r, 'torch'), fig(r, 'ort_fp32'),
                   fig(r, 'ort_int8'), fig(r, 'ort_batch')] for r in ok]
    failed = [f"- {r['body']} {r['size']} px, {r['head']}: {r['error']}" for r in rows if 'error' in r]
    peer = (f"dlib's 68-point shape predictor answers one face in **{dlib_ms:.2f} ms** on one thread (median over the models' "
            f"rounds); the ratios in brackets are each figure over dlib's, measured round by round." if dlib_ms else
            f"**dlib was not measured: {missing}.** Times are absolute only.")
    plot = ''
    extra = {}
    if args.accuracy is not None:
        acc_json = json.loads(Path(args.accuracy).read_text())
        acc = accuracy_results(acc_json)
        if args.int8_from: with_int8_changes(acc, json.loads(Path(args.int8_from).read_text()))
        png = args.out.with_name('speed_accuracy.png')
        extra = speed_accuracy_plot(png, ok, acc, dlib_ms)
        front = ', '.join(f'{l} ({t:.2f} ms, {e:.2f}%)' for t, e, l in extra['frontier'])
        extra['fast'] = fast = fastest_within(ok, acc) if dlib_ms else None
        pick = (f"no trained model answers within {MARGIN*2:g}× dlib's time" if fast is None else
                f"the model picked (`fastest_within`: the most accurate head × body at the equal budget among those answering within "
                f"{fast['bar']:g}× dlib's time, a margin under the bar of 2× for the spread of timings, at its largest input that does) "
                f"is **{fast['head']} on {fast['body']}, {fast['size']} px**: {fast['ms']:.2f} ms, {fast['x_dlib']:.2f}× dlib's time in the "
                f"same rounds, with ONNX Runtime {fast['engine']}; at the equal budget ({fast['nme_size']} px) this head × body scores "
                f"NME {fast['nme']:.2f}% on the held-out photos"
                + (" (the float32 model's NME plus the change its int8 graph made in `bench_speed_accuracy.py`'s run)" if fast['engine']=='int8' else ''))
        extra['preset'] = own = preset_figures(acc_json, ok) if dlib_ms else None
        itself = '' if own is None else (
            f" The `fast` preset itself (`landmark_presets['fast']` = `{landmark_presets['fast']}`), trained with its own settings by "
            f"`bench_real.py` (its `fast` row, {own['epochs']} epochs, {own['seeds']} seeds), reaches NME **{own['nme']:.2f} ± {own['nme_sd']:.2f}%** "
            f"in float32 and {own['nme_int8']:.2f}% through its int8 graph (largest change {own['change_max']:+.3f} NME points, against "
            f"`export_onnx`'s threshold of {own['max_nme_change']:g}), and answers one face in **{own['ort_int8_ms']:.2f} ms, "
            f"{own['ort_int8_x_dlib']:.2f}× dlib's time** through that int8 graph ({own['ort_fp32_x_dlib']:.2f}× in float32).")
        plot = (f"\n\nSpeed against accuracy (NME from `{args.accuracy}`): the frontier, fastest first: {front}. For the `fast` preset, "
                f"{pick}.{itself}\n\n![speed and accuracy]({png.name})\n")
    again = (f"\n\nTimings measured earlier (`--replot 1`), last on: {timed_on}. The table may gather rows of several invocations "
             "(`--keep 1`); each row's ratios come from its own interleaved rounds with dlib." if timed_on else '')
    body = f"""
One face ({', '.join(map(str, sizes))} px, {K} landmarks, untrained weights), decoder included, as milliseconds a face:
PyTorch eager and ONNX Runtime on one thread, float32 and int8 (static QDQ, `export_onnx(quantize='int8')`); a batch of
{BATCH} on every core ({os.cpu_count()}) with ONNX Runtime float32. MACs: one forward pass, FLOPs / 2. {peer}
The networks get the crop already resized; dlib's time is its shape predictor alone on a face box (no detection for either).

{table(['body', 'px', 'head', 'params (M)', 'MMACs', 'PyTorch, 1 thread', 'ORT fp32, 1 thread', 'ORT int8, 1 thread', f'ORT fp32, batch {BATCH}, all cores'], table_rows)}
{chr(10).join(failed)}{plot}{again}"""
    write_result(args, 'Latency on the CPU, against dlib', body, {'latency': rows, 'dlib_ms': dlib_ms, 'dlib_missing': missing,
                 'settings': dict(heads=sorted({r['head'] for r in rows}), bodies=sorted({r['body'] for r in rows}), sizes=sizes, batch=BATCH,
                                  k=K, repeats=args.repeats), **({'timed_on': timed_on} if timed_on else {}), **extra})


if __name__ == '__main__': main()
