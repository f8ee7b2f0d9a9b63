"""An always-valid test that the target's failure rate dropped, for looks during the soak.

The fixed-window gate tests once, at the end of the post window. Looking every minute with
that test and stopping at the first small p-value would inflate false PASSes far above alpha.
This e-process may be looked at as often as wanted: under the null (post rate >= baseline rate)
the chance that it *ever* reaches ``1 / alpha`` is at most alpha (Ville's inequality).

Model: baseline failures ``K_b ~ Poisson(lam * t_b)``; post failures a Poisson process of rate
``rho * lam``; H0: ``rho >= 1``. The e-value is a mixture likelihood over the alternative divided
by the likelihood maximised over the null (universal inference, Wasserman, Ramdas & Balakrishnan
2020): for any true null (lam0, rho0) it is at most the mixture likelihood ratio against that
null, a non-negative martingale with mean 1, so Ville's inequality applies at every look.

The mixture puts a Gamma(``PRIOR_SHAPE``, ``PRIOR_RATE``) prior on the baseline rate (per minute;
integrated in closed form) and equal weight on a grid of drops ``rho`` (the alternatives that
matter: a material drop). Failures come in bursts, so counts are divided by the dispersion
estimated from the per-minute series (quasi-likelihood): a burst of 200 failures in one minute
weighs like 200 / dispersion independent ones.
"""

from __future__ import annotations

import math

RHO_GRID = (0.005, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5)
PRIOR_SHAPE = 1.0
PRIOR_RATE = 1.0  # per minute of exposure: a weak prior around one failure a minute


def _log_mixture(k_base: float, t_base: float, k_post: float, t_post: float, rho: float) -> float:
    """log of the likelihood integrated over lam ~ Gamma(a, b), at drop ``rho``."""
    a, b, n = PRIOR_SHAPE, PRIOR_RATE, k_base + k_post
    return (k_post * math.log(rho) + a * math.log(b) + math.lgamma(n + a) - math.lgamma(a)
            - (n + a) * math.log(t_base + rho * t_post + b))


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def _log_null_max(k_base: float, t_base: float, k_post: float, t_post: float) -> float:
    """log of the likelihood maximised over the null rho >= 1 (and any lam)."""
    if k_post * t_base >= k_base * t_post:  # unconstrained maximum already has rho >= 1
        return (_xlogy(k_base, k_base / t_base) - k_base + _xlogy(k_post, k_post / t_post) - k_post)
    lam = (k_base + k_post) / (t_base + t_post)  # on the boundary rho = 1
    return _xlogy(k_base + k_post, lam) - (k_base + k_post)


def drop_evalue(k_base: float, t_base: float, k_post: float, t_post: float,
                dispersion: float = 1.0) -> float:
    """The e-value for "the post rate is lower than the baseline rate"; reject the null (the
    drop is proven) when it reaches ``1 / alpha``. ``t_*`` in minutes, ``dispersion`` >= 1."""
    if t_base <= 0 or t_post <= 0:
        raise ValueError(f"exposures must be positive (got baseline={t_base}, post={t_post})")
    if k_base < 0 or k_post < 0:
        raise ValueError(f"counts must be non-negative (got {k_base}, {k_post})")
    phi = max(1.0, dispersion)
    kb, kp = k_base / phi, k_post / phi
    terms = [_log_mixture(kb, t_base, kp, t_post, rho) for rho in RHO_GRID]
    top = max(terms)
    log_mix = top + math.log(math.fsum(math.exp(t - top) for t in terms) / len(terms))
    return math.exp(min(700.0, log_mix - _log_null_max(kb, t_base, kp, t_post)))


def always_valid_p(k_base: float, t_base: float, k_post: float, t_post: float,
                   dispersion: float = 1.0) -> float:
    """``min(1, 1 / e)``: a p-value valid at every look (anytime-valid)."""
    return min(1.0, 1.0 / drop_evalue(k_base, t_base, k_post, t_post, dispersion))


def running_p(looks: list[tuple[float, float]], k_base: float, t_base: float,
              dispersion: float = 1.0) -> list[float]:
    """The always-valid p-value after each look ``(k_post so far, t_post so far)``, taken as a
    running minimum: once the evidence has been seen it stays seen (still valid, by Ville)."""
    out: list[float] = []
    for k_post, t_post in looks:
        p = always_valid_p(k_base, t_base, k_post, t_post, dispersion)
        out.append(min(p, out[-1]) if out else p)
    return out
