#!/usr/bin/python3
"""PyTorch reference for `npm run bench`: ms per GAN training step of the probe models.

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 \
    MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \
    /usr/bin/python3 scripts/bench-torch.py --models probe-mlp,probe-dcgan --batches 64,256 \
        --configs t1,t2,ddp2 --warmup 10 --steps 20 --rounds 3 [--verify]

Prints ONE JSON object to stdout (machine facts and one row per model, batch
and config); progress goes to stderr. scripts/torch-reference.ts runs it.

The models mirror src/models.ts (`probe-mlp`, `probe-dcgan`: 28×28×1 images,
latent 100, Glorot-uniform kernels, zero biases). A step is what a ganpool
step is (src/engines/tfjs/engine.ts): a D update on
bce_logits(D(real), 1) + bce_logits(D(G(z)), 0) with G's forward pass
outside autograd, then a G update on bce_logits(D(G(z')), 1) with a fresh z'
and no D weight gradients; Adam(lr 2e-4, betas (0.5, 0.999)) for both.
Real images are random uint8 scaled to [-1, 1] (the speed does not depend on
the content).

Configurations, each run in its own subprocess(es) with its own environment
(OpenMP reads OMP_NUM_THREADS at start-up):
  t1    one process, 1 thread
  t2    one process, 2 threads (torch.set_num_threads(2), OMP_NUM_THREADS=2)
  ddp2  DistributedDataParallel, gloo on 127.0.0.1, 2 processes x 1 thread,
        each with half of the batch; ms/step is the global step time (the
        slower rank's), samples/s the global batch over it.

Rounds are interleaved: round r starts every configuration in turn, so a slow
spell of the machine hits all of them alike. Each round is a fresh process
that runs `--warmup` unmeasured steps, then `--steps` timed steps per (model,
batch). msPerStep = median over the rounds of the round's mean ms per step.

`--verify` instead checks that ddp2 computes the same gradients as t1 on the
same global batch (one step) and exits non-zero when they differ.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

OPENBLAS_OPENMP_DIR = '/usr/lib/x86_64-linux-gnu/openblas-openmp'
# The environment every torch process runs with (scripts/torch-reference.ts explains each one).
TORCH_ENV = {
    'OMP_NUM_THREADS': '1',
    'MALLOC_MMAP_THRESHOLD_': '1000000000',
    'MALLOC_TRIM_THRESHOLD_': '1000000000',
}
MODELS = ('probe-mlp', 'probe-dcgan')
CONFIGS = {
    't1': {'processes': 1, 'threads': 1},
    't2': {'processes': 1, 'threads': 2},
    'ddp2': {'processes': 2, 'threads': 1},
}
LATENT = 100
IMAGE = (1, 28, 28)
LR, BETAS = 2e-4, (0.5, 0.999)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def csv(s):
    return [x for x in s.split(',') if x]


# --------------------------------------------------------------------------- worker (imports torch)

def worker(args):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    threads = args.threads
    torch.set_num_threads(threads)
    world, rank = args.world, args.rank
    dist = None
    if world > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel as DDP
        dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{args.port}', rank=rank, world_size=world)
    tag = f'[{args.config}{"/" + str(rank) if world > 1 else ""} r{args.round}]'

    def glorot(net):
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(m.weight)  # Keras fans: (in, out) x receptive field
                nn.init.zeros_(m.bias)
        return net

    def build(model):
        if model == 'probe-mlp':
            g = nn.Sequential(nn.Linear(LATENT, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 784), nn.Tanh(), nn.Unflatten(1, IMAGE))
            d = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LeakyReLU(0.2),
                              nn.Linear(256, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
        elif model == 'probe-dcgan':
            g = nn.Sequential(nn.Linear(LATENT, 7 * 7 * 64), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                              nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                              nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Tanh())
            d = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.LeakyReLU(0.2),
                              nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                              nn.Flatten(), nn.Linear(7 * 7 * 64, 1))
        else:
            raise SystemExit(f'unknown model {model!r}; expected one of {", ".join(MODELS)}')
        torch.manual_seed(1)
        return glorot(g), glorot(d)

    def run_pair(model, batch):
        if batch % world:
            raise SystemExit(f'batch {batch} does not split over {world} processes')
        local = batch // world
        g, d = build(model)
        if world > 1:
            g, d = DDP(g), DDP(d)
        graw = g.module if world > 1 else g
        draw = d.module if world > 1 else d
        opt_g = torch.optim.Adam(g.parameters(), lr=LR, betas=BETAS)
        opt_d = torch.optim.Adam(d.parameters(), lr=LR, betas=BETAS)
        torch.manual_seed(2 + rank)
        pool = torch.randint(0, 256, (4 * local, *IMAGE), dtype=torch.uint8).float().div_(127.5).sub_(1)
        ones = torch.ones(local, 1)
        zeros = torch.zeros(local, 1)
        d_params = list(draw.parameters())

        def step(i, z_d=None, z_g=None, real=None, inspect=None):
            if real is None:
                start = (i % 4) * local
                real = pool[start:start + local]
            # D phase: G's forward outside autograd (as .detach(), without building G's graph);
            # two forward passes of (DDP) D, one backward: DDP all-reduces D's gradients once.
            for p in d_params:
                p.requires_grad_(True)
            with torch.no_grad():
                fake = graw(z_d if z_d is not None else torch.randn(local, LATENT))
            loss_d = (F.binary_cross_entropy_with_logits(d(real), ones)
                      + F.binary_cross_entropy_with_logits(d(fake), zeros))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            if inspect is not None:
                # Not stepped: Adam's first step is ~lr * sign(grad), which would turn rounding
                # differences in tiny D gradients into visible differences in G's gradients.
                inspect['d'] = [p.grad.clone() for p in draw.parameters()]
            else:
                opt_d.step()
            # G phase: fresh z; D through its plain module with frozen weights, so no D weight
            # gradients are computed and DDP all-reduces only G's gradients.
            for p in d_params:
                p.requires_grad_(False)
            loss_g = F.binary_cross_entropy_with_logits(draw(g(z_g if z_g is not None else torch.randn(local, LATENT))), ones)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            if inspect is not None:
                inspect['g'] = [p.grad.clone() for p in graw.parameters()]
            opt_g.step()

        if args.verify:
            # The same global batch in every configuration; each rank takes its slice.
            gen = torch.Generator().manual_seed(7)
            z_d = torch.randn(batch, LATENT, generator=gen)
            z_g = torch.randn(batch, LATENT, generator=gen)
            real = torch.rand(batch, *IMAGE, generator=gen) * 2 - 1
            sl = slice(rank * local, (rank + 1) * local)
            grads = {}
            step(0, z_d[sl], z_g[sl], real[sl], grads)
            if rank == 0:
                torch.save(grads, os.path.join(args.dump, f'{args.config}-{model}-{batch}.pt'))
            return None

        for i in range(args.warmup):
            step(i)
        if dist is not None:
            dist.barrier()
        t0 = time.perf_counter()
        for i in range(args.steps):
            step(i)
        elapsed = time.perf_counter() - t0
        if dist is not None:
            # Global step time: the slower rank's (the all-reduces keep them in step anyway).
            t = torch.tensor([elapsed], dtype=torch.float64)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            elapsed = t.item()
        ms = elapsed * 1000 / args.steps
        if rank == 0:
            log(f'{tag} {model} batch {batch}: {ms:.2f} ms/step, {batch / ms * 1000:.0f} samples/s')
        return ms

    rows = []
    for model in csv(args.models):
        for batch in [int(b) for b in csv(args.batches)]:
            ms = run_pair(model, batch)
            rows.append({'model': model, 'batch': batch, 'ms': ms})
    if rank == 0:
        print(json.dumps({'facts': machine_facts(torch, threads), 'rows': rows}), flush=True)
    if dist is not None:
        dist.barrier()
        dist.destroy_process_group()


def machine_facts(torch, threads):
    """What this process runs on: torch build, the BLAS library actually mapped, threads."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # make sure the BLAS is loaded
    libs = []
    with open('/proc/self/maps') as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ''
            if ('blas' in path or 'lapack' in path) and path not in libs:
                libs.append(path)
    blas = 'no BLAS library mapped'
    openblas = next((p for p in libs if 'libopenblas' in p), None)
    if openblas:
        import ctypes
        lib = ctypes.CDLL(openblas)
        lib.openblas_get_config.restype = ctypes.c_char_p
        parallel = {0: 'sequential', 1: 'pthreads', 2: 'openmp'}.get(lib.openblas_get_parallel(), '?')
        blas = (f'{lib.openblas_get_config().decode().strip()} ({parallel}, {lib.openblas_get_num_threads()} threads)'
                f' from {os.path.dirname(openblas)}')
    elif libs:
        blas = ', '.join(libs)
    cpu = '?'
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), '?')
    except OSError:
        pass
    build = re.search(r'BLAS_INFO=([^,\s]+)', torch.__config__.show())
    build_blas = f'BLAS_INFO={build.group(1)}' if build else ''
    return {
        'torch': torch.__version__,
        'python': sys.version.split()[0],
        'blas': blas,
        'blasBuild': build_blas,
        'mkldnn': torch.backends.mkldnn.is_available(),
        'cpu': cpu,
        'cpus': os.cpu_count(),
        'threads': torch.get_num_threads(),
        'requestedThreads': threads,
        'ompNumThreads': os.environ.get('OMP_NUM_THREADS'),
    }


