"""A batched, exact solver for sklearn's ``LinearSVC`` problem, for the L2-SVM feature protocol.

``LinearSVC(C=C)`` (one-vs-rest, squared hinge, L2 penalty, ``intercept_scaling`` s) solves,
for each class k with y_i = +1 on class k and -1 elsewhere::

    min_w  1/2 |w|^2 + C sum_i max(0, 1 - y_i <w, x~_i>)^2,     x~_i = (x_i, s)

so the intercept is ``b = s * w[-1]`` and *is* penalised (liblinear's convention). The minimiser
lies in the span of the training points, ``w = sum_i alpha_i x~_i``, so everything runs on the
n x n Gram matrix ``K~ = X X^T + s^2``: with n = 1,000 labels and 8,960-d features that is far
smaller than the features. With ``beta = y * alpha`` (the dual variables, beta >= 0) and
``lam = 1 / (2C)``, the solution is the fixed point of

    F = {i : beta_i > 0}:  beta_F solves (K~_FF + lam I) alpha_F = y_F,  alpha = 0 off F,

with every point off F outside the margin (y_i f_i >= 1, f = K~ alpha). We find F with the
primal-dual active-set method (Hintermueller, Ito & Kunisch 2003; a semismooth Newton method):
start from F = all points, solve the regularised least squares on F, keep the points whose
beta stayed positive and add those off F that violate the margin; repeat until every KKT
condition holds. From a cold start this took 1 to 16 steps on every problem we tried
(raw MNIST pixels, 3,648-d ALI features, 8,960-d synthetic features; C from e^-20 to e^4),
more near the hard-margin limit: at C >= e^12 on rank-deficient data (raw pixels) it can
cycle. So a C gets ``QUICK_STEPS`` (25) active-set steps first, and a class not solved by
then is solved along a continuation path instead: from ``c_easy`` = 1 / (2 trace K~), where
one step from zero solves it, up to C in steps of ``PATH_NATS`` (4) in log C, each step
warm-started from the last (at most ~60 steps in all in our tests). Within each step, should
the active-set method not settle after ``pdas_steps`` steps, it switches to the finite Newton
method of Keerthi & DeCoste (JMLR 2005) in Chapelle's kernel form (F = the points with
y f < 1, then an exact line search on the piecewise quadratic objective), which decreases
the objective monotonically and terminates; alone, it is slow near the hard-margin limit,
where all points start within ~1e-9 of the margin.

Each step costs the cube of the *smaller* of F and its complement J: directly on F when F is
small, else through ``G = (K~ + lam I)^-1`` (one factorisation per C, shared by the classes),
whose Schur complement gives the same solution from a |J| x |J| system. The classes of one C
are batched; C values are solved in ascending order, each warm-started from the last.

Tolerance: a problem is converged when its largest KKT violation of the dual, in margin units
(``kkt_violation``), is at most ``TOL`` (1e-7; liblinear's default stopping rule is 1e-4 on the
same quantity). It is reached everywhere except where float64 cannot: very large C on
rank-deficient data (more points than dimensions, not separable), where K~ + lam I has a
condition number near 1e14; there the objective still matches sklearn's to ~1e-9 and the
predictions agree (tests/test_svm_features.py). ``OvRFit.kkt`` records the violation reached.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

LOG_C_MIN, LOG_C_MAX, NUM_C = -20.0, 20.0, 50
QUICK_STEPS = 25  # steps of the direct attempt at a C before the continuation path
PATH_NATS = 4.0  # spacing of that path in log C
TOL = 1e-7  # largest KKT violation of a converged problem, in margin units
MAX_ITER = 100  # steps of one solve at one C


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block. The solver's work is many small LAPACK calls
    (n <= ~1,000): on a shared 2-core machine their OpenMP barriers made them 3-70x slower with
    two threads than with one (a 1,000 x 1,000 eigh: 30 s against 0.4 s under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def c_grid(num: int = NUM_C, log_min: float = LOG_C_MIN, log_max: float = LOG_C_MAX
           ) -> torch.Tensor:
    """The C values of the original code (IshmaelBelghazi/ALI,
    experiments/semi_supervised_svhn.py): ``exp(linspace(log_min, log_max, num))``, natural
    log, ascending, float64."""
    return torch.linspace(log_min, log_max, num, dtype=torch.float64).exp()


@dataclass
class OvRFit:
    """One-vs-rest solutions for m values of C and k classes on n training points."""

    alpha: torch.Tensor  # (m, k, n) float64: w = X^T alpha
    bias: torch.Tensor  # (m, k) float64: s^2 * sum(alpha)
    kkt: torch.Tensor  # (m, k) float64: largest KKT violation, in margin units
    converged: torch.Tensor  # (m, k) bool: kkt <= TOL
    iterations: int  # Newton steps taken, all problems together


def _factor(k_aug: torch.Tensor, lam: float, eig: list[tuple[torch.Tensor, torch.Tensor]]
            ) -> tuple[torch.Tensor, bool]:
    """``(L, True)`` with L L^T = K~ + lam I (Cholesky), or, when K~ is too close to singular
    for that, ``(F, False)`` with F F^T = (K~ + lam I)^-1 from an eigendecomposition whose
    rounding-negative eigenvalues are clamped to 0. ``eig`` caches that decomposition for
    every lam of one fit."""
    shifted = k_aug.clone()
    shifted.diagonal().add_(lam)
    lower, info = torch.linalg.cholesky_ex(shifted)
    if int(info) == 0:
        return lower, True
    if not eig:
        eig.append(torch.linalg.eigh(k_aug))
    evals, evecs = eig[0]
    return evecs * (evals.clamp(min=0) + lam).rsqrt(), False


def _inverse(factor: tuple[torch.Tensor, bool]) -> torch.Tensor:
    mat, is_cholesky = factor
    return torch.cholesky_inverse(mat) if is_cholesky else mat @ mat.T


def _spd_solve(m: torch.Tensor, rhs: torch.Tensor,
               jitter: tuple[float, ...] = (1e-13, 1e-10, 1e-7)) -> torch.Tensor:
    """Solve batched SPD systems (P, q, q) x = (P, q) by Cholesky. A matrix that rounding has
    made numerically indefinite (large C on nearly singular data) is retried with each
    ``jitter`` times its largest diagonal entry added to the diagonal (for blocks of K~: up to
    1e-7, the rounding of a float32 Gram matrix, which is what makes them indefinite in the
    first place), then solved by a pseudo-inverse."""
    lower, info = torch.linalg.cholesky_ex(m)
    out = torch.cholesky_solve(rhs.unsqueeze(-1), lower).squeeze(-1)
    bad = info != 0
    for rel in jitter:
        if not bool(bad.any()):
            return out
        sub = m[bad].clone()
        scale = sub.diagonal(dim1=-2, dim2=-1).amax(-1, keepdim=True)
        sub.diagonal(dim1=-2, dim2=-1).add_(rel * scale)
        lower, info = torch.linalg.cholesky_ex(sub)
        fixed = torch.cholesky_solve(rhs[bad].unsqueeze(-1), lower).squeeze(-1)
        rows = bad.nonzero().squeeze(1)
        out[rows[info == 0]] = fixed[info == 0]
        bad[rows[info == 0]] = False
    if bool(bad.any()):
        evals, evecs = torch.linalg.eigh(m[bad])
        inv = torch.where(evals > evals[..., -1:] * 1e-15, 1 / evals, 0)  # pseudo-inverse
        proj = (evecs.transpose(-1, -2) @ rhs[bad].unsqueeze(-1)).squeeze(-1)
        out[bad] = (evecs @ (inv * proj).unsqueeze(-1)).squeeze(-1)
    return out


def _first(mask: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of ``mask`` (P, n): the indices of its True entries first (P, size), and which
    of those ``size`` slots are real (P, size); padding slots point at index 0."""
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :size]
    valid = torch.arange(size) < mask.sum(1, keepdim=True)
    return torch.where(valid, order, 0), valid


