"""GPU checks of issue 7: mixed precision (`to_fp16`, `to_bf16`) with every head, against float32; and, launched on
several GPUs, fastai's stock `distrib_ctx` with every head.

    python benchmarks/gpu_checks.py --device cuda                          # one GPU: mixed precision, about 2 minutes
    torchrun --nproc_per_node 2 benchmarks/gpu_checks.py --device cuda     # two GPUs or more: adds the distributed check
    python benchmarks/gpu_checks.py --quick                                # a CPU smoke run (bfloat16 autocast on the CPU)

Mixed precision: for every head (and randomised-rounding targets on the SimpleBaseline head), the same initial weights
are trained for `--epochs` epochs in float32, with `learn.to_fp16()` and with `learn.to_bf16()`. It checks that every
prediction reaching the loss and every loss are float32 and finite, that one forward pass and loss on the same weights and
batch agree with float32 (loss within 1%), and that training ends with a validation NME within 20% of float32's (+1 point).

Distributed (only under a launcher with 2 processes or more): every head trains one epoch inside the stock
`learn.distrib_ctx()`, and every rank must end with the weights of rank 0. The exit status is 1 when a check fails.
"""
import sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parents[1]/'tests'))
from _common import bench_args, table, write_result
from fastai.vision.all import *
from fastai.distributed import rank_distrib, num_distrib
from reliability_utils import CPUAutocast, HEADS, HEATMAP_HEADS, dots_with_missing, dots_dls, head_learner, state_hash
from fastlandmarks.metrics import NME

STEP_RTOL, NME_RTOL, NME_ATOL = 1e-2, 0.2, 1.0


class CheckFloat32(Callback):
    "Record whether every prediction fastai hands to the loss, and every loss, is float32 and finite"
    order = MixedPrecision.order + 1
    def before_fit(self): self.learn.float32_ok = True
    def after_loss(self):
        ok = self.pred.dtype==torch.float32 and self.loss.dtype==torch.float32 and bool(torch.isfinite(self.loss))
        self.learn.float32_ok &= ok


def cases(): return [(h, False) for h in HEADS] + [('deconv', True)]

def learner(data, head, binary, precision, device):
    "A learner for `head` on the dots, with weights seeded alike whatever the precision"
    dls = dots_dls(*data, head, binary=binary, bs=16, device=device)
    set_seed(0)
    learn = head_learner(dls, head, metrics=NME('bbox'), cbs=CheckFloat32())
    if precision=='fp16': learn.to_fp16()
    if precision=='bf16': learn.to_bf16() if device.type=='cuda' else learn.add_cb(CPUAutocast())
    return learn

def one_step(learn, dtype)->float:
    "Relative difference of the loss of one forward pass in `dtype` autocast from float32's, same weights and batch"
    xb, yb = learn.dls.valid.one_batch()
    model = learn.model.eval()
    with torch.no_grad():
        ref = learn.loss_func(model(xb), yb)
        with torch.autocast(xb.device.type, dtype=dtype): res = learn.loss_func(model(xb), yb)
    return float((res.float()-ref).abs()/ref.abs())

def mixed_precision(args)->tuple:
    "Rows of the mixed-precision table, and whether every check passed"
    data = dots_with_missing(args.n)
    precisions = ['fp32', 'bf16'] if args.device.type=='cpu' else ['fp32', 'fp16', 'bf16']
    rows, ok = [], True
    for head, binary in cases():
        ref = None
        for p in precisions:
            learn = learner(data, head, binary, p, args.device)
            step = 0. if p=='fp32' else one_step(learn, dict(fp16=torch.float16, bf16=torch.bfloat16)[p])
            start = time.perf_counter()
            with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(args.epochs, 2e-3)
            secs = (time.perf_counter()-start)/args.epochs
            nme = float(learn.recorder.values[-1][-1])
            ref = ifnone(ref, nme)
            good = learn.float32_ok and step<=STEP_RTOL and math.isfinite(nme) and abs(nme-ref) <= NME_RTOL*ref + NME_ATOL
            ok &= good
            rows.append([head + (' (binary)' if binary else ''), p, f'{step:.1e}', f'{nme:.2f}', f'{secs:.2f} s',
                         'yes' if learn.float32_ok else 'NO', 'ok' if good else 'FAIL'])
    return rows, ok

def distributed(args)->tuple:
    "Rows of the distributed table (rank 0 only), and whether every rank ended with rank 0's weights"
    data = dots_with_missing(args.n)
    rows, ok = [], True
    for head, binary in cases():
        learn = learner(data, head, binary, 'fp32', args.device)
        set_seed(rank_distrib()); learn.model.apply(lambda m: m.reset_parameters() if hasattr(m, 'reset_parameters') else None)
        with learn.distrib_ctx(), learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
        hashes = [None]*num_distrib()
        torch.distributed.all_gather_object(hashes, state_hash(learn.model))
        same = len(set(hashes))==1
        ok &= same
        rows.append([head + (' (binary)' if binary else ''), num_distrib(), 'yes' if same else 'NO'])
    return rows, ok

def main():
    args = bench_args('gpu_checks', __doc__, epochs=(int, 3, 'training epochs per precision'), n=(int, 128, 'dots images'))
    if args.quick: args.epochs, args.n = 1, 32
    torch.backends.cudnn.benchmark = True
    sections, data, ok = [], {}, True
    if num_distrib()>1:
        if args.device.type=='cuda': torch.cuda.set_device(rank_distrib())
        rows, ok = distributed(args)
        sections.append('### fastai `distrib_ctx`, every head, one epoch\n\n' +
                        table(['head', 'processes', 'same weights on every rank'], rows))
        data['distributed'] = rows
        if rank_distrib(): sys.exit(0 if ok else 1)
    else:
        rows, ok = mixed_precision(args)
        sections.append(f'### Mixed precision against float32, {args.epochs} epochs\n\n' + table(
            ['head', 'precision', 'one-step loss difference', 'valid NME (%)', 'time per epoch', 'float32 loss', 'check'], rows) +
            f'\n\nChecks: one-step loss within {STEP_RTOL:.0%} of float32\'s, final NME within {NME_RTOL:.0%} + {NME_ATOL} point '
            'of float32\'s, predictions and losses float32 and finite.')
        data['mixed_precision'] = rows
    write_result(args, 'GPU checks (issue 7)', '\n\n'.join(sections) + f'\n\nAll checks passed: {ok}.', data)
    sys.exit(0 if ok else 1)

if __name__ == '__main__': main()
