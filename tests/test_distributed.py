"""Training on several processes (issue 7): two CPU processes on the gloo backend train every head for one epoch with
fastai's distributed trainer (`tests/distributed_worker.py`), and must end with the same weights.

The ranks start from different random weights (each seeds its own), so agreeing at the end shows that the weights were
broadcast from rank 0 and the gradients averaged; each rank must also have taken half of the epoch's batches.
"""
import json, math, os, subprocess, sys
from pathlib import Path
import pytest
from filelock import FileLock
from reliability_utils import HEADS

WORKER = Path(__file__).parent/'distributed_worker.py'


def _launch(out:Path):
    "Run the worker on 2 processes, writing into `out`"
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(WORKER), str(out)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

@pytest.fixture(scope='session')
def ranks(tmp_path_factory, worker_id):
    "The results of both ranks, per head: one launch per test session, shared by pytest-xdist's workers"
    root = tmp_path_factory.getbasetemp() if worker_id=='master' else tmp_path_factory.getbasetemp().parent
    out = root/'distributed'
    with FileLock(str(root/'distributed.lock')):
        if not (out/'rank1.json').exists():
            out.mkdir(exist_ok=True)
            _launch(out)
    return [json.loads((out/f'rank{r}.json').read_text()) for r in (0, 1)]

@pytest.mark.parametrize('head', HEADS)
def test_two_processes_train_every_head_to_the_same_weights(ranks, head):
    r0, r1 = ranks[0][head], ranks[1][head]
    assert r0['before'] != r1['before'], "the ranks start from different weights"
    assert r0['after'] == r1['after'], "after one epoch both ranks hold the same weights"
    assert r0['steps'] == r1['steps'] == -(-r0['batches']//2), "each rank trains on half of the batches"
    assert all(map(math.isfinite, r0['losses'] + r1['losses']))


@pytest.mark.parametrize('head', ['regression', 'deconv'])
def test_landmark_metrics_cover_the_whole_validation_set_on_every_rank(ranks, head):
    r0, r1 = ranks[0]['metrics'][head], ranks[1]['metrics'][head]
    assert 'error' not in r0, r0.get('error')
    assert r0['recorded'] == pytest.approx(r0['whole'], rel=1e-4) and r1['recorded'] == pytest.approx(r1['whole'], rel=1e-4)
