"""Assemble benchmarks/REPORT.md from the result sections the benchmarks wrote, headline figures first: `_out/` (the CPU
run of `make bench`, not committed), `long/` (longer CPU runs than `make bench` affords, committed), `real/`, `detect/`, `latency/` and `video/` (real
faces, dlib and clips made from the photos, committed, since their photos are not in the repository) and `cuda/` (GPU runs, committed).

    python benchmarks/report.py
"""
import json
from _common import HERE

ORDER = ('encoding', 'decoding', 'pipeline', 'accuracy', 'real', 'confidence', 'detect', 'latency', 'video', 'gpu_throughput')


def sections()->list:
    "Paths of the result sections, CPU first, in benchmark order"
    def key(p): return ORDER.index(p.stem.rsplit('_', 1)[0]) if p.stem.rsplit('_', 1)[0] in ORDER else len(ORDER)
    return [p for d in ('_out', 'long', 'real', 'detect', 'latency', 'video', 'cuda') for p in sorted((HERE/d).glob('*.md'), key=key)]


def headlines(path)->list:
    "One-line headline figures from the JSON beside a result section"
    d = json.loads(path.with_suffix('.json').read_text())
    if d.get('quick'): return []
    on = 'GPU' if d['device'].startswith('cuda') else 'CPU'
    if 'encoding' in d:
        enc = {(r['size'], r['method']):r for r in d['encoding']}
        sizes = sorted({r['size'] for r in d['encoding']})
        fl = '; '.join(f"{s}×{s}: Gaussian {enc[s,'`gaussian_heatmaps`']['x_floor']:.2f}×, randomised rounding "
                       f"{enc[s,'`random_binary_heatmaps`']['x_floor']:.2f}×" for s in sizes)
        loop = ', '.join(f"{r['seconds']/enc[r['size'],'`gaussian_heatmaps`']['seconds']:.1f}× ({r['method'].split(', ')[1]}, {r['size']}×{r['size']})"
                         for r in d['encoding'] if 'loop' in r['method'])
        loss = [r for r in d['loss'] if 'from_points' in r['method']]
        lp = ', '.join(f"{1/r['forward_ratio']:.1f}× faster forward, {1/r['step_ratio']:.1f}× forward + backward "
                       f"({r['pred_size']}² → {r['target_size']}²)" for r in loss)
        return [f'Target encoding ({on}), time over the memory floor (writing the output once): {fl}. '
                f'Per-point loops take {loop} the time of `gaussian_heatmaps`.',
                f'Gaussian loss from the points instead of encode + MSE ({on}): {lp}.']
    if 'errors' in d:
        sub = [r['max'] for r in d['errors'] if r['noise']==0 and 'subpixel' in r['decoder']]
        arg = [r['mean'] for r in d['errors'] if r['noise']==0 and r['decoder']=='`decode_argmax`']
        return [f'Default decoder (`decode_subpixel`) on exact Gaussian targets: worst error {max(sub):.1e} heatmap cells '
                f'(`decode_argmax`: mean {max(arg):.2f}).']
    if 'pipeline' in d:
        base,*others = d['pipeline']
        return [f"Training pipeline ({on}): augmentation + targets take "
                + ', '.join(f"{r['tfms']/r['total']:.1%} of a step with {r['setup']}" for r in d['pipeline'])
                + '; ' + ', '.join(f"an epoch with {r['setup']} takes {r['epoch_ratio']:.1f}× the time of one with {base['setup']}" for r in others) + '.']
    if 'mean_shape' in d:
        setups = dict.fromkeys(r['setup'] for r in d['runs'])
        nme = {s:sum(r['nme'] for r in d['runs'] if r['setup']==s)/d['settings']['seeds'] for s in setups}
        best = min((s for s in nme if s not in ('stock', 'recipe', 'fast')), key=nme.get)  # the presets train with their own settings
        peer = f", dlib's shape predictor {d['dlib']['nme']:.2f}%" if d['dlib'] else ''
        stock = f", stock fastai `PointBlock` {nme['stock']:.2f}%" if 'stock' in nme else ''
        recipe = (f"; the default recipe {nme['recipe']:.2f}%" if 'recipe' in nme else '') + (f", the `fast` preset {nme['fast']:.2f}%" if 'fast' in nme else '')
        return [f"Real faces (HELEN-29, held-out photos, from scratch, {d['settings']['seeds']} seeds): at an equal budget of "
                f"{d['settings']['epochs']} epochs the best setup, {best}, reaches {nme[best]:.2f}% NME{stock}{recipe}{peer}, "
                f"the mean shape {d['mean_shape']['nme']:.2f}%."]
    if d.get('runs') and 'landmarks' in d['runs'][0]:
        by = {}
        for r in d['runs']: by.setdefault(r['setup'], []).append(r)
        mean = lambda rs, level, m: sum(r[level][m] for r in rs)/len(rs)
        return [f"Confidence per landmark on HELEN-29's held-out photos ({d['settings']['seeds']} seed(s), {d['settings']['epochs']} epochs): "
                "Spearman's ρ with the error and the AUROC of low confidence for errors above 10%, landmark by landmark (face by face): "
                + '; '.join(f"{k} ρ {mean(rs, 'landmarks', 'spearman'):.2f} ({mean(rs, 'faces', 'spearman'):.2f}), AUROC "
                            f"{mean(rs, 'landmarks', 'auroc'):.2f} ({mean(rs, 'faces', 'auroc'):.2f})" for k,rs in by.items()) + '.']
    if 'runs' in d:
        setups = dict.fromkeys(r['setup'] for r in d['runs'])
        nmes = {s:[r['nme'] for r in d['runs'] if r['setup']==s] for s in setups}
        base,st = d['mean_shape_nme'],d['settings']
        def beats(a, b):
            "How often, and by how much on average, setup `a` is more accurate than `b`, seed by seed"
            gains = [y-x for x,y in zip(nmes[a], nmes[b])]
            return f"on {sum(g>0 for g in gains)} of {len(gains)} seeds, by {sum(gains)/len(gains):.1f} NME points on average"
        heatmaps = [s for s in setups if s not in ('regression', 'regression, stock `PointBlock`')]
        return [f"Accuracy on synthetic faces ({st['seeds']} seeds, {st['epochs']} epochs, `{st['arch']}` cut at 1/{st['stride']}): "
                "mean NME (IOD) " + ', '.join(f'{s} {sum(v)/len(v):.1f}%' for s,v in nmes.items()) + f" (the mean shape alone: {base:.1f}%). "
                "More accurate than regression: " + '; '.join(f"{s} {beats(s, 'regression')}" for s in heatmaps)
                + f". `LandmarkBlock` beats stock `PointBlock` with flips (regression) {beats('regression', 'regression, stock `PointBlock`')}."]
    if 'detectors' in d:
        found = '; '.join(f"`{n}` {r['found']:.1f}% in {r['ms_per_photo']:.0f} ms a photo" for n,r in d['detectors'].items())
        return [f"Face detection on HELEN-29 ({on}), the share of the annotated faces found (a calibrated box with IoU ≥ "
                f"{d['min_iou']} with the landmarks' box; the bar is 95%): {found}."]
    if 'one_euro' in d:
        g,b = d['default']['gentle'],d['default']['brisk']
        return [f"Video ({on}, clips with known motion made from held-out HELEN-29 photos): One-Euro smoothing with the defaults "
                f"cuts the jitter {g['jitter_ratio']:.1f}× (bar: 3×) on a gentle motion while the error against the truth changes by "
                f"{g['error_growth']:+.2f}% of the inter-ocular distance (bar: +1%); on a motion "
                f"{d['speeds']['brisk']/d['speeds']['gentle']:.0f} times as fast, "
                f"{b['jitter_ratio']:.1f}× and {b['error_growth']:+.2f}%."]
    if 'latency' in d:
        ok = [r for r in d['latency'] if 'error' not in r]
        if not d['dlib_ms']: return [f"Latency ({on}): dlib was not measured ({d['dlib_missing']})."]
        fast = sorted(ok, key=lambda r: r['ort_fp32_ms'])[:3]
        front = '; '.join(f"{p[2]} {p[0]:.2f} ms, NME {p[1]:.2f}%" for p in d.get('frontier', []))
        return [f"Latency, one face on one thread ({on}), against dlib's 68-point shape predictor ({d['dlib_ms']:.2f} ms) in the same run: "
                "the fastest, ONNX Runtime float32: " + ', '.join(f"{r['head']} / {r['body']} {r['size']} px {r['ort_fp32_x_dlib']:.1f}× "
                f"(int8 {r['ort_int8_x_dlib']:.1f}×)" for r in fast) + '.' + (f" Speed–accuracy frontier on HELEN-29: {front}." if front else '')
                + (f" The `fast` preset, the most accurate within 2× dlib's time: {d['fast']['head']} on {d['fast']['body']}, {d['fast']['size']} px, "
                   f"{d['fast']['x_dlib']:.2f}× dlib's time, NME {d['fast']['nme']:.2f}% at the equal budget." if d.get('fast') else '')
                + (f" Trained with its own settings ({d['preset']['epochs']} epochs, {d['preset']['seeds']} seeds), the preset reaches "
                   f"{d['preset']['nme']:.2f} ± {d['preset']['nme_sd']:.2f}% NME ({d['preset']['nme_int8']:.2f}% through its int8 graph) and answers "
                   f"in {d['preset']['ort_int8_x_dlib']:.2f}× dlib's time through that graph." if d.get('preset') else '')]
    if 'throughput' in d:
        r = d['throughput'][0]
        return [f"HRNet training throughput ({on}): {r['images_per_s']:,.0f} images/s, {r['share_of_ceiling']:.0%} of the "
                f"model's own forward + backward; augmentation + targets {d['step_parts']['tfms']/d['step_parts']['total']:.1%} of a step."]
    return []


