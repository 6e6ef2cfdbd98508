#!/usr/bin/env python
"""Break each published claim on purpose in a scratch copy of the repository, and check that the tests holding it fail.

`make mutation` (a few minutes on 2 cores, so not part of `make test`). Each mutation is a text patch on a generated module
of the copy and on the notebook it is exported from (a notebook's tests run its own cells), fine there and never here; the
tests run against the copy (`PYTHONPATH`), first unbroken (they must pass), then broken (they must fail). Exit status 1
when a break goes unnoticed or a patch no longer applies.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def mutation(name, file, old, new, *tests): return dict(name=name, file=file, old=old, new=new, tests=list(tests))

MUTATIONS = [
    mutation('TTA never mirrors the image', 'fastlandmarks/tta.py',
             'model(x.flip(-1))', 'model(x)',
             'tests/test_tta.py', 'nbs/10a_tta.ipynb', 'nbs/90_tutorial.faces.ipynb'),
    mutation('mirror_landmarks skips the left/right swap', 'fastlandmarks/layouts.py',
             'return swap_mirrored(as_plain(pts)*torch.tensor([-1.,1.], device=pts.device), flip_idx)',
             'return as_plain(pts)*torch.tensor([-1.,1.], device=pts.device)',
             'tests/test_tta.py', 'nbs/10a_tta.ipynb'),
    mutation('resume sets the best NME to 0', 'fastlandmarks/training.py',
             'if self.best is not None: cb.best = self.best', 'if self.best is not None: cb.best = 0.',
             'tests/test_resume.py::test_resumed_run_keeps_the_best_nme_of_the_interrupted_one'),
    mutation('decode_subpixel biased by 0.04 cells', 'fastlandmarks/heatmaps.py',
             'return _maybe_scale(mid + off, (h,w), scale)', 'return _maybe_scale(mid + off + 0.04, (h,w), scale)',
             'tests/test_properties.py', 'tests/test_workflow.py::test_encode_decode_round_trip'),
    mutation('Gaussian targets shifted by half a cell', 'fastlandmarks/heatmaps.py',
             'torch.exp(-(r-c[...,None])**2', 'torch.exp(-(r-0.5-c[...,None])**2',
             'tests/test_workflow.py::test_target_peak_on_feature_after_augmentation'),
    mutation('randomised rounding shares one random number for x and y', 'fastlandmarks/heatmaps.py',
             "u = torch.rand(frac.shape, generator=generator, device='cpu' if generator is None else generator.device).to(frac.device)",
             "u = torch.rand(frac.shape[:-1], generator=generator, device='cpu' if generator is None else generator.device).to(frac.device)[...,None]",
             'tests/test_properties.py'),
    mutation('probabilities decoded as logits (a second softmax)', 'fastlandmarks/transforms.py',
             'if _is_cell_distribution(p): p = p.float().clamp(min=torch.finfo(torch.float32).tiny).log()', 'pass',
             'tests/test_losses.py', 'nbs/02_transforms.ipynb', 'nbs/08_metrics.ipynb'),
    mutation('ONNX export drops the decoder', 'fastlandmarks/export.py',
             'module = landmark_predictor(learn) if decode else learn.model.eval()', 'module = learn.model.eval()',
             'tests/test_export.py'),
    mutation('empty target channels decoded as points, not missing', 'fastlandmarks/heatmaps.py',
             "return as_plain(pts).masked_fill(empty_channels(hm)[...,None], float('nan'))", 'return as_plain(pts)',
             'nbs/01_heatmaps.ipynb', 'tests/test_missing.py'),
    mutation('points_box counts missing points', 'fastlandmarks/boxes.py',
             'gone = p.isnan().any(-1, keepdim=True)', 'gone = torch.zeros_like(p[...,:1], dtype=torch.bool)',
             'nbs/04a_boxes.ipynb', 'tests/test_metrics.py'),
    mutation('readers of one annotation take a path without a word', 'fastlandmarks/readers.py',
             'if isinstance(x, (str, Path)):', 'if False:',
             'nbs/05_readers.ipynb'),
]

def scratch_copy(dest:Path)->Path:
    "The tracked and untracked (not ignored) files of the repository, copied to `dest`"
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split('\0')
    for f in filter(None, files):
        if (ROOT/f).is_file(): (dest/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/f, dest/f)
    return dest

def run_tests(repo:Path, tests:list)->tuple:
    "Run `tests` (pytest ids and notebooks) in `repo`: whether all passed, and a short account of the failures"
    env = {**os.environ, 'PYTHONPATH': str(repo), 'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'Agg'}
    py = [t for t in tests if not t.endswith('.ipynb')]
    ok,notes = True,[]
    if py:
        r = subprocess.run([str(BIN/'pytest'), '-q', '-p', 'no:cacheprovider', *py], cwd=repo, env=env, capture_output=True, text=True)
        summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()[-200:]
        ok &= r.returncode==0
        if r.returncode: notes.append(re.sub(r'(, \d+ warnings?)?\s+in [\d.]+s.*', '', summary.strip('= ')))
    for nb in [t for t in tests if t.endswith('.ipynb')]:
        r = subprocess.run([str(BIN/'nbdev-test'), nb], cwd=repo, env=env, capture_output=True, text=True)
        ok &= r.returncode==0
        if r.returncode: notes.append(f"{Path(nb).name} failed")
    return ok, '; '.join(notes)

def _source_notebook(module:Path)->Path:
    "The notebook a generated module is exported from (its header names it)"
    return module.parent/re.search(r'File to edit: (\S+\.ipynb)', module.read_text())[1]

def _patched(fn:Path, old:str, new:str, name:str)->str:
    "Replace the one `old` in `fn` (a module, or the cells' text of a notebook) by `new`; the original file text"
    text = fn.read_text()
    if fn.suffix=='.ipynb':
        nb = json.loads(text)
        hits = [c for c in nb['cells'] if old in ''.join(c['source'])]
        n = sum(''.join(c['source']).count(old) for c in hits)
        if n==1: hits[0]['source'] = ''.join(hits[0]['source']).replace(old, new).splitlines(keepends=True)
        patched = json.dumps(nb, indent=1, ensure_ascii=False)
    else: n,patched = text.count(old),text.replace(old, new)
    if n!=1: sys.exit(f"mutation {name!r} no longer applies: {fn.name} holds {n} copies of {old!r}; update tools/mutation_check.py")
    fn.write_text(patched)
    return text

def apply(repo:Path, m:dict)->dict:
    "Patch `m` into the copy's module and into the notebook it comes from (whose own cells define what it tests); the originals"
    module = repo/m['file']
    return {fn: _patched(fn, m['old'], m['new'], m['name']) for fn in (module, _source_notebook(module))}

def main(only=None):
    todo = [m for m in MUTATIONS if only is None or re.search(only, m['name'])]
    rows,missed = [],0
    with tempfile.TemporaryDirectory() as d:
        repo = scratch_copy(Path(d)/'repo')
        baseline = {}
        for m in todo:
            key = tuple(m['tests'])
            if key not in baseline:
                baseline[key] = run_tests(repo, m['tests'])
                if not baseline[key][0]: sys.exit(f"the tests of {m['name']!r} fail unbroken ({baseline[key][1]}): fix them first")
            start = time.perf_counter()
            originals = apply(repo, m)
            try: ok,notes = run_tests(repo, m['tests'])
            finally:
                for fn,text in originals.items(): fn.write_text(text)
            missed += ok
            rows.append((m['name'], ', '.join(m['tests']), 'MISSED: the tests pass' if ok else f"caught ({notes})",
                         f"{time.perf_counter()-start:.0f}"))
            print(f"{m['name']}: {rows[-1][2]}", file=sys.stderr, flush=True)
    print('| break | tests | result | s |\n|---|---|---|---|')
    for r in rows: print('| ' + ' | '.join(r) + ' |')
    return 1 if missed else 0

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--only', help='run only the mutations whose name matches this regular expression')
    sys.exit(main(p.parse_args().only))
