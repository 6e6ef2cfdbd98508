"The README's figures on real faces are those the benchmark wrote (`benchmarks/real/*.json`), not typed by hand."
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
    "How the README states the heatmap heads (with their default loss) against regression: on every seed, or on average"
    reg = [r['nme'] for r in heads['regression']]
    every = all(r['nme']<b for k in heatmap_setups(heads) for r,b in zip(heads[k], reg))
    return f"every heatmap head beats regression ({statistics.mean(reg):.2f}%) on {'every seed' if every else 'average'}"


@pytest.mark.skipif(not (REAL/'real_cpu.json').exists(), reason='no committed real-faces result')
def test_readme_quotes_the_benchmark():
    readme = (ROOT/'README.md').read_text()
    missing = {k:v for k,v in real_figures().items() if v not in readme}
    assert not missing, f"README.md does not quote these benchmark figures (benchmarks/real/): {missing}"