def main():
    paths = sections()
    heads = [h for p in paths for h in headlines(p)]
    if not any(p.parent.name=='cuda' for p in paths):
        heads.append('No GPU results yet: `benchmarks/bench_gpu.py --device cuda` (HRNet throughput against its ceiling) and the '
                     'other scripts with `--device cuda` have not been run on a GPU.')
    text = '\n\n'.join([
        '# fastlandmarks benchmarks',
        '> Speed as ratios measured side by side in one run, accuracy over several seeds. Written by `make bench` '
        '(`benchmarks/report.py`): edit the benchmarks, not this file.',
        'Reproduce on the CPU with `make bench` (7.5 minutes on 2 cores at a load average of 1.5; the accuracy runs go two '
        'at a time), plus about an hour for the real faces when HELEN-29 is there (`benchmarks/bench_real.py`); on a GPU run each script with `--device cuda` '
        '(`python benchmarks/bench_gpu.py --device cuda` for the HRNet throughput), which writes to `benchmarks/cuda/`, then '
        '`python benchmarks/report.py`. How the figures are measured: `benchmarks/_common.py`; each section says what it compares.',
        '## Headlines\n\n' + '\n'.join(f'- {h}' for h in heads),
        *[p.read_text().strip() for p in paths]]) + '\n'
    (HERE/'REPORT.md').write_text(text)
    print(f'wrote {HERE/"REPORT.md"} from {len(paths)} sections')


if __name__ == '__main__': main()
