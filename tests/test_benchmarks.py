"The benchmark scripts still run (at toy sizes, `--quick`) and write their result sections."
import json, os, subprocess, sys
from pathlib import Path
import pytest

BENCH = Path(__file__).parents[1]/'benchmarks'


def run_script(name:str, *args:str):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'Agg'}
    res = subprocess.run([sys.executable, str(BENCH/name), *args], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, f'{name} {" ".join(args)} failed:\n{res.stderr[-3000:]}'
    return res


@pytest.mark.parametrize('name', ['encoding', 'decoding', 'pipeline', 'gpu'])  # accuracy: below
def test_quick_run_writes_its_section(name, tmp_path):
    out = tmp_path/f'{name}.md'
    run_script(f'bench_{name}.py', '--quick', '--out', str(out))
    assert out.read_text().startswith('## ') and json.loads(out.with_suffix('.json').read_text())['quick']


def test_accuracy_runs_alike_in_parallel(tmp_path):
    "Each run is seeded on its own: two processes at a time give the figures of one at a time"
    for jobs in (1, 2): run_script('bench_accuracy.py', '--quick', '--jobs', str(jobs), '--out', str(tmp_path/f'{jobs}.md'))
    assert (tmp_path/'2.md').read_text().startswith('## Accuracy')
    def nmes(jobs): return [r['nme'] for r in json.loads((tmp_path/f'{jobs}.json').read_text())['runs']]
    assert nmes(1) == nmes(2)
