#!/usr/bin/env python
"""`make demo`'s last step: predict with `fastlandmarks predict` on synthetic faces the model never saw, compare with the
truth, and fail when the validation NME or the new faces' median error is far from the figures README.md states."""
import json, re, sys
from pathlib import Path
import numpy as np
from PIL import Image
from fastlandmarks.cli import main
from fastlandmarks.synthetic import synthetic_face

ROOT = Path(__file__).resolve().parent.parent
FACTOR = 1.5  # the run is deterministic on one machine; another CPU or library version moves it a little, not by half

def stated(readme=ROOT/'README.md')->dict:
    "The demo's figures as README.md states them: validation NME (%) and the new faces' median error (px)"
    text = re.sub(r'\s+', ' ', readme.read_text())
    nme = re.search(r'`make demo`.*?validation NME of ([\d.]+)%', text)
    err = re.search(r'`make demo`.*?median error ([\d.]+) px', text)
    if not (nme and err): sys.exit("README.md no longer states the demo's validation NME and median error: update tools/demo_check.py")
    return dict(nme=float(nme[1]), median_px=float(err[1]))

def far(measured:float, expected:float, factor=FACTOR)->bool:
    "Whether `measured` is more than `factor` times off `expected`, either way"
    return not expected/factor <= measured <= expected*factor

def check(out, size, n=16, seed=999):
    out = Path(out).resolve()
    faces = out/'new_faces'; faces.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(n):
        img,lm = synthetic_face((seed, i), size)
        Image.fromarray(img).save(faces/f'face_{i:02d}.png'); truth[str(faces/f'face_{i:02d}.png')] = lm.numpy()
    main(['predict', str(out/'model.pkl'), str(faces), '--out', str(out/'predictions')])
    pred = json.loads((out/'predictions'/'landmarks.json').read_text())
    err = np.stack([np.linalg.norm(np.array(pred[f][0]['points']) - t, axis=-1) for f,t in truth.items()])  # one face: the whole image
    iod = np.median([np.linalg.norm(t[36]-t[45]) for t in truth.values()])
    print(f"new faces: {err.shape[1]} points each, error median {np.median(err):.2f} px, mean {err.mean():.2f} px "
          f"(median inter-ocular distance {iod:.1f} px); drawn in {out/'predictions'}")
    want = stated()
    got = dict(nme=json.loads((out/'metrics.json').read_text())['nme'], median_px=float(np.median(err)))
    bad = [f"{k}: {got[k]:.2f} against {want[k]} in README.md" for k in want if far(got[k], want[k])]
    if bad: sys.exit(f"the demo is more than {FACTOR}× off what README.md states: " + '; '.join(bad))
    print(f"as README.md states (within {FACTOR}×): validation NME {got['nme']:.2f}% (README {want['nme']}%), "
          f"median error {got['median_px']:.2f} px (README {want['median_px']} px)")

if __name__ == '__main__': check(sys.argv[1], int(sys.argv[2]))