def _padded_system(mat: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor,
                   shift: float) -> torch.Tensor:
    """(P, q, q) blocks ``mat[idx, idx] + shift I`` with identity rows/columns on padding."""
    block = mat[idx.unsqueeze(-1), idx.unsqueeze(-2)]
    both = valid.unsqueeze(-1) & valid.unsqueeze(-2)
    block = torch.where(both, block, 0)
    block.diagonal(dim1=-2, dim2=-1).add_(torch.where(valid, shift, 1.0))
    return block


def _rls(k_aug: torch.Tensor, y: torch.Tensor, active: torch.Tensor, lam: float,
         factors: _Factors) -> torch.Tensor:
    """alpha^ (P, n): 0 off ``active`` and ``(K~_AA + lam I)^-1 y_A`` on it, for each row."""
    n = y.shape[1]
    out = torch.zeros_like(y)
    n_act = active.sum(1)
    full = n_act == n
    small = (~full) & (2 * n_act <= n)  # solve on A directly
    schur = (~full) & ~small  # solve through G = (K~ + lam I)^-1 on the complement J
    if bool(full.any()):
        mat, is_chol = factors.factor
        rhs = y[full].T
        out[full] = (torch.cholesky_solve(rhs, mat) if is_chol else mat @ (mat.T @ rhs)).T
    if bool(small.any()):
        rows = small.nonzero().squeeze(1)
        q = int(n_act[rows].max())
        for part in rows.split(max(1, (1 << 24) // max(q * q, 1))):  # bound the gather memory
            idx, valid = _first(active[part], q)
            rhs = torch.where(valid, y[part].gather(1, idx), 0)
            sol = _spd_solve(_padded_system(k_aug, idx, valid, lam), rhs)
            out[part] = out[part].scatter_add(1, idx, torch.where(valid, sol, 0))
    if bool(schur.any()):
        g = factors.inverse
        rows = schur.nonzero().squeeze(1)
        q = int((n - n_act[rows]).max())
        for part in rows.split(max(1, (1 << 24) // max(q * q, 1))):
            # r = (K~ + lam I) alpha^ is y on A and unknown mu on J; alpha^_J = 0 gives
            # G_JJ mu = -G_JA y_A, then alpha^ = G r.
            r = torch.where(active[part], y[part], 0)
            idx, valid = _first(~active[part], q)
            rhs = torch.where(valid, -(r @ g).gather(1, idx), 0)
            # blocks of G = (K~ + lam I)^-1 span 1/lam: only a tiny jitter is harmless there
            mu = _spd_solve(_padded_system(g, idx, valid, 0.0), rhs, jitter=(1e-13,))
            r = r.scatter_add(1, idx, torch.where(valid, mu, 0))
            alpha = r @ g
            out[part] = torch.where(active[part], alpha, 0)  # exactly 0 on J
    return out


def _line_search(f: torch.Tensor, g: torch.Tensor, d: torch.Tensor, y: torch.Tensor,
                 c: float) -> torch.Tensor:
    """Exact minimiser t >= 0 of phi(t) = 1/2 (a + t d)^T K (a + t d) + C sum max(0,
    1 - y (f + t g))^2 per row, where d = alpha^ - alpha and g = K d.

    phi' is continuous, piecewise linear and increasing. Writing it as the derivative of the
    quadratic model on the current loss set A0 (whose minimiser is t = 1 by construction of
    alpha^) plus corrections for the points that leave or join the loss set avoids the
    cancellation between ``d^T K alpha`` and ``2C sum a b`` that ruins the plain formula when C
    is large: phi'(t) = (t - 1) H0 + 2C sum_{passed i} s_i (a_i b_i - t b_i^2), with
    H0 = d^T K d + 2C sum_{A0} b^2, s = +1 for a point of A0 leaving it (b > 0) and -1 for one
    joining it (b < 0)."""
    a = 1 - y * f  # loss margin now (A0: a > 0)
    b = y * g  # its rate of decrease along d
    in0 = a > 0
    h0 = (g * d).sum(1) + 2 * c * torch.where(in0, b * b, 0).sum(1)
    leave, join = in0 & (b > 0), (~in0) & (b < 0)
    event = leave | join
    t_i = torch.where(event, a / torch.where(event, b, 1), math.inf)
    t_i, order = torch.sort(t_i, dim=1)
    sign = torch.where(leave, 1.0, -1.0).to(f.dtype)
    d_ab = torch.where(event, sign * a * b, 0).gather(1, order)
    d_bb = torch.where(event, sign * b * b, 0).gather(1, order)
    zero = torch.zeros_like(h0).unsqueeze(1)
    c_ab = torch.cat([zero, torch.cumsum(d_ab, 1)], 1)  # sums over events before j
    c_bb = torch.cat([zero, torch.cumsum(d_bb, 1)], 1)
    icpt = 2 * c * c_ab - h0.unsqueeze(1)
    slope = h0.unsqueeze(1) - 2 * c * c_bb
    finite = torch.isfinite(t_i)
    at_event = icpt[:, :-1] + torch.where(finite, t_i, 0) * slope[:, :-1]  # phi'(t_j)
    hit = finite & (at_event >= 0)
    seg = torch.where(hit.any(1), hit.to(torch.int8).argmax(1), finite.sum(1)).unsqueeze(1)
    num = -icpt.gather(1, seg).squeeze(1)
    den = slope.gather(1, seg).squeeze(1)
    t = num / torch.where(den > 0, den, 1)
    return torch.where(den > 0, t, 0).clamp(min=0)


def kkt_violation(alpha: torch.Tensor, f: torch.Tensor, y: torch.Tensor, lam: float
                  ) -> torch.Tensor:
    """Largest violation (per row) of the dual's optimality conditions. With beta = y alpha the
    dual gradient is y f - 1 + lam beta, which must be 0 where beta > 0 and >= 0 where
    beta = 0 (liblinear's projected gradient, in margin units); and beta must be >= 0, whose
    violation counts relative to the largest beta (liblinear's iterates are always feasible;
    ours are not until the end, and a negative beta is a point pulling w the wrong way however
    close it sits to the margin)."""
    beta = y * alpha
    grad = y * f - 1 + lam * beta
    viol = torch.where(beta > 0, grad.abs(), (-grad).clamp(min=0))
    scale = beta.abs().amax(1).clamp(min=torch.finfo(beta.dtype).tiny)
    return torch.maximum(viol.amax(1), (-beta).clamp(min=0).amax(1) / scale)


class _Factors:
    """The factorisation of K~ + lam I and its inverse, made when first needed and shared
    by every class solved at this lam."""

    def __init__(self, k_aug: torch.Tensor, lam: float,
                 eig: list[tuple[torch.Tensor, torch.Tensor]]):
        self.k_aug, self.lam, self.eig = k_aug, lam, eig
        self._factor: tuple[torch.Tensor, bool] | None = None
        self._inverse: torch.Tensor | None = None

    @property
    def factor(self) -> tuple[torch.Tensor, bool]:
        if self._factor is None:
            self._factor = _factor(self.k_aug, self.lam, self.eig)
        return self._factor

    @property
    def inverse(self) -> torch.Tensor:
        if self._inverse is None:
            self._inverse = _inverse(self.factor)
        return self._inverse


def _solve(k_aug: torch.Tensor, y: torch.Tensor, c: float, alpha: torch.Tensor,
           f: torch.Tensor, *, tol: float, pdas_steps: int, max_iter: int,
           eig: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Rows of (alpha, f = K~ alpha) moved towards the solution at C = c: active-set steps,
    then line-searched Newton steps after ``pdas_steps``. Returns the iterate with the
    smallest KKT violation of each row (a row stops at ``tol`` or when a Newton step finds no
    descent), and the number of steps taken."""
    lam = 0.5 / c
    factors = _Factors(k_aug, lam, eig)
    alpha, f = alpha.clone(), f.clone()
    best_a, best_f = alpha.clone(), f.clone()
    best = kkt_violation(alpha, f, y, lam)
    todo = best > tol
    steps = 0
    for it in range(max_iter):
        if not bool(todo.any()):
            break
        rows = todo.nonzero().squeeze(1)
        yr, fr, ar = y[rows], f[rows], alpha[rows]
        if it < pdas_steps:
            # primal-dual active set: keep the points with a positive multiplier, add those
            # at zero that violate the margin
            beta = yr * ar
            mu = yr * fr - 1 + lam * beta
            free = (beta > 0) | ((beta == 0) & (mu < 0))
        else:
            free = yr * fr < 1  # the finite Newton method's loss set
        a_hat = _rls(k_aug, yr, free, lam, factors)
        f_hat = a_hat @ k_aug
        steps += 1
        if it < pdas_steps:
            t = torch.ones(len(rows), dtype=torch.float64)
        else:
            t = _line_search(fr, f_hat - fr, a_hat - ar, yr, c)
        ar = ar + t.unsqueeze(1) * (a_hat - ar)
        fr = fr + t.unsqueeze(1) * (f_hat - fr)
        alpha[rows], f[rows] = ar, fr
        viol = kkt_violation(ar, fr, yr, lam)
        better = viol < best[rows]
        best[rows] = torch.where(better, viol, best[rows])
        best_a[rows[better]], best_f[rows[better]] = ar[better], fr[better]
        todo[rows] = (best[rows] > tol) & (t > 0)
    return best_a, best_f, steps


@one_thread()
def fit_ovr(gram: torch.Tensor, labels: torch.Tensor, num_classes: int, cs: torch.Tensor, *,
            intercept_scaling: float = 1.0, pdas_steps: int = 25, warm_start: bool = True
            ) -> OvRFit:
    """``LinearSVC(C=c)`` one-vs-rest on the training points whose Gram matrix (X X^T, no
    intercept column) is ``gram`` (n, n), for every c in ``cs`` (solved in the given order,
    ascending is best), all classes 0..num_classes-1.

    Returns alpha with ``w_k = X^T alpha[c, k]`` and ``b_k = bias[c, k]``; decision values of
    new points are ``x @ w + b``. Computed in float64 whatever ``gram``'s dtype."""
    k_aug = gram.to(torch.float64) + float(intercept_scaling) ** 2
    n = len(k_aug)
    y = torch.where(labels.reshape(1, n) == torch.arange(num_classes).reshape(-1, 1), 1.0, -1.0)
    y = y.to(torch.float64)
    cs = torch.as_tensor(cs, dtype=torch.float64).reshape(-1)
    alphas = torch.zeros(len(cs), num_classes, n, dtype=torch.float64)
    kkt = torch.zeros(len(cs), num_classes, dtype=torch.float64)
    # below c_easy, lam = 1/2C exceeds K~'s largest eigenvalue: all the decision values
    # shrink towards 0, every point keeps a loss, and one step from zero solves the problem
    c_easy = 0.5 / float(k_aug.diagonal().sum())
    steps = 0
    eig: list[tuple[torch.Tensor, torch.Tensor]] = []  # K~'s, if some lam needs it
    alpha = torch.zeros(num_classes, n, dtype=torch.float64)
    f = torch.zeros_like(alpha)
    for j, c in enumerate(cs.tolist()):
        if not warm_start:
            alpha, f = torch.zeros_like(alpha), torch.zeros_like(f)
        quick = min(MAX_ITER, QUICK_STEPS)  # active-set steps only (if pdas_steps allows)
        alpha, f, s = _solve(k_aug, y, c, alpha, f, tol=TOL, pdas_steps=min(pdas_steps, quick),
                             max_iter=quick, eig=eig)
        steps += s
        bad = kkt_violation(alpha, f, y, 0.5 / c) > TOL
        if bool(bad.any()) and c > c_easy:
            # continuation: from c_easy up to c, each step warm-started from the last. Near
            # the hard-margin limit (large C, few support vectors, a nearly singular K~) a
            # cold start can cycle for hundreds of steps; this path needed at most ~60.
            hops = max(1, math.ceil(math.log(c / c_easy) / PATH_NATS))
            a, fb = torch.zeros_like(alpha[bad]), torch.zeros_like(f[bad])
            for i in range(hops + 1):
                c_i = c_easy * (c / c_easy) ** (i / hops)
                a, fb, s = _solve(k_aug, y[bad], c_i, a, fb, tol=TOL, pdas_steps=pdas_steps,
                                  max_iter=MAX_ITER, eig=eig)
                steps += s
            keep = kkt_violation(a, fb, y[bad], 0.5 / c) < kkt_violation(alpha[bad], f[bad],
                                                                          y[bad], 0.5 / c)
            rows = bad.nonzero().squeeze(1)[keep]
            alpha[rows], f[rows] = a[keep], fb[keep]
        kkt[j] = kkt_violation(alpha, f, y, 0.5 / c)
        alphas[j] = alpha
    bias = alphas.sum(-1) * float(intercept_scaling) ** 2
    return OvRFit(alphas, bias, kkt, kkt <= TOL, steps)


def decision_weights(train_x: torch.Tensor, fit: OvRFit, dtype: torch.dtype | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """W (d, m * k) and b (m * k,), computed in float64 and returned in ``dtype`` (default
    ``train_x``'s): ``x @ W + b`` are the decision values of all m C values and k classes,
    columns ordered C-major."""
    m, k, n = fit.alpha.shape
    dtype = dtype or train_x.dtype
    w = fit.alpha.reshape(m * k, n) @ train_x.to(torch.float64)
    return w.T.to(dtype), fit.bias.reshape(m * k).to(dtype)


def predict(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, num_classes: int,
            chunk: int = 8192) -> torch.Tensor:
    """Predicted classes (N, m) of ``x`` (N, d) under m one-vs-rest machines (argmax of the
    decision values, lowest class on ties as numpy/sklearn)."""
    out = []
    for part in x.split(chunk):
        scores = torch.addmm(b, part, w).reshape(len(part), -1, num_classes)
        out.append(scores.argmax(-1))
    return torch.cat(out)
