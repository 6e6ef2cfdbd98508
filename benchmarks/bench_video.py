"""Benchmark 7: video. Jitter and error of `predict_video`'s raw and One-Euro-smoothed landmarks on clips with known motion
made from held-out HELEN-29 photos.

    python benchmarks/bench_video.py [--data PATH] [--model FILE.pkl] [--quick] [--clips 15] [--out FILE.md]

Each clip moves, zooms and turns one held-out photo smoothly about its annotated face (`smooth_motion`, `write_clip`), so
that the truth of every frame is the photo's 29 landmarks mapped by the frame's affine map (`warp_points`). Two motions:
a gentle one, a head moving about as in a conversation, on which the bar is checked, and a brisk one, four times as
fast, which shows what a first-order filter's lag costs when a face never stops. The model is
trained here on the training photos (the HRNet head on `hrnet_w18_small` from scratch, randomised-rounding heatmaps,
`bench_real.py`'s settings: 96 px, 20 epochs), or given with `--model`. `predict_video` detects the faces on the first
frame with dlib's HOG detector and follows them; the annotated face is, on each frame, the face whose landmarks' box
overlaps its true landmarks' box most (IoU at least 0.3).

Jitter is the mean absolute frame-to-frame second difference of the landmarks' coordinates (`jitter`), in pixels; the
error of a frame is the mean distance of its landmarks to the truth over the frame's inter-ocular distance (outer eye
corners, HELEN-29's `norm_idx`), in %. The issue's bar: smoothed trajectories jitter at least 3× less than the raw ones,
and their mean error grows by at most 1% of the inter-ocular distance. The defaults are chosen by the rule in `CHOICE`. The tracking (and so the raw landmarks) does not
depend on the filter, so the grid of One-Euro parameters is measured by filtering the same raw trajectories again
(`OneEuroFilter`, exactly what `predict_video` does with those parameters). The photos are not in the repository:
`--data`, else `$FASTLANDMARKS_REAL_DATA`, else `../shared/data/helen29` (see `_real.py`); without them the benchmark
says so and writes nothing.
"""
import sys, tempfile, time
from pathlib import Path
import numpy as np, torch
from fastai.vision.all import load_learner, plt
from torchvision.ops import box_iou
from _common import HERE, bench_args, table, write_result
from _real import face_files, face_points, find_real_data, read_photo, split_by_photo, ENV_VAR
from bench_real import train_setup
from fastlandmarks.layouts import get_layout
from fastlandmarks.readers import points_box
from fastlandmarks.video import ONE_EURO, OneEuroFilter, jitter, predict_video, smooth_motion, warp_points, write_clip

SETUP = 'hrnet-binary'  # bench_real's HRNet head on randomised-rounding heatmaps
MOTIONS = dict(gentle=dict(frames=240, shift=0.04, zoom=0.05, rotate=2.5, cycles=1.),
               brisk=dict(frames=120, shift=0.08, zoom=0.1, rotate=5., cycles=1.))
GRID = dict(min_cutoff=(0.3, 0.5, 1., 2.), beta=(0.01, 0.03, 0.1, 0.3))
CHOICE = ("the setting of the grid that cuts the gentle clips' jitter most while their error grows by at most half the bar "
          "(0.5% of the inter-ocular distance) and the brisk clips' by at most the bar (1%)")


def model(args):
    "The landmark learner: `--model`, or trained on the training photos with `bench_real`'s settings (exported for `--model` next time)"
    if args.model: return load_learner(args.model), None
    learn,seconds = train_setup(args, SETUP, 0)
    fn = Path(tempfile.gettempdir())/'fastlandmarks_bench_video_model.pkl'
    learn.export(fn)
    print(f'trained in {seconds:.0f} s; exported to {fn} (pass --model {fn} to reuse it)')
    return learn, seconds


def annotated_face(frames:list, truth:torch.Tensor)->tuple:
    "Raw and smoothed landmarks `(T, K, 2)` of the face that overlaps the annotated face's box most on each frame (`NaN` where none does)"
    raw,smooth = (torch.full_like(truth, float('nan')) for _ in range(2))
    for t,faces in enumerate(frames):
        if not faces: continue
        iou = box_iou(torch.stack([points_box(f.raw) for f in faces]), points_box(truth[t])[None])[:,0]
        if iou.max()>=0.3: raw[t],smooth[t] = faces[int(iou.argmax())].raw,faces[int(iou.argmax())].points
    return raw, smooth


def error(pts, truth, norm_idx)->float:
    "Mean over frames (with a face) of the mean landmark distance to the truth over the frame's inter-ocular distance, in %"
    iod = (truth[:,norm_idx[0]] - truth[:,norm_idx[1]]).norm(dim=-1)
    per_frame = (pts - truth).norm(dim=-1).mean(-1)/iod
    return 100*float(per_frame.nanmean())


