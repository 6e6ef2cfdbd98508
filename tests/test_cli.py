"The `fastlandmarks` command: train on synthetic faces, predict in original pixels, evaluate."
import json, os, subprocess, sys
import numpy as np, torch, pytest
from PIL import Image
from fastlandmarks.cli import main
from fastlandmarks.layouts import get_layout
from fastlandmarks.synthetic import synthetic_face


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp('model')
    cwd = os.getcwd(); os.chdir(out.parent)  # a relative --out, as a user types it
    try: assert main(f'train --data synthetic --n-synthetic 24 --size 64 --heatmap-size 16 --epochs 1 --bs 8 '
                     f'--pretrained False --out {out.name}'.split()) == 0
    finally: os.chdir(cwd)
    return out


def test_train_writes_report(trained):
    for f in ('model.pkl', 'metrics.json', 'curves.png', 'results.png'): assert (trained/f).exists(), f
    m = json.loads((trained/'metrics.json').read_text())
    assert {'nme', 'auc', 'failure_rate', 'per_landmark_error', 'epochs', 'time_s'} <= set(m)
    assert len(m['per_landmark_error']) == 68 and m['epochs'] == 1


def test_predict_in_original_pixels(trained, tmp_path):
    img, _ = synthetic_face(99, 80)  # another size than the model's 64 px input
    Image.fromarray(img).save(tmp_path/'face.png')
    assert main(f'predict {trained/"model.pkl"} {tmp_path/"face.png"} --box 10 10 70 70 --out {tmp_path/"pred"}'.split()) == 0
    res = json.loads((tmp_path/'pred'/'landmarks.json').read_text())
    (face,) = next(iter(res.values()))  # a list of faces per image: the one in the box given
    assert face['box'] == [10, 10, 70, 70] and face['score'] is None
    pts, conf = np.array(face['points']), np.array(face['confidence'])
    assert pts.shape == (68, 2) and np.isfinite(pts).all()
    assert conf.shape == (68,) and ((conf >= 0) & (conf <= 1)).all()  # the recipe's HRNet head: sigmoid mass near each peak
    assert (tmp_path/'pred'/'landmarks.csv').exists() and (tmp_path/'pred'/'face_landmarks.png').exists()


def test_predict_detects_every_face(tmp_path):
    "A model trained on face crops, given no box: one entry per face found, each with its box, score and landmarks in its crop"
    from fastlandmarks.detect import detect_faces
    from fastlandmarks.boxes import grow_box, round_box
    from fastlandmarks.test_utils import astronaut
    out = tmp_path/'crops'
    assert main(f'train --data synthetic --n-synthetic 16 --size 64 --heatmap-size 16 --epochs 1 --bs 8 --pretrained False '
                f'--crop True --out {out}'.split()) == 0
    face = astronaut()[60:200, 170:276]
    Image.fromarray(np.concatenate([face, face[:, ::-1]], 1)).save(tmp_path/'two.png')
    Image.fromarray(np.zeros((60, 60, 3), np.uint8)).save(tmp_path/'none.png')
    assert main(f'predict {out/"model.pkl"} {tmp_path/"two.png"} {tmp_path/"none.png"} --out {tmp_path/"pred"}'.split()) == 0
    res = json.loads((tmp_path/'pred'/'landmarks.json').read_text())
    assert res[str(tmp_path/'none.png')] == []
    faces = res[str(tmp_path/'two.png')]
    boxes, scores = detect_faces(tmp_path/'two.png')
    assert len(faces) == 2 and np.allclose([f['box'] for f in faces], boxes) and np.allclose([f['score'] for f in faces], scores)
    for f in faces:
        x0, y0, x1, y1 = round_box(grow_box(torch.tensor(f['box']))).tolist()  # the crop the model saw
        pts = np.array(f['points'])
        assert pts.shape == (68, 2) and (pts >= [x0, y0]).all() and (pts <= [x1, y1]).all()


def test_eval_and_errors(trained, tmp_path, capsys):
    from fastlandmarks.synthetic import make_synthetic_faces
    data = make_synthetic_faces(tmp_path/'faces', n=6, size=48, seed=3)
    assert main(f'eval {trained/"model.pkl"} --data {data} --out {tmp_path}'.split()) == 0
    assert json.loads((tmp_path/'metrics.json').read_text())['n_images'] == 6
    get_layout('ibug68').save(tmp_path/'mine.json')  # a layout file works where a built-in name does
    assert main(f'eval {trained/"model.pkl"} --data {data} --layout {tmp_path/"mine.json"} --out {tmp_path/"mine"}'.split()) == 0
    assert json.loads((tmp_path/'mine'/'metrics.json').read_text())['nme'] == json.loads((tmp_path/'metrics.json').read_text())['nme']
    assert main(['bogus']) == 2
    assert main(f'eval {trained/"model.pkl"} --data {data} --format xml'.split()) == 1  # one sentence, no traceback
    assert "fastlandmarks eval: unknown format 'xml'" in capsys.readouterr().err


def test_train_infers_layout(tmp_path, capsys):
    "`--layout infer`: the flip map of the synthetic faces (drawn from iBUG's parts) is found, printed, saved and used"
    from fastai.learner import load_learner
    from fastlandmarks.data import layout_of
    from fastlandmarks.synthetic import make_synthetic_faces
    out = tmp_path/'inferred'
    assert main(f'train --data synthetic --n-synthetic 24 --size 64 --heatmap-size 16 --epochs 1 --bs 8 --pretrained False '
                f'--layout infer --out {out}'.split()) == 0
    ibug = list(get_layout('ibug68').flip_idx)
    printed = capsys.readouterr().out
    assert f"that of the built-in layout ibug68, saved in {out/'layout.json'}: {ibug}" in printed and "(inter-ocular)" in printed
    saved = json.loads((out/'layout.json').read_text())
    assert saved['flip_idx'] == ibug and saved['name'] == 'ibug68' and saved['norm_idx'] == [36, 45]
    assert json.loads((out/'metrics.json').read_text())['norm'] == 'iod'  # iBUG's flip map: iBUG's eye corners
    assert layout_of(load_learner(out/'model.pkl').dls).flip_idx == tuple(ibug)  # the layout travels with the model
    data = make_synthetic_faces(tmp_path/'faces', n=6, size=48, seed=3)
    assert main(f'eval {out/"model.pkl"} --data {data} --layout {out/"layout.json"} --out {tmp_path/"file"}'.split()) == 0
    assert main(f'eval {out/"model.pkl"} --data {data} --out {tmp_path/"own"}'.split()) == 0
    by_file,own = (json.loads((tmp_path/d/'metrics.json').read_text()) for d in ('file', 'own'))
    assert by_file['norm'] == own['norm'] == 'iod' and by_file['nme'] == own['nme']


def test_console_script():
    out = subprocess.run([sys.executable, '-c', 'from fastlandmarks.cli import main; main(["train", "--help"])'],
                         capture_output=True, text=True)
    assert '--heatmap-size' in out.stdout and '--resume' in out.stdout
