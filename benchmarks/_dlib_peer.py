"""The classical peer on real faces: dlib's shape predictor (an ensemble of regression trees) trained on HELEN-29.

    python benchmarks/_dlib_peer.py [--data PATH] [--threads 1] [--offset 0] [--margin 0.1] [--square]

It is trained with dlib's own trainer (oversampling 20, otherwise its defaults) on the faces of 4 source photos in 5 and
tested on the faces of every 5th, each face given the box of its annotated landmarks grown by 10% on each side.
dlib's points are whole pixel indices (pixel centres at integers): the library's continuous pixels lose 0.5 and are
rounded on the way in, and predictions gain 0.5 on the way out, for training and testing alike.
"""
import argparse, time
import torch
from _real import face_boxes, face_files, face_points, read_photo, real_report, split_by_photo


def import_dlib():
    "The `dlib` module, or an `ImportError` that says how to install it"
    try: import dlib
    except ImportError as e: raise ImportError('the dlib peer needs dlib: pip install -e ".[bench]"') from e
    return dlib


def _index(v:float)->int:
    "The whole pixel index (dlib's convention, centres at integers) nearest the continuous coordinate `v`"
    return round(float(v) - 0.5)


def dlib_rect(box):
    "A `dlib.rectangle` on the pixels whose centres are the corners of `box` `(x0, y0, x1, y1)` (continuous pixels)"
    return import_dlib().rectangle(*(_index(v) for v in box))


def dlib_face(pts:torch.Tensor, box):
    "A `dlib.full_object_detection`: the landmarks `pts` `(K, 2)` (continuous pixels) on whole pixels, in `box`"
    dlib = import_dlib()
    return dlib.full_object_detection(dlib_rect(box), [dlib.point(_index(x), _index(y)) for x,y in pts.tolist()])


def shape_points(shape)->torch.Tensor:
    "The points `(K, 2)` of a `dlib.full_object_detection`, in continuous pixels"
    return torch.tensor([[p.x + 0.5, p.y + 0.5] for p in shape.parts()])


def train_dlib(files, margin=0.1, square=False, num_threads=1, **options)->tuple:
    "`(predictor, seconds)`: dlib's shape predictor trained on the faces `files` (oversampling 20, else dlib's defaults or `options`)"
    dlib = import_dlib()
    pts = face_points(files)
    faces = [[dlib_face(p, b)] for p,b in zip(pts, face_boxes(pts, margin, square))]
    photos = [read_photo(f) for f in files]
    opts = dlib.shape_predictor_training_options()
    opts.oversampling_amount, opts.num_threads = 20, num_threads
    for k,v in options.items(): setattr(opts, k, v)
    start = time.perf_counter()
    predictor = dlib.train_shape_predictor(photos, faces, opts)
    return predictor, time.perf_counter() - start


def predict_dlib(predictor, files, margin=0.1, square=False)->tuple:
    "`(points, ms_per_face)`: `predictor`'s landmarks `(N, K, 2)` of the faces `files` in their grown annotation boxes"
    boxes = face_boxes(face_points(files), margin, square)
    photos = [read_photo(f) for f in files]
    rects = [dlib_rect(b) for b in boxes]
    start = time.perf_counter()
    shapes = [predictor(im, r) for im,r in zip(photos, rects)]
    ms = 1000*(time.perf_counter() - start)/len(files)
    return torch.stack([shape_points(s) for s in shapes]), ms


def dlib_peer(data=None, offset=0, margin=0.1, square=False, num_threads=1, **options)->dict:
    "Train (with dlib's `options`, if any) and test dlib's shape predictor on the HELEN-29 split at `offset`: `real_report`'s figures and the timings"
    train, test = split_by_photo(face_files(data), offset=offset)
    predictor, train_s = train_dlib(train, margin, square, num_threads, **options)
    preds, ms = predict_dlib(predictor, test, margin, square)
    return dict(real_report(preds, face_points(test)), n_train=len(train), train_s=train_s, predict_ms=ms)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default=None, help='the HELEN-29 folder (default: $FASTLANDMARKS_REAL_DATA, else ../shared/data/helen29)')
    p.add_argument('--threads', type=int, default=1, help="threads for dlib's trainer")
    p.add_argument('--offset', type=int, default=0, help='test on the source photos whose index (sorted by name) %% 5 is this')
    p.add_argument('--margin', type=float, default=0.1, help='box growth on each side, as a fraction of the landmarks\' extent')
    p.add_argument('--square', action='store_true', help='square the grown boxes')
    a = p.parse_args()
    r = dlib_peer(a.data, a.offset, a.margin, a.square, a.threads)
    print(f"dlib shape predictor, HELEN-29, offset {a.offset}, margin {a.margin}{', square' if a.square else ''}: "
          f"{r['n_train']} training faces, {r['n_faces']} test faces\n"
          f"NME {r['nme']:.2f}%  median {r['median_nme']:.2f}%  AUC@8% {r['auc8']:.2f}%  FR@10% {r['fr10']:.1f}%\n"
          f"training {r['train_s']:.1f} s on {a.threads} thread(s), predicting {r['predict_ms']:.2f} ms a face (one thread)")


if __name__ == '__main__': main()
