"""Benchmark 6: face detection on HELEN-29. The share of annotated faces each built-in detector finds, its time per photo,
and the calibration of its boxes to the landmarks' box.

    python benchmarks/bench_detect.py [--data PATH] [--yunet FILE.onnx] [--quick] [--out FILE.md]

A face is found when a detected box, calibrated to the landmarks' frame (`calibrate_boxes`), overlaps the box of its 29
annotated landmarks (`points_box`) with an IoU of at least 0.3; the issue's bar is 95% of the faces. The calibrations are
fitted on the training faces (the faces of 4 source photos in 5, `split_by_photo`), each face's best-overlapping raw
detection against its landmarks' box, and measured on the held-out faces. The photos are not in the repository:
`--data`, else `$FASTLANDMARKS_REAL_DATA`, else `../shared/data/helen29` (see `_real.py`); without them the benchmark
says so and writes nothing.

What the calibration does to landmarks is measured with a landmark model that trains in a minute on the CPU, dlib's shape
predictor (`_dlib_peer.py`, trained on the training faces in their landmarks' boxes grown by 10%): its NME on the
held-out faces each detector finds, in the box of the annotation, the raw detection and the calibrated detection, each
grown by the same 10%.
"""
import sys, time
import cv2, numpy as np, torch
from torchvision.ops import box_iou
from _common import HERE, bench_args, ms, table, write_result
from _real import face_files, face_points, find_real_data, read_photo, real_report, split_by_photo, ENV_VAR
from _dlib_peer import dlib_rect, shape_points, train_dlib
from fastlandmarks.detect import calibrate_boxes, fit_box_calibration, haar_detector, hog_detector, yunet_detector, DEFAULT_DETECTOR
from fastlandmarks.boxes import grow_box, points_box

MIN_IOU = 0.3


def dlib_version()->str:
    "dlib's version, or 'missing'"
    try: import dlib
    except ImportError: return 'missing'
    return dlib.__version__


def detectors(args)->tuple:
    "`({name: detector}, {name: why it is missing})` for the built-in detectors this machine has"
    makers = dict(hog=hog_detector, **{'hog, upsample=1': lambda: hog_detector(upsample=1)}, haar=haar_detector)
    if args.yunet: makers['yunet'] = lambda: yunet_detector(args.yunet)
    found,missing = {},{}
    for name,make in makers.items():
        try: found[name] = make()
        except (ImportError, FileNotFoundError) as e: missing[name] = str(e)
    if not args.yunet: missing['yunet'] = 'needs its .onnx file, which no wheel ships: pass --yunet FILE.onnx'
    return found, missing


def raw_detections(det, files)->tuple:
    "Each photo's raw boxes (the backend's frame) and the seconds each detection took"
    boxes,seconds = [],[]
    for f in files:
        img = read_photo(f)
        t = time.perf_counter(); b,_ = det.raw(img); seconds.append(time.perf_counter()-t)
        boxes.append(b)
    return boxes, seconds


def best_match(boxes:torch.Tensor, target:torch.Tensor)->tuple:
    "`(index, IoU)` of the box among `boxes` that overlaps `target` most; `(None, 0.)` without boxes"
    if not len(boxes): return None, 0.
    iou = box_iou(boxes, target[None])[:,0]
    return int(iou.argmax()), float(iou.max())


def measure(det, files, train:set, every:int)->dict:
    "Recall, timing and the calibration fitted on the `train` faces and measured on the others"
    files = files[::every]
    targets = points_box(face_points(files))
    raw,seconds = raw_detections(det, files)
    matches = [best_match(b, t) for b,t in zip(raw, targets)]
    fit = [(raw[i][j], targets[i]) for i,(j,iou) in enumerate(matches) if files[i].name in train and iou>=MIN_IOU]
    cal = fit_box_calibration(torch.stack([b for b,_ in fit]), torch.stack([t for _,t in fit])) if fit else det.calibration
    found = [best_match(calibrate_boxes(b, cal), t)[1]>=MIN_IOU for b,t in zip(raw, targets)]
    held = [i for i,(j,iou) in enumerate(matches) if files[i].name not in train and iou>=MIN_IOU]
    def mean_iou(frame, cal_):
        "Mean IoU, on the held-out faces found, of the calibrated box in `frame` with the annotation's"
        a = torch.stack([calibrate_boxes(raw[i][matches[i][0]], cal_) for i in held]); t = targets[held]
        if frame=='crop': a,t = grow_box(a, 0.25, True), grow_box(t, 0.25, True)
        return float(box_iou(a, t).diagonal().mean())
    held_faces = dict(files=[files[i] for i in held], raw=torch.stack([raw[i][matches[i][0]] for i in held]) if held else torch.zeros(0, 4))
    return held_faces, dict(n_faces=len(files), found=100*float(np.mean(found)), raw_found=100*float(np.mean([iou>=MIN_IOU for _,iou in matches])),
                ms_per_photo=1e3*float(np.median(seconds)), ms_mean=1e3*float(np.mean(seconds)),
                detections_per_photo=float(np.mean([len(b) for b in raw])), calibration=[round(c, 3) for c in cal],
                shipped_calibration=list(det.calibration), n_fit=len(fit), n_held=len(held),
                iou_raw=mean_iou('box', (0., 0., 1., 1.)), iou_calibrated=mean_iou('box', cal),
                crop_iou_raw=mean_iou('crop', (0., 0., 1., 1.)), crop_iou_calibrated=mean_iou('crop', cal))


