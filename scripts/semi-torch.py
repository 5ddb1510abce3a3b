#!/usr/bin/python3
"""PyTorch reference for `ganpool train --semi-supervised`: the same recipe
(src/models/semi.ts, Salimans et al. 2016's MNIST recipe) on the same data,
labelled rows and held-out split, so the accuracy it reaches after N steps
and its ms per step can be set beside ganpool's.

    npx tsx scripts/semi-torch-reference.ts --labels 100 --steps 4000 --seed 1

runs it (that script writes the data file and sets the environment of
scripts/torch-reference.ts). Reads DATA (written by that script):
  {"pixels": [...float32 in [-1, 1], count*H*W*C], "labels": [...],
   "labelled": [...rows], "unlabelled": [...rows], "test": [...rows], "classes": K}
Prints one JSON line per evaluation to stdout:
  {"step": s, "heldOutAccuracy": a, "msPerStep": m, "seconds": wall}
and the last line also "perClass".

The recipe, as ganpool's (src/models/semi.ts):
- D: x in [0, 1] (G's softplus output, or (x+1)/2 for data), + N(0, 0.3^2); five
  weight-normalised dense layers (1000, 500, 250, 250, 250; scale fixed at 1),
  ReLU, + N(0, 0.5^2) after each; a weight-normalised dense layer of K logits
  with a trained scale (init 1). V ~ N(0, 0.1^2), b = 0.
- G: z ~ U[0, 1)^100; dense 500 (no bias, W ~ N(0, 1/(3 in))), batch norm
  without affine (eps 1e-6) over groups of 50 rows, + bias, softplus; the same
  again; a weight-normalised dense 784 with a trained scale, softplus.
- D loss: CE(labelled) + 0.5 (-mean lse(unl) + mean softplus(lse(unl)) + mean softplus(lse(fake))).
- G loss (feature matching): mean_j (mean_rows f_j(fake) - mean_rows f_j(unl))^2, f = D's last
  hidden ReLU output before its noise, D in training mode (with noise).
- Adam(lr 0.003, betas (0.5, 0.999), eps 1e-8) for both; lr x min(1, 3 (1 - s/T)).
- Each step: 100 labelled rows and 100 unlabelled rows (epochs of a shuffle), 100 fakes;
  D's update, then G's on the same unlabelled rows and z (ganpool's plan), or with
  --fresh-g-batch a second unlabelled batch and fresh z (the public re-implementation's).
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F


def wn_linear(x, v, b, s=None):
    w = v / torch.sqrt((v * v).sum(dim=0, keepdim=True))
    if s is not None:
        w = w * s
    return x @ w + b


class Semi:
    def __init__(self, pixels, classes, gen, group):
        self.group = group
        widths = [pixels, 1000, 500, 250, 250, 250, classes]
        self.d = []
        for i in range(len(widths) - 1):
            v = (torch.randn(widths[i], widths[i + 1], generator=gen) * 0.1).requires_grad_()
            b = torch.zeros(widths[i + 1], requires_grad=True)
            # the hidden layers' scale is fixed (1, or set once by --data-init); the last layer's is trained
            s = torch.ones(widths[i + 1], requires_grad=(i == len(widths) - 2))
            self.d.append((v, b, s))
        g1 = (torch.randn(100, 500, generator=gen) / (3 * 100) ** 0.5).requires_grad_()
        g2 = (torch.randn(500, 500, generator=gen) / (3 * 500) ** 0.5).requires_grad_()
        g3v = (torch.randn(500, pixels, generator=gen) * 0.1).requires_grad_()
        self.g = [g1, torch.zeros(500, requires_grad=True), g2, torch.zeros(500, requires_grad=True),
                  g3v, torch.zeros(pixels, requires_grad=True), torch.ones(pixels, requires_grad=True)]

    def d_params(self):
        return [t for layer in self.d for t in layer if t.requires_grad]

    def data_init(self, x01, gen):
        """Salimans & Kingma's data-dependent initialisation: each layer's scale and bias are set so
        that its pre-activations on `x01` (with D's noise) have mean 0 and standard deviation 1."""
        with torch.no_grad():
            h = x01 + torch.randn(x01.shape, generator=gen) * 0.3
            for i, (v, b, s) in enumerate(self.d):
                t = h @ (v / torch.sqrt((v * v).sum(dim=0, keepdim=True)))
                mean, std = t.mean(0), t.std(0, unbiased=False)
                s.copy_(1 / (std + 1e-8))
                b.copy_(-mean / (std + 1e-8))
                if i < len(self.d) - 1:
                    h = F.relu(t * s + b)
                    h = h + torch.randn(h.shape, generator=gen) * 0.5

    def forward_d(self, x01, noise, gen):
        h = x01 + torch.randn(x01.shape, generator=gen) * 0.3 if noise else x01
        feat = None
        for i, (v, b, s) in enumerate(self.d):
            y = wn_linear(h, v, b, s)
            if i == len(self.d) - 1:
                return y, feat
            feat = F.relu(y)
            h = feat + torch.randn(feat.shape, generator=gen) * 0.5 if noise else feat

    def bn(self, y):
        n = y.shape[0]
        yg = y.view(n // self.group, self.group, -1)
        mean = yg.mean(dim=1, keepdim=True)
        var = yg.var(dim=1, unbiased=False, keepdim=True)
        return ((yg - mean) / torch.sqrt(var + 1e-6)).view(n, -1)

    def forward_g(self, z):
        g1, b1, g2, b2, v3, b3, s3 = self.g
        h = F.softplus(self.bn(z @ g1) + b1)
        h = F.softplus(self.bn(h @ g2) + b2)
        return F.softplus(wn_linear(h, v3, b3, s3))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', required=True)
    p.add_argument('--steps', type=int, default=4000)
    p.add_argument('--eval-every', type=int, default=500)
    p.add_argument('--batch', type=int, default=100)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--lr', type=float, default=0.003)
    p.add_argument('--group', type=int, default=50, help='rows per batch-norm group of G (100: whole batch)')
    p.add_argument('--fresh-g-batch', action='store_true')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--data-init', type=int, default=0, metavar='N',
                   help='data-dependent initialisation of D on the first N unlabelled rows (0: off, as ganpool)')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.data) as f:
        data = json.load(f)
    k = data['classes']
    x01 = (torch.tensor(data['pixels'], dtype=torch.float32).view(len(data['labels']), -1) + 1) / 2
    labels = torch.tensor(data['labels'], dtype=torch.long)
    lab = torch.tensor(data['labelled'], dtype=torch.long)
    unl = torch.tensor(data['unlabelled'], dtype=torch.long)
    test = torch.tensor(data['test'], dtype=torch.long)
    gen = torch.Generator().manual_seed(a.seed)
    m = Semi(x01.shape[1], k, gen, a.group)
    if a.data_init > 0:
        m.data_init(x01[unl[:a.data_init]], gen)
    opt_d = torch.optim.Adam(m.d_params(), lr=a.lr, betas=(0.5, 0.999), eps=1e-8)
    opt_g = torch.optim.Adam(m.g, lr=a.lr, betas=(0.5, 0.999), eps=1e-8)

    def stream(rows):
        while True:
            perm = rows[torch.randperm(len(rows), generator=gen)]
            for i in range(len(perm)):
                yield int(perm[i])

    lab_s, unl_s = stream(lab), stream(unl)
    take = lambda s: torch.tensor([next(s) for _ in range(a.batch)], dtype=torch.long)

    def evaluate():
        with torch.no_grad():
            logits, _ = m.forward_d(x01[test], False, gen)
            pred = logits.argmax(dim=1)
            truth = labels[test]
            per = [float((pred[truth == c] == c).float().mean()) for c in range(k)]
            return float((pred == truth).float().mean()), per

    start = time.perf_counter()
    compute = 0.0
    for s in range(a.steps):
        t0 = time.perf_counter()
        scale = min(1.0, 3 * (1 - s / a.steps))
        for o in (opt_d, opt_g):
            for group in o.param_groups:
                group['lr'] = a.lr * scale
        rows_l = take(lab_s)
        xl, yl = x01[rows_l], labels[rows_l]
        xu = x01[take(unl_s)]
        z = torch.rand(a.batch, 100, generator=gen)
        with torch.no_grad():
            fake = m.forward_g(z)
        out_l, _ = m.forward_d(xl, True, gen)
        out_u, _ = m.forward_d(xu, True, gen)
        out_f, _ = m.forward_d(fake, True, gen)
        lse_u, lse_f = torch.logsumexp(out_u, 1), torch.logsumexp(out_f, 1)
        loss_d = F.cross_entropy(out_l, yl) + 0.5 * (-lse_u.mean() + F.softplus(lse_u).mean() + F.softplus(lse_f).mean())
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        if a.fresh_g_batch:
            xu = x01[take(unl_s)]
            z = torch.rand(a.batch, 100, generator=gen)
        fake = m.forward_g(z)
        _, f_fake = m.forward_d(fake, True, gen)
        with torch.no_grad():
            _, f_real = m.forward_d(xu, True, gen)
        loss_g = ((f_fake.mean(0) - f_real.mean(0)) ** 2).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        compute += time.perf_counter() - t0
        if not torch.isfinite(loss_d):
            print(json.dumps({'step': s + 1, 'diverged': True}), flush=True)
            return 1
        done = s + 1
        if done % a.eval_every == 0 or done == a.steps:
            acc, per = evaluate()
            line = {'step': done, 'heldOutAccuracy': acc, 'msPerStep': 1000 * compute / done,
                    'seconds': time.perf_counter() - start}
            if done == a.steps:
                line['perClass'] = per
            print(json.dumps(line), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
