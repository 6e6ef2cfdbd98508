"""What every benchmark shares: command-line options, paired timing, peak memory, and writing a result section.

Speed is reported as ratios measured in the same run: the candidates are timed in interleaved rounds (the order rotating
from round to round), and a ratio is the median over rounds of the per-round ratio, so that load from other processes
on a shared machine hits numerator and denominator alike. Absolute times (median over rounds) are given for scale only.

Peak memory is measured in a separate, untimed call. On a GPU it is `torch.cuda.max_memory_allocated` above what was
allocated before the call. On the CPU torch's allocator keeps no statistics and `tracemalloc` does not see it, so the
torch profiler records every allocation and free (`profile_memory=True`) and we replay them in time order; Python and
numpy allocations, which `tracemalloc` does see, are added (their peak and torch's are summed: an upper bound, exact
when one of them is negligible, as in every step measured here).
"""
import argparse, contextlib, json, multiprocessing, os, platform, shlex, statistics, sys, time, tracemalloc
from concurrent import futures
from pathlib import Path
import torch
from torch.profiler import profile, ProfilerActivity

HERE = Path(__file__).parent


def bench_args(name:str, doc:str, **extra)->argparse.Namespace:
    "Parse `--device`, `--quick`, `--repeats`, `--out` (and `extra` options: `flag=(type, default, help)`) for benchmark `name`"
    p = argparse.ArgumentParser(description=doc)
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    p.add_argument('--quick', action='store_true', help='a fast smoke run: tiny sizes, few repeats; figures are not meaningful')
    p.add_argument('--repeats', type=int, default=None, help='timed rounds per figure (the median is reported)')
    p.add_argument('--out', type=Path, default=None, help='Markdown file to write; a JSON file with the same stem goes beside it')
    for flag,(typ,default,help) in extra.items(): p.add_argument(f'--{flag.replace("_","-")}', type=typ, default=default, help=help)
    args = p.parse_args()
    args.device = torch.device(args.device)
    if args.device.type=='cuda' and not torch.cuda.is_available(): p.error('--device cuda, but torch sees no GPU')
    args.repeats = args.repeats or (3 if args.quick else 7)
    folder = HERE/'_out'/'quick' if args.quick else HERE/'cuda' if args.device.type=='cuda' else HERE/'_out'
    args.out = args.out or folder/f'{name}_{args.device.type}.md'
    return args


def sync(device:torch.device):
    "Wait for the device to finish its queued work"
    if device.type=='cuda': torch.cuda.synchronize(device)


def time_once(fn, device:torch.device)->float:
    "Seconds one call of `fn()` takes, its result dropped"
    sync(device); t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def compare(fns:dict, device:torch.device, repeats=7, warmup=1, base=None)->dict:
    "Median seconds of each of `fns` (name -> no-argument callable), timed in interleaved rounds; with `base`, each ratio to it"
    names = list(fns)
    for _ in range(warmup):
        for n in names: fns[n]()
    times = {n:[] for n in names}
    for r in range(repeats):
        for n in names[r%len(names):] + names[:r%len(names)]: times[n].append(time_once(fns[n], device))
    res = {n:{'s':statistics.median(ts)} for n,ts in times.items()}
    if base is not None:
        for n in names: res[n]['ratio'] = statistics.median(a/b for a,b in zip(times[n], times[base]))
    return res


@contextlib.contextmanager
def _quiet_stderr():
    "Silence the C++ profiler's start/stop lines, which it writes straight to file descriptor 2"
    saved = os.dup(2)
    with open(os.devnull, 'w') as null: os.dup2(null.fileno(), 2)
    try: yield
    finally: os.dup2(saved, 2); os.close(saved)


def peak_bytes(fn, device:torch.device)->int:
    "Peak of the bytes allocated during `fn()` above what was allocated before it (see the module's notes for the method)"
    if device.type=='cuda':
        sync(device); torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn(); sync(device)
        return torch.cuda.max_memory_allocated(device) - before
    tracemalloc.start()
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof: fn()
    py_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name()=='[memory]')
    level = torch_peak = 0
    for _,n in events: level += n; torch_peak = max(torch_peak, level)
    return torch_peak + py_peak


def mib(n:float)->str: return f'{n/2**20:,.1f} MiB'
def ms(s:float)->str: return f'{s*1e3:,.1f} ms' if s>=1e-3 else f'{s*1e6:,.0f} µs'
def ratio(x:float)->str: return f'{x:.2f}×'


def table(header:list, rows:list)->str:
    "A Markdown table"
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|'*len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows])


def machine(device:torch.device)->str:
    "One line naming the machine, the software and the threads a result was measured with"
    hw = torch.cuda.get_device_name(device) if device.type=='cuda' else f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores'
    import fastai
    return (f'{hw}; torch {torch.__version__}, fastai {fastai.__version__}, {torch.get_num_threads()} torch thread(s), '
            f'load average {os.getloadavg()[0]:.1f}')


def write_result(args, title:str, body:str, data:dict):
    "Write a result section (Markdown, `## title`) to `args.out` and its figures as JSON beside it"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    quick = ' (`--quick` smoke run: not meaningful)' if args.quick else ''
    command = shlex.join(['python', f'benchmarks/{Path(sys.argv[0]).name}', *sys.argv[1:]])
    md = f'## {title}\n\n*`{command}`: {machine(args.device)}; {time.strftime("%Y-%m-%d %H:%M")}{quick}.*\n\n{body.strip()}\n'
    args.out.write_text(md)
    args.out.with_suffix('.json').write_text(json.dumps({'title':title, 'device':str(args.device), 'quick':args.quick,
                                                         'machine':machine(args.device), **data}, indent=1, default=str))
    print(md)


def run_seeds(run, args, setups)->list:
    "`run(args, setup, seed)` for every setup and each of `args.seeds` seeds, in `args.jobs` processes of one torch thread, in (seed, setup) order"
    tasks = [(setup, seed) for seed in range(args.seeds) for setup in setups]
    if args.jobs==1: return [run(args, *t) for t in tasks]
    with futures.ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context('spawn'), initializer=torch.set_num_threads,
                                     initargs=(1,)) as pool:
        return list(pool.map(run, [args]*len(tasks), *zip(*tasks)))


def spread(xs, fmt='.2f')->str:
    "Mean ± standard deviation (min–max) of `xs`, the `None`s left out"
    xs = [x for x in xs if x is not None]
    if not xs: return '— (not measured)'
    sd = statistics.stdev(xs) if len(xs)>1 else 0.
    return f'{statistics.mean(xs):{fmt}} ± {sd:{fmt}} ({min(xs):{fmt}}–{max(xs):{fmt}})'
