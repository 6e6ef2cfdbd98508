"""Benchmark 1: making heatmap targets, against the memory floor and a per-point loop; the Gaussian loss without targets.

    python benchmarks/bench_encoding.py [--device cuda] [--quick] [--out FILE.md]
"""
import numpy as np, torch
from _common import bench_args, compare, peak_bytes, write_result, table, ms, mib, ratio
from fastlandmarks.losses import gaussian_heatmap_loss_from_points
from fastlandmarks.core import scaled_to_cells
from fastlandmarks.heatmaps import gaussian_heatmaps, random_binary_heatmaps
from fastlandmarks.losses import gaussian_heatmap_loss

GOAL = 1.5  # times the memory floor


def loop_heatmaps(pts, size:int, sigma=2., xp=np):
    "Reference, the way tutorials write it: zeros, then one Gaussian patch (radius 3σ) per point, in a Python loop"
    c = scaled_to_cells(pts.cpu(), size).tolist()
    out = xp.zeros((pts.shape[0], pts.shape[1], size, size), dtype=xp.float32)
    r = int(3*sigma)
    for b,item in enumerate(c):
        for k,(x,y) in enumerate(item):
            if not (-0.5 <= x < size-0.5 and -0.5 <= y < size-0.5): continue  # missing (NaN) or outside
            xs = xp.arange(max(0, round(x)-r), min(size, round(x)+r+1))
            ys = xp.arange(max(0, round(y)-r), min(size, round(y)+r+1))
            out[b, k, int(ys[0]):int(ys[-1])+1, int(xs[0]):int(xs[-1])+1] = xp.exp(
                -((xs[None,:]-x)**2 + (ys[:,None]-y)**2) / (2*sigma**2))
    return torch.as_tensor(out).to(pts.device)


def random_points(b:int, k:int, device, missing=0.03, seed=0):
    "Points uniform over the image, a share of them missing (NaN)"
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(b, k, 2, generator=g)*2 - 1
    pts[torch.rand(b, k, generator=g) < missing] = float('nan')
    return pts.to(device)


def encoding_rows(args, b, k, sizes, sigma=2.):
    "Time, ratios and peak memory of each encoder at each heatmap size"
    pts, rows, data = random_points(b, k, args.device), [], []
    for s in sizes:
        out_bytes = 4*b*k*s*s
        buf = torch.empty(b, k, s, s, device=args.device)
        fns = {'memory floor: `torch.ones` of the output size': lambda: torch.ones(b, k, s, s, device=args.device),
               'for reference: `fill_` of a tensor allocated before': lambda: buf.fill_(1.),
               '`gaussian_heatmaps`': lambda: gaussian_heatmaps(pts, s, sigma),
               '`random_binary_heatmaps`': lambda: random_binary_heatmaps(pts, s),
               'per-point loop, torch': lambda: loop_heatmaps(pts, s, sigma, xp=torch),
               'per-point loop, numpy': lambda: loop_heatmaps(pts, s, sigma, xp=np)}
        if args.device.type=='cuda': fns.pop('per-point loop, numpy')  # it runs on the CPU
        res = compare(fns, args.device, args.repeats, base='memory floor: `torch.ones` of the output size')
        ours = res['`gaussian_heatmaps`']['s']
        for name,r in res.items():
            peak = peak_bytes(fns[name], args.device)
            vs_ours = ratio(r['s']/ours) if 'loop' in name else ''
            rows.append([f'{s}×{s}', name, ms(r['s']), ratio(r['ratio']), vs_ours, mib(peak), ratio(peak/out_bytes)])
            data.append(dict(size=s, method=name, seconds=r['s'], x_floor=r['ratio'], peak_bytes=peak, output_bytes=out_bytes))
    return rows, data