# --------------------------------------------------------------------------- orchestrator (no torch)

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def base_env():
    env = dict(os.environ)
    env.update(TORCH_ENV)
    if os.path.isdir(OPENBLAS_OPENMP_DIR):
        paths = [p for p in env.get('LD_LIBRARY_PATH', '').split(':') if p and p != OPENBLAS_OPENMP_DIR]
        env['LD_LIBRARY_PATH'] = ':'.join([OPENBLAS_OPENMP_DIR, *paths])
    else:
        log(f'warning: {OPENBLAS_OPENMP_DIR} is missing; torch uses the default BLAS')
    env['GLOO_SOCKET_IFNAME'] = env.get('GLOO_SOCKET_IFNAME', 'lo')
    env['PYTHONUNBUFFERED'] = '1'
    return env


def run_config(args, config, rnd, extra=()):
    """Runs one round of `config` in fresh process(es); returns rank 0's parsed JSON."""
    spec = CONFIGS[config]
    env = base_env()
    env['OMP_NUM_THREADS'] = str(spec['threads'])
    port = free_port() if spec['processes'] > 1 else 0
    procs = []
    for rank in range(spec['processes']):
        cmd = [sys.executable, os.path.abspath(__file__), '--worker',
               '--config', config, '--round', str(rnd), '--threads', str(spec['threads']),
               '--world', str(spec['processes']), '--rank', str(rank), '--port', str(port),
               '--models', args.models, '--batches', args.batches,
               '--warmup', str(args.warmup), '--steps', str(args.steps), *extra]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=None, text=True))
    outs = [p.communicate()[0] for p in procs]
    for rank, p in enumerate(procs):
        if p.returncode != 0:
            raise SystemExit(f'{config} rank {rank} exited with {p.returncode}')
    lines = [l for l in outs[0].splitlines() if l.strip()]
    return json.loads(lines[-1])