def dlib_nme(predictor, files, boxes:torch.Tensor)->float:
    "Mean NME (%) of dlib's `predictor` on the faces `files`, each in its box of `boxes` grown by 10% on each side"
    shapes = [shape_points(predictor(read_photo(f), dlib_rect(b))) for f,b in zip(files, grow_box(boxes, 0.1, square=False))]
    return real_report(torch.stack(shapes), face_points(files))['nme']


def landmark_effect(predictor, held:dict, cal)->dict:
    "dlib's NME on the held-out faces found, in the annotation's box, the raw detection and the calibrated detection"
    files = held['files']
    return dict(n=len(files), annotation=dlib_nme(predictor, files, points_box(face_points(files))),
                raw=dlib_nme(predictor, files, held['raw']), calibrated=dlib_nme(predictor, files, calibrate_boxes(held['raw'], cal)))


def main():
    args = bench_args('detect', __doc__.splitlines()[0], data=(str, None, 'the HELEN-29 folder'),
                      yunet=(str, None, "YuNet's .onnx file, to measure it too"))
    if find_real_data(args.data) is None:
        print(f"no HELEN-29 faces (.jpg + .pts) found: pass --data PATH or set {ENV_VAR}=PATH (default ../shared/data/helen29); "
              "nothing measured, nothing written")
        return 0
    if '--out' not in sys.argv and not args.quick: args.out = HERE/'detect'/'detect_cpu.md'  # committed, as real/: its photos are not
    torch.set_num_threads(1)
    files = face_files(args.data)
    train = {f.name for f in split_by_photo(files)[0]}
    every = 10 if args.quick else 1
    found,missing = detectors(args)
    measured = {name: measure(det, files, train, every) for name,det in found.items()}
    res = {name: r for name,(_,r) in measured.items()}
    if not args.quick:
        predictor,_ = train_dlib([f for f in files if f.name in train])
        for name,(held,r) in measured.items(): r['dlib_nme'] = landmark_effect(predictor, held, r['calibration'])
    rows = [[f'`{n}`' + (' (default)' if n==DEFAULT_DETECTOR else ''), f"{r['found']:.1f}% ({r['raw_found']:.1f}%)", ms(r['ms_per_photo']/1e3),
             f"{r['detections_per_photo']:.2f}", '(' + ', '.join(f'{c:.3f}' for c in r['calibration']) + ')',
             f"{r['iou_raw']:.2f} → {r['iou_calibrated']:.2f}", f"{r['crop_iou_raw']:.2f} → {r['crop_iou_calibrated']:.2f}"] for n,r in res.items()]
    n = next(iter(res.values()))['n_faces'] if res else 0
    body = (f"{n} annotated faces of HELEN-29 (one face per photo, crops of the source photos: some show other people too). "
            f"A face is found when a detection, calibrated to the landmarks' box, overlaps its 29 landmarks' box with IoU ≥ {MIN_IOU} "
            "(in brackets: the raw detector boxes, uncalibrated). The calibration `(dx, dy, sx, sy)` (`calibrate_boxes`) is fitted "
            "on the training faces (4 source photos in 5); the IoUs are the mean, on the held-out faces, of the box with the "
            "landmarks' box and of the training crop (grown by 25%, squared) with the annotation's crop, raw → calibrated. "
            f"Time: median per photo (about 300–500 px), one thread. Backends: dlib {dlib_version()}, OpenCV {cv2.__version__} "
            "(the Haar cascades need OpenCV 4: `pip install 'opencv-python-headless<5'`).\n\n"
            + table(['detector', 'faces found (raw boxes)', 'ms / photo', 'detections / photo', 'calibration (dx, dy, sx, sy)',
                     'box IoU', 'crop IoU'], rows)
            + ''.join(f"\n\nNot measured: `{k}` ({v})." for k,v in missing.items()))
    if not args.quick:
        body += ("\n\nWhat the calibration does to landmarks: the NME (%, inter-ocular) of dlib's shape predictor, trained on the "
                 "training faces in their landmarks' boxes grown by 10%, on the held-out faces each detector finds, in each box "
                 "grown by the same 10%.\n\n"
                 + table(['detector', 'faces', "annotation's box", 'raw detection', 'calibrated detection'],
                         [[f'`{n}`', r['dlib_nme']['n'], *(f"{r['dlib_nme'][k]:.2f}" for k in ('annotation', 'raw', 'calibrated'))]
                          for n,r in res.items()]))
    write_result(args, 'Face detection on HELEN-29', body, dict(min_iou=MIN_IOU, detectors=res, missing=missing))
    return 0


if __name__ == '__main__': sys.exit(main())