def loss_rows(args, cases, k, sigma=2.):
    "Encode + MSE against the loss from the points: forward, forward + backward, peak memory, and their agreement"
    rows, data = [], []
    for b,p,s in cases:
        pts = random_points(b, k, args.device, seed=1)
        pred = torch.rand(b, k, p, p, device=args.device, requires_grad=True)
        losses = {'encode + `gaussian_heatmap_loss`': lambda: gaussian_heatmap_loss(pred, gaussian_heatmaps(pts, s, sigma)),
                  '`gaussian_heatmap_loss_from_points`': lambda: gaussian_heatmap_loss_from_points(pred, pts, sigma, s)}
        def step(f):
            def fb(): f().backward(); pred.grad = None
            return fb
        with torch.no_grad(): fwd = compare(losses, args.device, args.repeats, base='encode + `gaussian_heatmap_loss`')
        both = compare({n:step(f) for n,f in losses.items()}, args.device, args.repeats, base='encode + `gaussian_heatmap_loss`')
        (l0,g0),(l1,g1) = [(l, *torch.autograd.grad(l, pred)) for l in (f() for f in losses.values())]
        agree = f'loss differs by {abs(l0-l1).item():.1e} (of {l0.item():.3f}), gradient by at most {(g0-g1).abs().max().item():.1e}'
        for n in losses:
            peak = peak_bytes(step(losses[n]), args.device)
            rows.append([f'{b}×{k}×{p}×{p} → {s}×{s}', n, ms(fwd[n]['s']), ratio(fwd[n]['ratio']), ms(both[n]['s']),
                         ratio(both[n]['ratio']), mib(peak)])
            data.append(dict(batch=b, pred_size=p, target_size=s, method=n, forward_s=fwd[n]['s'], forward_ratio=fwd[n]['ratio'],
                             step_s=both[n]['s'], step_ratio=both[n]['ratio'], peak_bytes=peak, agreement=agree))
        rows.append(['', f'*{agree}*', '', '', '', '', ''])
    return rows, data


def main():
    args = bench_args('encoding', __doc__)
    b,k,sizes = (4,8,(16,32)) if args.quick else (64,68,(64,256))
    cases = [(4,16,16), (2,32,16)] if args.quick else [(64,64,64), (16,256,64)]
    enc, enc_data = encoding_rows(args, b, k, sizes)
    loss, loss_data = loss_rows(args, cases, k)
    worst = max(d['x_floor'] for d in enc_data if 'heatmaps`' in d['method'])
    verdict = 'met' if worst<=GOAL else f'not met: {worst:.2f}×'
    body = f"""
Batch {b}, K = {k}, Gaussian σ = 2 cells, 3% of the points missing; {args.repeats} interleaved rounds, medians.
"× floor" is each method's time over the time to allocate and write a tensor of the output's size once (`torch.ones`),
measured in the same round; "loop ÷ ours" is a per-point loop's time over `gaussian_heatmaps`'. Peak memory is what the
step allocates at its highest, in MiB and as a multiple of the output's size (see the method in `benchmarks/_common.py`).

**Goal: both encoders within {GOAL}× of the memory floor — {verdict}** (worst {worst:.2f}×).

{table(['heatmap', 'method', 'time', '× floor', 'loop ÷ ours', 'peak memory', 'peak ÷ output'], enc)}

On the CPU most of the floor is the kernel handing the process fresh zeroed pages: a large tensor is returned to the
system when freed and faulted in again by the next allocation, which writing into a tensor allocated before (the
"for reference" row) avoids. Every method that writes a new output pays it once; the per-point loops pay it as well
(for their zeros) and add one small kernel (torch) or one numpy expression per point.

### The Gaussian loss without target heatmaps

The Gaussian target is separable, `g = g_y g_xᵀ`, so per channel `Σ(pred − g)² = Σpred² − 2 g_yᵀ pred g_x + Σg_y² Σg_x²`.
`gaussian_heatmap_loss_from_points` (in `fastlandmarks.losses`; `gaussian_heatmap_loss` calls it when given points)
computes that, with the same masking as `gaussian_heatmap_loss` (channels of missing or outside points ignored, the mean
over present channels × h × w) and the same resizing of larger or smaller predictions (`match_size`); its backward
writes the gradient (with the default foreground weighting, the target too, once). It is compared with making the targets (`gaussian_heatmaps`) and then `gaussian_heatmap_loss`,
forward alone (no gradient) and forward + backward; "×" is the time over the encode + MSE time of the same round. Its
agreement with encode + MSE is tested in `tests/test_point_loss.py`.

{table(['predictions → targets', 'method', 'forward', '×', 'forward + backward', '×', 'peak memory (fwd + bwd)'], loss)}
"""
    write_result(args, 'Target encoding and the Gaussian loss from points', body, {'encoding':enc_data, 'loss':loss_data})


if __name__ == '__main__': main()
