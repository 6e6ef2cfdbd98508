"The README's figures (real faces, speed, synthetic faces) are those the benchmarks wrote (`benchmarks/real/`, `benchmarks/_out/`), not typed by hand."
import json, statistics, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
REAL = ROOT/'benchmarks'/'real'
sys.path.insert(0, str(ROOT/'benchmarks'))
from bench_real import SETUPS, best_setup, heatmap_setups, mean_nme


def _runs(name:str)->dict:
    "setup -> NMEs over seeds, and the whole JSON, of a committed real-faces result"
    d = json.loads((REAL/f'{name}.json').read_text())
    by = {}
    for r in d['runs']: by.setdefault(r['setup'], []).append(r)
    return by, d


def real_figures()->dict:
    "The phrases the README quotes, formatted from the benchmark's JSON as the README writes them"
    heads, d = _runs('real_cpu')
    sd = lambda rs: statistics.stdev(x['nme'] for x in rs)
    rec = heads['recipe']
    return {'recipe': f"{mean_nme(rec):.2f} ± {sd(rec):.2f}% NME", 'dlib': f"{d['dlib']['nme']:.2f}%",
            'stock': f"{mean_nme(heads['stock']):.2f}%", 'regression': f"{mean_nme(heads['regression']):.2f}%",
            'mean shape': f"{d['mean_shape']['nme']:.2f}%",
            'minutes': f"{statistics.mean(x['train_s'] for x in rec)/60:.0f} minutes",
            'seeds': f"{len(rec)} seeds", 'heatmap heads': heatmap_heads_claim(heads), 'best': best_claim(heads)}


def best_claim(heads:dict)->str:
    "How the README names the most accurate setup at the benchmark's equal budget, with its NME"
    best = best_setup(heads)
    return f"the most accurate is {SETUPS[best][0]} ({mean_nme(heads[best]):.2f}%)"


def heatmap_heads_claim(heads:dict)->str:
    "How the README states the heatmap heads (with their default loss) against regression: all of them, or those on randomised rounding, on every seed"
    reg = [r['nme'] for r in heads['regression']]
    beat = lambda ks: all(r['nme']<b for k in ks for r,b in zip(heads[k], reg))
    binary = [k for k in heatmap_setups(heads) if SETUPS[k][2]=='binary']
    which = 'every heatmap head beats' if beat(heatmap_setups(heads)) else 'the heatmap heads on randomised rounding beat' if beat(binary) else None
    assert which, 'README: neither every heatmap head nor those on randomised rounding beat regression on every seed'
    return f"{which} regression ({statistics.mean(reg):.2f}%) on every seed"


@pytest.mark.skipif(not (REAL/'real_cpu.json').exists(), reason='no committed real-faces result')
def test_readme_quotes_the_benchmark():
    readme = (ROOT/'README.md').read_text()
    missing = {k:v for k,v in real_figures().items() if v not in readme}
    assert not missing, f"README.md does not quote these benchmark figures (benchmarks/real/): {missing}"


OUT = ROOT/'benchmarks'/'_out'

def _json(path:Path)->dict: return json.loads(path.read_text())

def _flat(text:str)->str: return ' '.join(text.split())  # prose wraps lines anywhere


def speed_figures()->dict:
    "The README's speed phrases, formatted from the CPU benchmark's JSON (`benchmarks/_out/`)"
    enc = _json(OUT/'encoding_cpu.json')
    by = {(r['size'], r['method']):r for r in enc['encoding']}
    sizes = sorted({r['size'] for r in enc['encoding']})
    span = lambda m: f"{min(by[s,m]['x_floor'] for s in sizes):.2f}–{max(by[s,m]['x_floor'] for s in sizes):.2f}×"
    loop = max(r['seconds']/by[r['size'],'`gaussian_heatmaps`']['seconds'] for r in enc['encoding'] if 'loop' in r['method'])
    loss = {(r['pred_size'], r['method']):r for r in enc['loss']}
    fast, base = loss[64, '`gaussian_heatmap_loss_from_points`'], loss[64, 'encode + `gaussian_heatmap_loss`']
    dec = _json(OUT/'decoding_cpu.json')
    worst = max(r['max'] for r in dec['errors'] if r['noise']==0 and r['decoder']=='`decode_subpixel` (default)')
    return {'gaussian': f"Gaussian targets in {span('`gaussian_heatmaps`')}",
            'binary': f"randomised rounding in {span('`random_binary_heatmaps`')}",
            'loop': f"up to {loop:.1f}× slower",
            'loss': f"{1/fast['forward_ratio']:.1f}× faster forward, {1/fast['step_ratio']:.1f}× faster training step, "
                    f"{base['peak_bytes']/fast['peak_bytes']:.1f}× less memory at 64×64",
            'decoder': f"to {worst:.1e} of a".replace('e-0', 'e-')}