def refiltered(raw:torch.Tensor, fps:float, **kw)->torch.Tensor:
    "The One-Euro filter of raw trajectories `(T, K, 2)`, started afresh after each frame without the face, as a new track is"
    f,res = OneEuroFilter(fps, **kw),torch.full_like(raw, float('nan'))
    for t,p in enumerate(raw):
        if p.isnan().all(): f.reset(); continue
        res[t] = f(p)
    return res


def measure_clip(learn, fn, args, norm_idx, motion:dict)->dict:
    "Make the clip of photo `fn` with `motion` and measure `predict_video` on it: the annotated face's trajectories, the truth, the tracks"
    photo,pts = read_photo(fn),face_points([fn])[0]
    h = w = args.frame_size
    scale = args.iod/float((pts[norm_idx[0]] - pts[norm_idx[1]]).norm())  # every face at the same size
    maps = smooth_motion(motion['frames'], pts.mean(0), (h, w), scale=scale, **{k:v for k,v in motion.items() if k!='frames'})
    with tempfile.TemporaryDirectory() as d:
        clip = write_clip(Path(d)/'clip.mp4', photo, maps, (h, w), args.fps)
        t = time.perf_counter()
        frames = predict_video(learn, clip, progress=False)
        seconds = time.perf_counter()-t
    truth = warp_points(pts, maps)
    raw,smooth = annotated_face(frames, truth)
    return dict(photo=fn.name, scale=scale, raw=raw, smooth=smooth, truth=truth, seconds=seconds,
                frames_found=int((~raw.isnan().any(-1).any(-1)).sum()), tracks=len({f.face for fs in frames for f in fs}))


def speed(clips, fps, norm_idx)->float:
    "The landmarks' mean true speed, in inter-ocular distances per second"
    return float(np.mean([((c['truth'][1:] - c['truth'][:-1]).norm(dim=-1).mean(-1)*fps
                           / (c['truth'][:,norm_idx[0]] - c['truth'][:,norm_idx[1]]).norm(dim=-1)[1:]).mean() for c in clips]))


def figures(clips, fps, norm_idx, **kw)->dict:
    "Jitter (px) and error (% IOD) of the raw and smoothed trajectories over all clips, smoothed with One-Euro parameters `kw`"
    raw = [c['raw'] for c in clips]
    smooth = [refiltered(r, fps, **kw) for r in raw]
    jr,js = np.nanmean([jitter(r) for r in raw]),np.nanmean([jitter(s) for s in smooth])   # clips whose face was never found left out
    er = np.nanmean([error(r, c['truth'], norm_idx) for r,c in zip(raw, clips)])
    es = np.nanmean([error(s, c['truth'], norm_idx) for s,c in zip(smooth, clips)])
    return dict(**kw, jitter_raw=jr, jitter_smooth=js, jitter_ratio=jr/js, error_raw=er, error_smooth=es, error_growth=es-er,
                meets=bool(jr/js>=3 and es-er<=1))


def choose(grid:list)->dict|None:
    "The setting `CHOICE` describes, among the grid's rows (each a dict of the gentle and the brisk figures)"
    ok = [r for r in grid if r['gentle']['error_growth']<=0.5 and r['brisk']['error_growth']<=1]
    return max(ok, key=lambda r: r['gentle']['jitter_ratio'], default=None)


def trajectory_plot(fn, clip, fps):
    "One landmark's x over the frames of one clip: the truth, the raw and the smoothed predictions"
    fig,ax = plt.subplots(figsize=(7,3))
    t = np.arange(len(clip['truth']))/fps
    for pts,label in ((clip['truth'], 'truth'), (clip['raw'], 'raw'), (clip['smooth'], 'smoothed (One-Euro, the defaults)')):
        ax.plot(t, pts[:,20,0].numpy(), label=label, lw=1)
    ax.set_xlabel('time (s)'); ax.set_ylabel('x of the nose tip (px)'); ax.legend(fontsize=8); ax.grid(alpha=0.3)
    ax.set_title(f"gentle clip of {clip['photo']}")
    fn.parent.mkdir(parents=True, exist_ok=True); fig.tight_layout(); fig.savefig(fn, dpi=100); plt.close(fig)
    return fn


HEADER = ['motion', 'jitter raw (px)', 'jitter smoothed (px)', 'raw ÷ smoothed', 'error raw (% IOD)', 'error smoothed (% IOD)',
          'growth (% IOD)', 'meets the bar']


