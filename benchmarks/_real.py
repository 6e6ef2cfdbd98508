"""Real faces for the benchmarks: HELEN-29 (348 faces of 312 HELEN photos, 29 landmarks), split by source photo.

The data is not in the repository: `real_data_path` finds it from an argument, the environment variable
`FASTLANDMARKS_REAL_DATA`, or `../shared/data/helen29` beside the repository. Errors are measured in photo pixels and
normalised by the distance between the outer eye corners (`helen29`'s `norm_idx`, landmarks 8 and 9), as dlib's reference
figure is.
"""
import os
from pathlib import Path
import numpy as np
import torch
from PIL import Image
from fastlandmarks.metrics import auc_fr, nme
from fastlandmarks.boxes import grow_box, points_box
from fastlandmarks.readers import read_pts

ENV_VAR = 'FASTLANDMARKS_REAL_DATA'
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'helen29'
N_POINTS = 29


def find_real_data(path=None)->Path|None:
    "The HELEN-29 folder from `path`, else `$FASTLANDMARKS_REAL_DATA`, else `../shared/data/helen29`; `None` if it has no faces"
    folder = Path(path or os.environ.get(ENV_VAR) or DEFAULT_DATA).expanduser()
    return folder if folder.is_dir() and any(folder.glob('*.pts')) else None


def real_data_path(path=None)->Path:
    "As `find_real_data`, but raise a `FileNotFoundError` that says what to do when the folder is missing"
    folder = find_real_data(path)
    if folder is None:
        where = path or os.environ.get(ENV_VAR) or DEFAULT_DATA
        raise FileNotFoundError(f"no HELEN-29 faces (.jpg + .pts) in {where}: pass --data PATH or set {ENV_VAR}=PATH")
    return folder


def face_files(path=None)->list:
    "The face images (`SOURCE_N.jpg`) of the HELEN-29 folder, sorted by name"
    return sorted(real_data_path(path).glob('*.jpg'))


def source_photo(fn)->str:
    "The source photo a face comes from: its file stem before the last `_` (`100040721_2.jpg` -> `100040721`)"
    return Path(fn).stem.rsplit('_', 1)[0]


def split_by_photo(files, every=5, offset=0)->tuple:
    "`(train_files, test_files)`: the faces of each `every`-th source photo (sorted by name, from index `offset`) are for testing"
    photos = sorted({source_photo(f) for f in files})
    test_photos = set(photos[offset::every])
    train = [f for f in files if source_photo(f) not in test_photos]
    test = [f for f in files if source_photo(f) in test_photos]
    assert not {source_photo(f) for f in train} & {source_photo(f) for f in test}, 'a photo is on both sides'
    return train, test


def face_points(files)->torch.Tensor:
    "The landmarks `(N, 29, 2)` of the faces `files`, in continuous photo pixels"
    return torch.stack([torch.as_tensor(read_pts(f, N_POINTS)).float() for f in files])


def face_boxes(pts:torch.Tensor, margin=0.1, square=False)->torch.Tensor:
    "Boxes `(N, 4)` as `(x0, y0, x1, y1)`: the extent of each face's landmarks grown by `margin` on each side"
    return grow_box(points_box(pts), margin, square=square)


def read_photo(fn)->np.ndarray:
    "The photo `fn` as an RGB `uint8` array `(H, W, 3)`"
    with Image.open(fn) as im: return np.asarray(im.convert('RGB'))


def real_report(pred_pts, targ_pts)->dict:
    "NME (mean, median), AUC@8%, failure rate @10% and each face's NME (`errors`) of `(N, 29, 2)` predictions in photo pixels, all in %"
    errors = nme(pred_pts, targ_pts, norm='iod', layout='helen29').double()
    auc8,_ = auc_fr(errors, 0.08)
    _,fr10 = auc_fr(errors, 0.1)
    e = errors.numpy()
    return dict(n_faces=len(e), nme=100*float(np.nanmean(e)), median_nme=100*float(np.nanmedian(e)), auc8=100*auc8, fr10=100*fr10,
                errors=(100*e).round(4).tolist())