def synthetic_figures()->dict:
    "The README's accuracy phrases on synthetic faces, formatted from the CPU benchmark's JSON"
    d = _json(OUT/'accuracy_cpu.json')
    by = {}
    for r in d['runs']: by.setdefault(r['setup'], []).append(r)
    def gains(a, b): return [y['nme']-x['nme'] for x,y in zip(by[a], by[b])]  # how much more accurate `a` is than `b`, seed by seed
    gain = lambda a, b='regression': f"{statistics.mean(gains(a, b)):.1f}"
    flips = gains('regression', 'regression, stock `PointBlock`')
    tta = statistics.mean(r['nme']-r['nme_tta'] for r in d['runs'] if r['nme_tta'] is not None)
    return {'heatmaps': f"Gaussian heatmaps by {gain('Gaussian heatmaps')} NME points "
                        f"({gain('Gaussian heatmaps', 'Gaussian heatmaps, plain MSE (`fg_weight=0`)')} of them from the foreground weighting), "
                        f"randomised rounding by {gain('randomised rounding')}, the integral head by {gain('integral (soft-argmax)')} "
                        f"(regression: {statistics.mean(r['nme'] for r in by['regression']):.1f}% NME)",
            'flips': f"by {statistics.mean(flips):.1f} ± {statistics.stdev(flips):.1f} NME points, and flip TTA gains a further {tta:.1f}"}


def test_readme_quotes_the_speed_and_synthetic_benchmarks():
    readme = _flat((ROOT/'README.md').read_text())
    missing = {k:v for k,v in {**speed_figures(), **synthetic_figures()}.items() if v not in readme}
    assert not missing, f"README.md does not quote these benchmark figures (benchmarks/_out/): {missing}"


def test_readme_claims_hold_in_the_benchmarks():
    "What the README says without a figure: heatmaps beat regression on every seed, the pipeline's share of a step"
    d = _json(OUT/'accuracy_cpu.json')
    reg = [r['nme'] for r in d['runs'] if r['setup']=='regression']
    heatmaps = {r['setup'] for r in d['runs']} - {'regression', 'regression, stock `PointBlock`'}
    assert all(r['nme']<b for s in heatmaps for r,b in zip([r for r in d['runs'] if r['setup']==s], reg))
    assert 'every heatmap head beats coordinate regression on every seed' in _flat((ROOT/'README.md').read_text())
    pipe = _json(OUT/'pipeline_cpu.json')['pipeline']
    assert max(r['tfms']/r['total'] for r in pipe) < 0.05, 'README: "augmentation and targets take under 5% of a CPU training step"'


DETECT = ROOT/'benchmarks'/'detect'/'detect_cpu.json'

def _markdown(nb:str)->str:
    "The prose of a notebook, its lines joined"
    return _flat(' '.join(''.join(c['source']) for c in _json(ROOT/'nbs'/nb)['cells'] if c['cell_type']=='markdown'))


def detect_figures()->dict:
    "The phrases of `nbs/07a_detect.ipynb` on HELEN-29's faces, formatted from `benchmarks/detect/detect_cpu.json`"
    d = _json(DETECT)['detectors']
    hog,haar = d['hog'],d['haar']
    dx,dy,sx,sy = hog['calibration']
    hx,hy,hsx,hsy = haar['calibration']
    n = hog['dlib_nme']
    return {'found': f"({hog['found']:.0f}% against {haar['found']:.0f}%)",
            'hog calibration': f"the landmarks' box is {sx:.2f} × as wide and {sy:.2f} × as tall as dlib's box, and its centre "
                               f"lies {dy:.2f} of the box's height lower (and {-dx:.2f} of its width to the left)",
            'iou': f"from {hog['iou_raw']:.2f} to {hog['iou_calibrated']:.2f}, and that of the training crop (grown by 25% and squared) "
                   f"with the crop of the annotation from {hog['crop_iou_raw']:.2f} to {hog['crop_iou_calibrated']:.2f}",
            'dlib nme': f"its NME is {n['raw']:.1f}% in dlib's raw boxes, {n['calibrated']:.1f}% in the calibrated ones and "
                        f"{n['annotation']:.1f}% in the annotation's",
            'haar calibration': f"the landmarks' box is {hsx:.2f} × as wide and {hsy:.2f} × as tall as the Haar box, its centre "
                                f"{hy:.2f} of the box's height lower"}


