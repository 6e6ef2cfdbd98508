#!/usr/bin/env python
"`make demo`'s last step: predict with `fastlandmarks predict` on synthetic faces the model never saw, and compare with the truth."
import json, sys
from pathlib import Path
import numpy as np
from PIL import Image
from fastlandmarks.cli import main
from fastlandmarks.synthetic import synthetic_face

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

if __name__ == '__main__': check(sys.argv[1], int(sys.argv[2]))
