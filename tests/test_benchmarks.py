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


def test_real_faces_say_what_to_do_without_the_photos(tmp_path):
    "A fresh clone has no HELEN-29: the real-faces benchmark says how to point it at the photos and writes nothing"
    out = tmp_path/'real.md'
    res = run_script('bench_real.py', '--quick', '--data', str(tmp_path/'nowhere'), '--out', str(out))
    assert '--data PATH' in res.stdout and 'FASTLANDMARKS_REAL_DATA' in res.stdout and not out.exists()


@pytest.mark.parametrize('name', ['detect', 'confidence'])
def test_real_benchmarks_say_what_to_do_without_the_photos(name, tmp_path):
    "Without HELEN-29 the detection and confidence benchmarks say how to point them at the photos and write nothing"
    out = tmp_path/f'{name}.md'
    res = run_script(f'bench_{name}.py', '--data', str(tmp_path/'nowhere'), '--out', str(out))
    assert '--data PATH' in res.stdout and 'FASTLANDMARKS_REAL_DATA' in res.stdout and not out.exists()


def test_video_says_what_to_do_without_the_photos(tmp_path):
    "Without HELEN-29 the video benchmark says how to point it at the photos and writes nothing"
    out = tmp_path/'video.md'
    res = run_script('bench_video.py', '--data', str(tmp_path/'nowhere'), '--out', str(out))
    assert '--data PATH' in res.stdout and 'FASTLANDMARKS_REAL_DATA' in res.stdout and not out.exists()


def _faces(folder:Path, names):
    "Empty stand-ins for face images named `SOURCE_N.jpg`"
    for n in names: (folder/f'{n}.jpg').touch()
    return sorted(folder.glob('*.jpg'))


def test_split_by_photo_keeps_a_photo_on_one_side(tmp_path):
    "Every 5th source photo (sorted by name, from the first) is held out with all its faces; the rest train"
    sys.path.insert(0, str(BENCH))
    from _real import split_by_photo
    photos = [f'{i:03d}' for i in range(10)]
    files = _faces(tmp_path, [f'{p}_{k}' for p in photos for k in (1, 2)] + ['007_3'])
    train, test = split_by_photo(files)
    assert sorted(f.stem for f in test) == ['000_1', '000_2', '005_1', '005_2']
    assert len(train) == len(files) - 4 and not {f.stem[:3] for f in train} & {'000', '005'}


REAL = os.environ.get('FASTLANDMARKS_REAL_DATA', str(Path(__file__).parents[2]/'shared'/'data'/'helen29'))


@pytest.mark.skipif(not Path(REAL).is_dir(), reason='HELEN-29 is not here (set FASTLANDMARKS_REAL_DATA)')
def test_real_faces_quick_run(tmp_path):
    "On the photos: every setup's row, the mean shape's, dlib's when installed, and the CED picture"
    out = tmp_path/'real.md'
    run_script('bench_real.py', '--quick', '--data', REAL, '--out', str(out))
    md, d = out.read_text(), json.loads(out.with_suffix('.json').read_text())
    assert md.startswith('## Real faces') and out.with_suffix('.png').stat().st_size > 10_000
    assert {r['setup'] for r in d['runs']} == {'regression', 'hrnet-gaussian', 'stock', 'recipe', 'fast'}
    fast = next(r for r in d['runs'] if r['setup']=='fast')
    assert abs(fast['int8']['nme_int8'] - fast['int8']['nme_fp32'] - fast['int8']['change']) < 1e-9 and "`fast` preset's int8 graph" in md
    assert d['mean_shape']['n_faces'] == 70 and 'mean training shape' in md


def test_latency_quick_run_writes_its_section(tmp_path):
    "The latency table at toy size, every model measured; dlib's time beside it when the `bench` extra is installed, else the reason"
    out = tmp_path/'latency.md'
    run_script('bench_latency.py', '--quick', '--out', str(out))
    d = json.loads(out.with_suffix('.json').read_text())
    assert d['quick'] and d['latency'] and all('error' not in r for r in d['latency'])
    if d['dlib_ms'] is None: assert 'bench' in d['dlib_missing'] and 'dlib was not measured' in out.read_text()
    else: assert all(r['ort_fp32_x_dlib'] > 0 for r in d['latency'])


def test_speed_accuracy_says_what_to_do_without_the_photos(tmp_path):
    out = tmp_path/'sa.md'
    res = run_script('bench_speed_accuracy.py', '--quick', '--data', str(tmp_path/'nowhere'), '--out', str(out))
    assert '--data PATH' in res.stdout and not out.exists()
