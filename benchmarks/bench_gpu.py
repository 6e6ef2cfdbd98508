"""Benchmark 5: HRNet training throughput through fastai, against the model's own forward + backward on resident tensors.

    python benchmarks/bench_gpu.py --device cuda [--out FILE.md]      # one GPU, a few minutes
    python benchmarks/bench_gpu.py --quick                             # a CPU smoke run of the same code
"""
from fastai.vision.all import *
from _common import bench_args, compare, peak_bytes, write_result, table, ms, mib
from bench_pipeline import SkipValidation, dots_dls, timed_epochs
from fastlandmarks.losses import gaussian_heatmap_loss

GOAL = 0.9  # fastai's images/s as a share of the ceiling's


def hrnet(dls, arch):
    "`hrnet_learner` on `arch`, untrained, channels-last with fp16 mixed precision on a GPU"
    try: from fastlandmarks.learner import hrnet_learner
    except ImportError as e: raise SystemExit(f"bench_gpu needs fastlandmarks.models (hrnet_learner): {e}")
    learn = hrnet_learner(dls, arch, pretrained=False, loss_func=gaussian_heatmap_loss)
    return learn.to_channelslast(use_amp=dls.device.type=='cuda')


def ceiling(learn, x, y, with_opt:bool):
    "One training step of `learn.model` on resident tensors, outside fastai: autocast and channels-last as in `learn`"
    model, amp = learn.model, x.device.type=='cuda'
    scaler = torch.amp.GradScaler('cuda', enabled=amp)
    def step():
        with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp): loss = learn.loss_func(model(x), y)
        scaler.scale(loss).backward()
        if with_opt: scaler.step(learn.opt); scaler.update()
        model.zero_grad(set_to_none=True)
    return step


def main():
    args = bench_args('gpu_throughput', __doc__, arch=(str, 'hrnet_w18', "timm HRNet"), batch=(int, 64, 'batch size'),
                      size=(int, 256, 'image size'), batches=(int, 40, 'training batches per epoch'),
                      workers=(int, 8, 'DataLoader worker processes'))
    if args.quick: args.arch,args.batch,args.size,args.batches,args.workers = 'hrnet_w18_small',4,64,2,0
    k, hm_size, dev = 68, args.size//4, args.device
    torch.backends.cudnn.benchmark = True
    n = int(args.batch*args.batches/0.9)+args.batch
    dls = dots_dls(n, args.size, k, args.batch, dev, heatmap_size=hm_size, sigma=2., num_workers=args.workers)
    learn = hrnet(dls, args.arch)
    learn.create_opt()
    with learn.no_logging(), learn.no_bar(): learn.fit(1, 1e-3)  # warm-up: cudnn's algorithm search, the workers
    x = torch.randn(args.batch, 3, args.size, args.size, device=dev).to(memory_format=torch.channels_last)
    y = torch.rand(args.batch, k, hm_size, hm_size, device=dev)
    n_batches = len(dls.train)
    def epochs(f):
        def run():
            for _ in range(n_batches): f()
        return run
    def fastai_epoch():
        with learn.no_logging(), learn.no_bar(): learn.fit(1, 1e-3, cbs=SkipValidation())
    fns = {'fastai training (data, augmentation, targets, model, optimiser)': fastai_epoch,
           'ceiling: forward + backward on resident tensors': epochs(ceiling(learn, x, y, with_opt=False)),
           'ceiling + optimiser step': epochs(ceiling(learn, x, y, with_opt=True))}
    res = compare(fns, dev, args.repeats, warmup=1, base='ceiling: forward + backward on resident tensors')
    peak = peak_bytes(fns['ceiling: forward + backward on resident tensors'], dev)
    rows, data = [], []
    for name,r in res.items():
        ips = n_batches*args.batch/r['s']
        rows.append([name, ms(r['s']/n_batches), f'{ips:,.0f}', f"{1/r['ratio']:.0%}"])
        data.append(dict(setup=name, step_s=r['s']/n_batches, images_per_s=ips, share_of_ceiling=1/r['ratio']))
    share = 1/res['fastai training (data, augmentation, targets, model, optimiser)']['ratio']
    _, parts = timed_epochs({'hrnet': learn}, dev, rounds=1)
    sh = parts['hrnet']
    verdict = 'met' if share>=GOAL else f'not met: {share:.0%}'
    amp = 'fp16 mixed precision, channels-last' if dev.type=='cuda' else 'float32 (no mixed precision on the CPU)'
    body = f"""
`hrnet_learner('{args.arch}')` (HRNetV2 body and `BinaryHeadBlock`, untrained), {amp}, images of {args.size} px,
batch {args.batch}, {k} landmarks, Gaussian heatmaps {hm_size}×{hm_size} (σ = 2) made on the device after fastai's
`aug_transforms()`, {args.workers} persistent loader workers; an epoch is {n_batches} training batches (validation skipped), and
the ceilings run the same number of steps of `learn.model` on a batch already on the device, random images and random
target heatmaps, with the same autocast and loss. {args.repeats} interleaved rounds after a warm-up epoch, medians;
"of ceiling" is the ceiling's time over each setup's time, in the same round. Peak memory of a ceiling step: {mib(peak)}.

**Goal: fastai training within 10% of the forward + backward ceiling — {verdict}** ({share:.0%} of it).

{table(['setup', 'time per step', 'images/s', 'of ceiling'], rows)}

Inside one more fastai epoch, timed batch by batch (with a device synchronisation around each part, which costs some
throughput): loading {ms(sh['load'])}, batch transforms (augmentation and heatmap targets) {ms(sh['tfms'])}, of which
targets {ms(sh['targets'])}, model step {ms(sh['model'])} per batch: **augmentation + targets are {sh['tfms']/sh['total']:.1%}
of a step**, targets alone {sh['targets']/sh['total']:.2%}.
"""
    write_result(args, f'GPU training throughput: {args.arch} at {args.size} px', body,
                 {'throughput':data, 'ceiling_peak_bytes':peak, 'step_parts':sh})


if __name__ == '__main__': main()