@pytest.mark.skipif(not DETECT.exists(), reason='no committed face-detection result')
def test_detect_notebook_quotes_the_benchmark():
    "07a_detect's figures, and the calibrations the package ships, are those `benchmarks/bench_detect.py` measured"
    from fastlandmarks.detect import HOG_CALIBRATION, HAAR_CALIBRATION
    prose = _markdown('07a_detect.ipynb')
    missing = {k:v for k,v in detect_figures().items() if v not in prose}
    assert not missing, f"nbs/07a_detect.ipynb does not quote these benchmark figures (benchmarks/detect/): {missing}"
    d = _json(DETECT)['detectors']
    assert 3*d['hog']['ms_per_photo'] < d['haar']['ms_per_photo'], '07a_detect: "in under a third of its time"'
    assert tuple(d['hog']['calibration']) == HOG_CALIBRATION and tuple(d['haar']['calibration']) == HAAR_CALIBRATION


CONFIDENCE = REAL/'confidence_cpu.json'

def faces_figures()->dict:
    "The README's phrases on detection and confidence, formatted from `benchmarks/detect/` and `benchmarks/real/confidence_cpu.json`"
    from fastlandmarks.models import landmark_heads
    runs = _json(CONFIDENCE)['runs']
    assert {r['head'] for r in runs} == set(landmark_heads), 'README: "for every head"'
    lm,face = [r['landmarks']['auroc'] for r in runs],[r['faces']['auroc'] for r in runs]
    weakest = {min(runs, key=lambda r: r[level]['auroc'])['head'] for level in ('landmarks', 'faces')}
    assert len(weakest)==1, f'README: one head is "the weakest at both", but these are: {weakest}'
    return {'found': f"{_json(DETECT)['detectors']['hog']['found']:.1f}% of HELEN-29's faces",
            'auroc': f"{min(lm):.2f}–{max(lm):.2f} for landmarks and {min(face):.2f}–{max(face):.2f} for faces",
            'weakest': f"the {weakest.pop()} head is the weakest at both"}


@pytest.mark.skipif(not (DETECT.exists() and CONFIDENCE.exists()), reason='no committed detection or confidence result')
def test_readme_quotes_detection_and_confidence():
    readme = _flat((ROOT/'README.md').read_text())
    missing = {k:v for k,v in faces_figures().items() if v not in readme}
    assert not missing, f"README.md does not quote these benchmark figures (benchmarks/detect/, benchmarks/real/): {missing}"


LATENCY = ROOT/'benchmarks'/'latency'/'latency_cpu.json'

@pytest.mark.skipif(not LATENCY.exists(), reason='no committed latency result')
def test_readme_quotes_the_fast_preset():
    "The README's figures of the `fast` preset: its time against dlib's and its NME, as `bench_latency.py` gathered them"
    p = _json(LATENCY)['preset']
    said = {'time': f"{p['ort_int8_x_dlib']:.2f}× the time of dlib's shape predictor", 'nme': f"{p['nme']:.2f} ± {p['nme_sd']:.2f}% NME",
            'int8': f"{p['nme_int8']:.2f}% through its int8 graph"}
    readme = _flat((ROOT/'README.md').read_text())
    missing = {k:v for k,v in said.items() if v not in readme}
    assert not missing, f"README.md does not quote these figures of benchmarks/latency/: {missing}"


VIDEO = ROOT/'benchmarks'/'video'/'video_cpu.json'

@pytest.mark.skipif(not VIDEO.exists(), reason='no committed video result')
def test_readme_quotes_the_video_benchmark():
    d = _json(VIDEO)['default']
    said = {m: f"{d[m]['jitter_ratio']:.2f}× less" for m in d} | {f'{m} growth': f"{d[m]['error_growth']:.2f}%" for m in d}
    readme = _flat((ROOT/'README.md').read_text())
    missing = {k:v for k,v in said.items() if v not in readme}
    assert not missing, f"README.md does not quote these figures of benchmarks/video/: {missing}"