def row(motion:str, r:dict)->list:
    return [motion, f"{r['jitter_raw']:.3f}", f"{r['jitter_smooth']:.3f}", f"{r['jitter_ratio']:.2f}×", f"{r['error_raw']:.2f}",
            f"{r['error_smooth']:.2f}", f"{r['error_growth']:+.2f}", 'yes' if r['meets'] else 'no']


def main():
    args = bench_args('video', __doc__.splitlines()[0], data=(str, None, f'the HELEN-29 folder (default: ${ENV_VAR}, else ../shared/data/helen29)'),
                      model=(str, None, 'an exported landmark model (.pkl) trained on the training photos; trained here by default'),
                      clips=(int, 15, 'held-out photos made into clips, for each motion'), fps=(float, 30., 'frames per second'),
                      frame_size=(int, 320, 'side of the square frames in pixels'), iod=(float, 64., "inter-ocular distance of the faces in the clips, in pixels"),
                      epochs=(int, 20, 'epochs of the model trained here'), size=(int, 96, 'input side in pixels'),
                      heatmap_size=(int, 24, 'heatmap side in cells'), sigma=(float, 1.5, 'unused by randomised rounding'),
                      bs=(int, 16, 'batch size'), arch=(str, 'hrnet_w18_small', "the body: one of timm's HRNets"),
                      lr=(float, 2e-3, 'peak learning rate'),
                      cache=(str, None, "a file keeping the clips' measured trajectories: written after measuring, read instead of measuring when it exists"))
    found = find_real_data(args.data)
    if found is None:
        print(f'no real faces: pass --data PATH (a folder of HELEN-29 .jpg + .pts) or set {ENV_VAR}; nothing written'); return 0
    args.data = str(found)
    motions = {k:dict(v) for k,v in MOTIONS.items()}
    if args.quick:
        args.clips,args.epochs = 2,1
        for m in motions.values(): m['frames'] = 20
    if '--out' not in sys.argv and not args.quick: args.out = HERE/'video'/'video_cpu.md'  # committed, as real/: its photos are not
    torch.set_num_threads(1)
    learn,train_s = (None, None) if args.cache and Path(args.cache).exists() else model(args)
    norm_idx = get_layout('helen29').norm_idx
    test = split_by_photo(face_files(args.data))[1]
    every = max(1, len(test)//args.clips)
    photos = test[::every][:args.clips]
    if args.cache and Path(args.cache).exists(): clips,train_s,args.model = torch.load(args.cache, weights_only=False)
    else:
        clips = {k:[measure_clip(learn, fn, args, norm_idx, m) for fn in photos] for k,m in motions.items()}
        if args.cache: torch.save((clips, train_s, args.model), args.cache)
        for c in clips['gentle']:  # predict_video smoothed them as the grid does: on a face followed throughout by one track, the same
            if c['tracks']==1 and c['frames_found']==len(c['truth']):
                assert torch.allclose(refiltered(c['raw'], args.fps, **ONE_EURO), c['smooth'], atol=1e-3), c['photo']
    for cs in clips.values():
        for c in cs: c['smooth'] = refiltered(c['raw'], args.fps, **ONE_EURO)  # the defaults' trajectories, as predict_video's
    default = {k:figures(c, args.fps, norm_idx, **ONE_EURO) for k,c in clips.items()}
    grid = [{'min_cutoff':m, 'beta':b, **{k:figures(c, args.fps, norm_idx, min_cutoff=m, beta=b, d_cutoff=ONE_EURO['d_cutoff']) for k,c in clips.items()}}
            for m in GRID['min_cutoff'] for b in GRID['beta']]
    chosen = choose(grid)
    png = trajectory_plot(args.out.with_suffix('.png'), clips['gentle'][0], args.fps)
    speeds = {k:speed(c, args.fps, norm_idx) for k,c in clips.items()}
    g = default['gentle']
    per_clip = [[c['photo'], f"{c['scale']:.2f}", f"{c['frames_found']}/{motions['gentle']['frames']}", c['tracks'],
                 f"{jitter(c['raw']):.2f}", f"{jitter(c['smooth']):.2f}", f"{jitter(c['truth']):.2f}",
                 f"{error(c['raw'], c['truth'], norm_idx):.2f}", f"{error(c['smooth'], c['truth'], norm_idx):.2f}"] for c in clips['gentle']]
    grid_rows = [[r['min_cutoff'], r['beta'], *(f"{r[k]['jitter_ratio']:.2f}× / {r[k]['error_growth']:+.2f}" for k in motions),
                  '**chosen**' if r is chosen else ''] for r in grid]
    trained = (f"trained here in {train_s/60:.1f} minutes (`{SETUP}` of `bench_real.py`: `{args.arch}` from scratch, {args.size} px, "
               f"{args.heatmap_size}×{args.heatmap_size} heatmaps, {args.epochs} epochs)") if train_s is not None else (
               f"`{args.model}`, given with `--model` (without it, the benchmark trains `{SETUP}` of `bench_real.py` on the training photos)")
    found_txt = '; '.join(f"{k}: the face followed on {sum(c['frames_found'] for c in cs)} of {sum(len(c['truth']) for c in cs)} frames"
                          for k,cs in clips.items())
    motion_txt = '; '.join(f"{k}, {m['frames']} frames ({m['frames']/args.fps:.0f} s), up to {m['shift']:.0%} of the frame each way, "
                           f"±{m['zoom']:.0%} zoom, ±{m['rotate']:g}°: the landmarks move {speeds[k]:.2f} inter-ocular distances a second on average"
                           for k,m in motions.items())
    brisk = [r for r in grid if r['brisk']['meets']]
    brisk_txt = (f"On the brisk clips {len(brisk)} of the {len(grid)} settings meet the bar." if brisk else
                 "On the brisk clips no setting both cuts the jitter 3× and keeps the growth within 1%: a first-order filter that "
                 "smooths that much trails a face that never stops by more than that.")
    body = f"""
{len(photos)} held-out HELEN-29 photos (one in every {every} of the {len(test)} held-out faces), each made into a clip of
{args.frame_size}×{args.frame_size} px at {args.fps:g} fps for each of two motions, the photo scaled so that its annotated face's
inter-ocular distance is {args.iod:g} px and moved on a figure of eight about the frame's centre (`smooth_motion`), written as
MPEG-4 (`write_clip`). The motions: {motion_txt}. The truth itself, moving smoothly, jitters
{np.mean([jitter(c['truth']) for c in clips['gentle']]):.3f} px (gentle) and {np.mean([jitter(c['truth']) for c in clips['brisk']]):.3f} px (brisk).
The model: {trained}. `predict_video` with dlib's HOG detector ({found_txt}); jitter is the mean absolute frame-to-frame
second difference of the landmarks' coordinates, the error the mean landmark distance to the known truth over the
inter-ocular distance (outer eye corners), averaged over the frames with the face, then over the clips.

**With the library's defaults (`ONE_EURO` = `{ONE_EURO}`), on the gentle clips smoothing {'meets' if g['meets'] else 'does not meet'} the bar:
jitter {g['jitter_raw']:.3f} → {g['jitter_smooth']:.3f} px ({g['jitter_ratio']:.2f}× less; the bar is 3×), error
{g['error_raw']:.2f} → {g['error_smooth']:.2f}% of the inter-ocular distance ({g['error_growth']:+.2f}; the bar is +1).**

{table(HEADER, [row(k, r) for k,r in default.items()])}

The defaults are {CHOICE}: {'none qualifies' if chosen is None else f"min_cutoff = {chosen['min_cutoff']} Hz, beta = {chosen['beta']}"}; they
were chosen on these clips. The grid, each cell the jitter ratio (raw ÷ smoothed) and the error's growth (% IOD), every
row filtering the same raw trajectories again (`d_cutoff` = {ONE_EURO['d_cutoff']} Hz). {brisk_txt}

{table(['min_cutoff (Hz)', 'beta (Hz per px/s)', *[f'{k} clips' for k in motions], ''], grid_rows)}

Per gentle clip, with the defaults:

{table(['photo', 'scale', 'frames with the face', 'tracks', 'jitter raw', 'jitter smoothed', 'jitter of the truth',
        'error raw (% IOD)', 'error smoothed (% IOD)'], per_clip)}

![The nose tip's x over the first gentle clip: truth, raw and smoothed]({png.resolve().relative_to(HERE.resolve()) if png.resolve().is_relative_to(HERE.resolve()) else png})
"""
    strip = lambda c: {k:v for k,v in c.items() if not isinstance(v, torch.Tensor)} | dict(
        jitter_raw=jitter(c['raw']), jitter_smooth=jitter(c['smooth']), jitter_truth=jitter(c['truth']),
        error_raw=error(c['raw'], c['truth'], norm_idx), error_smooth=error(c['smooth'], c['truth'], norm_idx))
    write_result(args, 'Video: smoothed landmarks on clips with known motion', body,
                 dict(default=default, grid=grid, chosen=chosen, choice=CHOICE, motions=motions, speeds=speeds, one_euro=ONE_EURO,
                      train_s=train_s, clips={k:[strip(c) for c in cs] for k,cs in clips.items()},
                      settings={k:getattr(args, k) for k in ('clips', 'fps', 'frame_size', 'iod', 'epochs', 'size', 'heatmap_size', 'bs', 'arch', 'lr', 'model')}))
    return 0


if __name__ == '__main__': sys.exit(main())