def verify(args):
    import torch  # only here: compares the gradients the workers dumped
    with tempfile.TemporaryDirectory() as tmp:
        extra = ('--verify', '--dump', tmp)
        for config in ('t1', 'ddp2'):
            log(f'verify: {config}')
            run_config(args, config, 0, extra)
        worst = 0.0
        for model in csv(args.models):
            for batch in [int(b) for b in csv(args.batches)]:
                a = torch.load(os.path.join(tmp, f't1-{model}-{batch}.pt'))
                b = torch.load(os.path.join(tmp, f'ddp2-{model}-{batch}.pt'))
                for net in ('d', 'g'):
                    scale = max(x.abs().max().item() for x in a[net])
                    diff = max((x - y).abs().max().item() for x, y in zip(a[net], b[net]))
                    rel = diff / scale
                    worst = max(worst, rel)
                    log(f'verify {model} batch {batch} {net}: max |t1 - ddp2| = {diff:.3g} ({rel:.2g} of max |grad|)')
        ok = worst < 1e-4
        print(json.dumps({'verify': 'ok' if ok else 'mismatch', 'worstRelativeDiff': worst}))
        return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--models', default=','.join(MODELS))
    ap.add_argument('--batches', default='64,256')
    ap.add_argument('--configs', default=','.join(CONFIGS))
    ap.add_argument('--warmup', type=int, default=10, help='unmeasured steps per (model, batch) per round')
    ap.add_argument('--steps', type=int, default=20, help='timed steps per (model, batch) per round')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--verify', action='store_true', help='check ddp2 gradients against t1 instead of timing')
    # internal: one worker process
    ap.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--config', default='t1', help=argparse.SUPPRESS)
    ap.add_argument('--round', type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument('--threads', type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument('--world', type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument('--rank', type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument('--port', type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument('--dump', default='', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    for m in csv(args.models):
        if m not in MODELS:
            raise SystemExit(f'unknown model {m!r}; expected one of {", ".join(MODELS)}')
    configs = csv(args.configs)
    for c in configs:
        if c not in CONFIGS:
            raise SystemExit(f'unknown config {c!r}; expected one of {", ".join(CONFIGS)}')
    if args.verify:
        return verify(args)

    t0 = time.perf_counter()
    per = {}  # (model, batch, config) -> [ms per round]
    facts = {}
    for rnd in range(1, args.rounds + 1):
        for config in configs:
            log(f'round {rnd}/{args.rounds}: {config}')
            out = run_config(args, config, rnd)
            facts[config] = out['facts']
            for r in out['rows']:
                per.setdefault((r['model'], r['batch'], config), []).append(r['ms'])
    rows = []
    for model in csv(args.models):
        for batch in [int(b) for b in csv(args.batches)]:
            for config in configs:
                rounds = per[(model, batch, config)]
                ms = statistics.median(rounds)
                rows.append({'model': model, 'batch': batch, 'config': config,
                             'processes': CONFIGS[config]['processes'], 'threads': CONFIGS[config]['threads'],
                             'msPerStep': round(ms, 3), 'samplesPerSec': round(batch / ms * 1000, 1),
                             'roundsMs': [round(x, 3) for x in rounds]})
    first = facts[configs[0]]
    result = {
        'machine': {
            'torch': first['torch'], 'python': first['python'], 'blas': first['blas'],
            'blasBuild': first['blasBuild'], 'mkldnn': first['mkldnn'], 'cpu': first['cpu'], 'cpus': first['cpus'],
            'threads': {c: facts[c]['threads'] for c in configs},
            'env': {k: base_env().get(k) for k in ('LD_LIBRARY_PATH', 'OPENBLAS_CORETYPE', *TORCH_ENV)},
        },
        'settings': {'warmup': args.warmup, 'steps': args.steps, 'rounds': args.rounds},
        'rows': rows,
        'totalSeconds': round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main() or 0)
