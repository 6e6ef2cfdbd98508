"""Benchmark 2: the error of each heatmap decoder on exact and noisy Gaussian targets, and its time per batch.

    python benchmarks/bench_decoding.py [--device cuda] [--quick] [--out FILE.md]
"""
import torch
from _common import bench_args, compare, write_result, table, ms, ratio
from bench_encoding import random_points
from fastlandmarks.core import scaled_to_cells
from fastlandmarks.heatmaps import gaussian_heatmaps, decode_argmax, decode_subpixel, decode_soft_argmax, decode_topk

GOAL = 0.01  # heatmap cells, for the default decoder on exact Gaussian targets
DECODERS = {'`decode_argmax`': decode_argmax, '`decode_subpixel` (default)': decode_subpixel,
            '`decode_soft_argmax`': decode_soft_argmax, '`decode_topk`': decode_topk}
LOGIT_DECODERS = ('`decode_soft_argmax`', '`decode_topk`')  # made for logits: also given the log of the heatmap


def logits(hm): return hm.clamp(min=1e-6).log()


def decoder_inputs():
    "(column name, decoder, transform of the heatmap it is given)"
    cols = [(n, d, None) for n,d in DECODERS.items()]
    return cols + [(f'{n} on log-heatmap', DECODERS[n], logits) for n in LOGIT_DECODERS]


def errors(args, b, k, sizes, sigmas, noises):
    "Mean and maximum distance (cells) between decoded and true points, per size, sigma, noise and decoder"
    pts = random_points(b, k, args.device, missing=0)
    g = torch.Generator(device=args.device).manual_seed(0)
    rows, data = [], []
    for s in sizes:
        truth = scaled_to_cells(pts, s)
        for sigma in sigmas:
            if sigma > s/2: continue
            exact = gaussian_heatmaps(pts, s, sigma)
            for noise in noises:
                hm = exact + noise*torch.randn(exact.shape, generator=g, device=args.device) if noise else exact
                row = [f'{s}×{s}', sigma, noise]
                for name,dec,tfm in decoder_inputs():
                    err = (dec(tfm(hm) if tfm else hm) - truth).norm(dim=-1)
                    row.append(f'{err.mean():.4f} / {err.max():.3f}')
                    data.append(dict(size=s, sigma=sigma, noise=noise, decoder=name, mean=err.mean().item(), max=err.max().item()))
                rows.append(row)
            del exact, hm
    return rows, data


def timings(args, b, k, sizes, sigma=2.):
    "Time per batch of each decoder, and its ratio to reading the heatmaps once"
    rows, data = [], []
    for s in sizes:
        hm = gaussian_heatmaps(random_points(b, k, args.device), s, sigma)
        fns = {'floor: read once (`amax`)': lambda: hm.amax((-2,-1)), **{n:(lambda d=d: d(hm)) for n,d in DECODERS.items()}}
        res = compare(fns, args.device, args.repeats, base='floor: read once (`amax`)')
        for n,r in res.items():
            rows.append([f'{b}×{k}×{s}×{s}', n, ms(r['s']), ratio(r['ratio'])])
            data.append(dict(size=s, batch=b, k=k, decoder=n, seconds=r['s'], x_floor=r['ratio']))
        del hm
    return rows, data


def main():
    args = bench_args('decoding', __doc__)
    sizes, sigmas, noises = ((16,32), (1.,2.), (0.,0.05)) if args.quick else ((64,256), (1.,2.,3.), (0.,0.05))
    b_err, b_time, k = (2,4,8) if args.quick else (16,64,68)
    err_rows, err_data = errors(args, b_err, k, sizes, sigmas, noises)
    time_rows, time_data = timings(args, b_time, k, sizes)
    worst = max(d['max'] for d in err_data if d['noise']==0 and d['decoder']=='`decode_subpixel` (default)')
    verdict = 'met' if worst<=GOAL else f'not met: {worst:.4f} cells'
    body = f"""
{b_err*k} points per row ({b_err} images × {k} landmarks), uniform over the whole image (edges included); the error is the
distance between decoded and true point in heatmap cells, mean / maximum. Noisy targets add i.i.d. Gaussian noise of the
given standard deviation to every cell (the peak is 1). `decode_soft_argmax` and `decode_topk` are meant for logits,
so they are also given the logarithm of the heatmap (clamped at 10⁻⁶), the logits whose softmax is the normalised Gaussian.

**Goal: the default decoder within {GOAL} cells of the point on exact Gaussian targets — {verdict}** (worst {worst:.1e} cells).

{table(['heatmap', 'σ', 'noise', *[n for n,_,_ in decoder_inputs()]], err_rows)}

Time per batch, {args.repeats} interleaved rounds, medians; "× floor" is the time over the time to read the heatmaps
once (a per-channel `amax`), in the same round.

{table(['batch', 'decoder', 'time', '× floor'], time_rows)}
"""
    write_result(args, 'Decoding heatmaps', body, {'errors':err_data, 'timings':time_data})


if __name__ == '__main__': main()
