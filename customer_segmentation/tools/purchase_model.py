"""Purchase models of a customer base: BG/NBD for purchases, Gamma-Gamma for spend.

Plain numpy/scipy, no Odoo: the segmentation engine summarises each customer's
orders and calls these functions. Every function is vectorised over customers.

Per customer the models read the summary of the calibration period:

- ``x``: repeat purchases (purchases after the first one; in this project one
  per distinct purchase day),
- ``t_x``: time of the last purchase, counted from the first purchase (0 when
  ``x`` is 0),
- ``T``: time from the first purchase to the end of the calibration period,
- ``mean_spend``: mean amount of the repeat purchases (Gamma-Gamma only).

Times may be in any unit as long as it is the same everywhere (the project uses
days); ``alpha`` and the horizons are in that unit.

References:

- [BG/NBD] P. S. Fader, B. G. S. Hardie, K. L. Lee, "Counting your customers the
  easy way: an alternative to the Pareto/NBD model", Marketing Science 24(2),
  275-284, 2005.
- [PALIVE] P. S. Fader, B. G. S. Hardie, K. L. Lee, "Computing P(alive) using the
  BG/NBD model", http://www.brucehardie.com/notes/021/.
- [RFM-CLV] P. S. Fader, B. G. S. Hardie, K. L. Lee, "RFM and CLV: using iso-value
  curves for customer base analysis", Journal of Marketing Research 42(4),
  415-430, 2005.
- [GG] P. S. Fader, B. G. S. Hardie, "The Gamma-Gamma model of monetary value",
  2013, http://www.brucehardie.com/notes/025/.
- [DLMF] NIST Digital Library of Mathematical Functions, 15.2.1 (the Gauss series)
  and 15.8.1 (Euler's transformation), https://dlmf.nist.gov/15.
"""

import dataclasses
import numbers

import numpy as np
from scipy import optimize, special

# Bounds of the fitted parameters, in log space (after scaling time and spend
# to their means): beyond them a parameter is effectively infinite or zero, and
# the data do not identify the model.
_LOG_BOUND = np.log(1e4)
# A fitted log parameter this close to its bound counts as "at the bound".
_AT_BOUND = 1e-3
# Largest gradient of the mean log-likelihood (per customer, in log parameters)
# accepted as a maximum.
_GRADIENT_TOLERANCE = 1e-5
# The series of the conditional expectation stops when the bound on its
# remainder is below this share of its sum; it gives up after _SERIES_MAX_TERMS.
_SERIES_TOLERANCE = 1e-15
_SERIES_BLOCK = 32
_SERIES_MAX_TERMS = 200_000
# Rows summed at once, so that the blocks of terms take at most 16 MiB each.
_SERIES_ROWS = 65_536


class PurchaseModelError(ValueError):
    """The data cannot be summarised, fitted or scored: the message says why."""


@dataclasses.dataclass(frozen=True)
class BgNbdFit:
    """Fitted BG/NBD model.

    ``r`` and ``alpha`` are the shape and rate of the gamma distribution of the
    purchase rates (``alpha`` in the time unit of the data), ``a`` and ``b`` those
    of the beta distribution of the dropout probabilities [BG/NBD];
    ``log_likelihood`` is the maximised log-likelihood, in the time unit of the
    data (changing the unit by a factor ``k`` shifts it by ``sum(x) * log(k)``).
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    repeat_buyers: int


@dataclasses.dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma spend model [GG]: spend per purchase ~ gamma(p, v) per
    customer, and v ~ gamma(q, gamma) across customers (``gamma`` in the currency
    of the data); fitted on ``customers`` repeat buyers."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int


@dataclasses.dataclass(frozen=True)
class HoldoutCheck:
    """Predicted and actual repeat purchases in a holdout period.

    ``predicted`` and ``actual`` are per customer, in the order given; the totals
    are their sums and ``mean_absolute_error`` the mean of ``|predicted - actual|``.
    """

    predicted: np.ndarray
    actual: np.ndarray
    predicted_total: float
    actual_total: float
    mean_absolute_error: float
    customers: int


# Input checks -------------------------------------------------------------------


def _as_array(name, values):
    """Return ``values`` as a 1-D float array of finite numbers, or raise."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise PurchaseModelError(f"{name} must hold numbers") from error
    if array.ndim != 1:
        raise PurchaseModelError(f"{name} must be one-dimensional")
    if not np.isfinite(array).all():
        raise PurchaseModelError(f"{name} must hold finite numbers only")
    return array


def _same_length(**arrays):
    """Raise unless every array of ``arrays`` has the same length."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise PurchaseModelError(f"arrays of different lengths: {lengths}")


def _check_summaries(x, t_x, T):
    """Return ``x``, ``t_x``, ``T`` as float arrays after checking that they are
    customer summaries: same length, ``x`` whole and >= 0, 0 <= ``t_x`` <= ``T``,
    ``t_x`` = 0 where ``x`` = 0."""
    x, t_x, T = _as_array("x", x), _as_array("t_x", t_x), _as_array("T", T)
    _same_length(x=x, t_x=t_x, T=T)
    if ((x < 0) | (x != np.floor(x))).any():
        raise PurchaseModelError("x must hold whole numbers >= 0")
    if (T < 0).any():
        raise PurchaseModelError("T must be >= 0")
    if ((t_x < 0) | (t_x > T)).any():
        raise PurchaseModelError("t_x must be between 0 and T")
    if (t_x[x == 0] != 0).any():
        raise PurchaseModelError("t_x must be 0 where x is 0")
    return x, t_x, T


def _check_weights(weights, size):
    """Return the customer weights (counts), ones by default, or raise."""
    if weights is None:
        return np.ones(size)
    weights = _as_array("weights", weights)
    if len(weights) != size:
        raise PurchaseModelError("weights must have one value per customer")
    if (weights < 0).any():
        raise PurchaseModelError("weights must be >= 0")
    return weights


def _check_time(name, value):
    """Return ``value`` as a float >= 0, or raise."""
    try:
        value = float(value)
    except (TypeError, ValueError) as error:
        raise PurchaseModelError(f"{name} must be a number") from error
    if not np.isfinite(value) or value < 0:
        raise PurchaseModelError(f"{name} must be a finite number >= 0")
    return value


def _weighted_sum(weights, values):
    """Return the sum of ``weights * values`` over the last axis. Not with the
    matrix product: numpy hands it to OpenBLAS, whose threads spin against the
    other Odoo workers on a busy server (a fit took 15 to 25 times longer on two
    loaded cores)."""
    return (values * weights).sum(axis=-1)


def _aggregate(weights, *columns):
    """Collapse identical rows of ``columns`` (1-D arrays of one length): return
    the distinct rows (one array per column), the index of each input row's
    distinct row, and the summed ``weights`` of each distinct row (its count if
    ``weights`` is None). Many customers share their summary, so the likelihood
    and the series then run over far fewer rows. Sorts with lexsort, which is
    much faster than np.unique(axis=0)."""
    order = np.lexsort(columns[::-1])
    ordered = [column[order] for column in columns]
    starts = np.zeros(len(order), dtype=bool)
    starts[:1] = True
    for column in ordered:
        starts[1:] |= column[1:] != column[:-1]
    group = np.cumsum(starts) - 1
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = group
    counts = np.bincount(
        group,
        weights=None if weights is None else weights[order],
        minlength=starts.sum(),
    )
    return tuple(column[starts] for column in ordered), inverse, counts.astype(float)


# Maximum likelihood -------------------------------------------------------------


def _maximise(objective, starts, args, what):
    """Minimise ``objective`` (mean negative log-likelihood and its gradient in
    log parameters) with L-BFGS-B; return the log parameters at the minimum.

    The next start is tried only if the previous one fails. A run succeeds if no
    parameter ends at its bound and the gradient ends below _GRADIENT_TOLERANCE
    (whatever L-BFGS-B reports: it may report a failed line search at a maximum
    already reached); if none does, raise PurchaseModelError.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    reason = "the optimiser did not converge"
    for start in starts:
        with np.errstate(all="ignore"):
            result = optimize.minimize(
                objective,
                np.log(start),
                args=args,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
            )
        if (np.abs(result.x) > _LOG_BOUND - _AT_BOUND).any():
            reason = (
                "the data do not identify it (a parameter went to zero or infinity)"
            )
        elif (
            np.isfinite(result.fun) and np.abs(result.jac).max() <= _GRADIENT_TOLERANCE
        ):
            return result.x
    raise PurchaseModelError(f"cannot fit the {what} model: {reason}")


# BG/NBD ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Summaries:
    """Distinct customer summaries (x, t_x, T) with the number of customers of
    each (``counts``), and the distinct values of x with theirs (``x_counts``):
    the terms of the likelihood in x alone are computed once per value of x."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    counts: np.ndarray
    x_values: np.ndarray
    x_counts: np.ndarray


def _summaries(x, t_x, T, weights, time_scale=1.0):
    """Return the _Summaries of checked arrays, times divided by ``time_scale``."""
    (ux, ut_x, uT), _inverse, counts = _aggregate(weights, x, t_x, T)
    x_values, x_index = np.unique(ux, return_inverse=True)
    x_counts = np.bincount(x_index.reshape(-1), weights=counts)
    return _Summaries(
        ux, ut_x / time_scale, uT / time_scale, counts, x_values, x_counts
    )


def _bgnbd_log_odds_dead(r, alpha, a, b, x, t_x, T):
    """Return log(P(dead) / P(alive)) per customer [PALIVE]:

    log(a / (b + x - 1)) + (r + x) * log((alpha + T) / (alpha + t_x)), or -inf
    where x = 0 (nobody drops out before a repeat purchase)."""
    log_odds = (
        np.log(a)
        - np.log(b + np.maximum(x, 1) - 1)
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(x > 0, log_odds, -np.inf)


def _bgnbd_x_terms(r, alpha, a, b, x):
    """Return the terms of the log-likelihood [BG/NBD, eq. 6] in x alone:
    ln G(r + x) - ln G(r) + r ln(alpha) + ln B(a, b + x) - ln B(a, b)."""
    return (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )


def _bgnbd_row_terms(r, alpha, a, b, data):
    """Return the other terms of each row's log-likelihood [BG/NBD, eq. 6], and
    each row's P(dead). With B(a + 1, b + x - 1) / B(a, b + x) = a / (b + x - 1),
    the likelihood's sum of two terms is factored as
    (alpha + T)**-(r + x) * (1 + exp(log_odds_dead)), and its log is taken with
    log-sum-exp (np.logaddexp) so that nothing over- or underflows."""
    log_odds = _bgnbd_log_odds_dead(r, alpha, a, b, data.x, data.t_x, data.T)
    terms = -(r + data.x) * np.log(alpha + data.T) + np.logaddexp(0.0, log_odds)
    return terms, special.expit(log_odds)


def _bgnbd_total_log_likelihood(r, alpha, a, b, data):
    """Return the log-likelihood of every customer of ``data`` (a _Summaries)."""
    row_terms, _dead = _bgnbd_row_terms(r, alpha, a, b, data)
    x_terms = _bgnbd_x_terms(r, alpha, a, b, data.x_values)
    return float(
        _weighted_sum(data.x_counts, x_terms) + _weighted_sum(data.counts, row_terms)
    )


def _bgnbd_objective(log_params, data):
    """Return the mean negative log-likelihood of ``data`` and its gradient in
    (log r, log alpha, log a, log b): the derivatives of [BG/NBD, eq. 6], where
    P(dead) and P(alive) weigh the two terms of the likelihood."""
    r, alpha, a, b = np.exp(log_params)
    row_terms, dead = _bgnbd_row_terms(r, alpha, a, b, data)
    x_terms = _bgnbd_x_terms(r, alpha, a, b, data.x_values)
    log_lik = _weighted_sum(data.x_counts, x_terms)
    log_lik += _weighted_sum(data.counts, row_terms)
    psi, xv, x, w = special.digamma, data.x_values, data.x, data.counts
    # The terms in x alone, summed over the distinct values of x.
    d_r, d_a, d_b = _weighted_sum(
        data.x_counts,
        np.array(
            [
                psi(r + xv) - psi(r) + np.log(alpha),
                psi(a + b) - psi(a + b + xv),
                psi(b + xv) - psi(b) + psi(a + b) - psi(a + b + xv),
            ]
        ),
    )
    d_alpha = data.x_counts.sum() * r / alpha
    # The other terms, summed over the rows.
    log_alpha_t_x, log_alpha_T = np.log(alpha + data.t_x), np.log(alpha + data.T)
    d_r -= _weighted_sum(w, log_alpha_T + dead * (log_alpha_t_x - log_alpha_T))
    d_alpha -= _weighted_sum(
        w, (r + x) * ((1 - dead) / (alpha + data.T) + dead / (alpha + data.t_x))
    )
    d_a += _weighted_sum(w, dead) / a
    d_b -= _weighted_sum(w, dead / (b + np.maximum(x, 1) - 1))
    total = w.sum()
    gradient = np.array([d_r, d_alpha, d_a, d_b]) * np.exp(log_params)
    return -log_lik / total, -gradient / total


def bgnbd_log_likelihood(fit, x, t_x, T, weights=None):
    """Return the BG/NBD log-likelihood [BG/NBD, eq. 6] of the customers
    (``x``, ``t_x``, ``T``), each counted ``weights`` times, under ``fit``."""
    x, t_x, T = _check_summaries(x, t_x, T)
    data = _summaries(x, t_x, T, _check_weights(weights, len(x)))
    return _bgnbd_total_log_likelihood(fit.r, fit.alpha, fit.a, fit.b, data)


def fit_bgnbd(x, t_x, T, weights=None, min_repeat_buyers=20):
    """Fit the BG/NBD model by maximum likelihood [BG/NBD].

    ``x``, ``t_x``, ``T``: one value per customer (see the module docstring);
    ``weights``: optional count of customers per row. Identical rows are
    aggregated before the likelihood. Time is scaled to its mean during the fit
    so that all four parameters are of order one, and the optimiser works on
    their logarithms within bounds, with the analytic gradient. Returns a
    BgNbdFit (``alpha`` in the unit of the data); raises PurchaseModelError when
    fewer than ``min_repeat_buyers`` customers have a repeat purchase, or no
    maximum is found.
    """
    x, t_x, T = _check_summaries(x, t_x, T)
    weights = _check_weights(weights, len(x))
    repeat_buyers = int(weights[x > 0].sum())
    needed = max(min_repeat_buyers, 1)
    if repeat_buyers < needed:
        raise PurchaseModelError(
            f"cannot fit the purchase model: {repeat_buyers} customers with a "
            f"repeat purchase, at least {needed} needed"
        )
    scale = _weighted_sum(weights, T) / weights.sum()
    if scale <= 0:
        raise PurchaseModelError("T must be > 0 for some customers")
    data = _summaries(x, t_x, T, weights, scale)
    # Start where r / alpha, the mean purchase rate, is the pooled repeat rate.
    alpha_start = _weighted_sum(data.counts, data.T) / _weighted_sum(
        data.counts, data.x
    )
    starts = [(1.0, alpha_start, 1.0, 1.0), (0.5, alpha_start / 2, 0.5, 3.0)]
    r, alpha, a, b = np.exp(_maximise(_bgnbd_objective, starts, (data,), "purchase"))
    alpha *= scale
    data = dataclasses.replace(data, t_x=data.t_x * scale, T=data.T * scale)
    return BgNbdFit(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        log_likelihood=_bgnbd_total_log_likelihood(r, alpha, a, b, data),
        customers=int(data.counts.sum()),
        repeat_buyers=repeat_buyers,
    )


def probability_alive(fit, x, t_x, T):
    """Return P(alive | x, t_x, T) per customer [BG/NBD; PALIVE]:

    1 / (1 + [x > 0] * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)),
    computed as a logistic function of the log odds so that it never overflows.
    """
    x, t_x, T = _check_summaries(x, t_x, T)
    return _probability_alive(fit, x, t_x, T)


def _probability_alive(fit, x, t_x, T):
    """Return P(alive) of checked summaries (see probability_alive)."""
    log_odds = _bgnbd_log_odds_dead(fit.r, fit.alpha, fit.a, fit.b, x, t_x, T)
    return special.expit(-log_odds)


def _series_remainder_ratio(A, a, c, z, n):
    """Return a bound rho on |term(m + 1) / term(m)| for every m >= n of the
    series of _euler_series: each factor (A + m) / (c + m) and (a + m - 1) /
    (m + 1) moves monotonically towards 1 as m grows, so its value at n or 1
    bounds it. The remainder after term n is then at most term(n) rho / (1 - rho)
    if rho < 1."""
    return (
        z
        * np.maximum(1.0, np.abs(A + n) / (c + n))
        * np.maximum(1.0, (a + n - 1) / (n + 1))
    )


def _euler_series(A, a, c, z, log_1mz):
    """Return, per row, with (q)_n the rising factorial,

    (1 - z) ** (a - 1) * sum_{n >= 1} (A)_n (a)_{n-1} z**n / ((c + 1)_{n-1} n!),

    for scalars A and a and arrays c and z, summed in log space in blocks of
    _SERIES_BLOCK terms until the bound on the remainder is below
    _SERIES_TOLERANCE of the sum. The terms change sign only while A + n < 0;
    c > -1, so no denominator vanishes. Raises PurchaseModelError if the series
    needs more than _SERIES_MAX_TERMS terms (z above about 0.9998).
    """
    result = np.zeros(z.shape)
    rows = np.flatnonzero(z > 0) if A != 0 else np.array([], dtype=np.intp)
    log_z = np.log(z[rows])
    log_term = np.log(abs(A)) + log_z + (a - 1) * log_1mz[rows]
    sign = np.full(len(rows), np.sign(A))
    log_scale, acc = log_term.copy(), sign.copy()
    steps, n = np.arange(_SERIES_BLOCK), 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while rows.size:
            if n > _SERIES_MAX_TERMS:
                raise PurchaseModelError(
                    "the expected purchases do not converge: the horizon is too "
                    "long for the purchase rates (alpha too small)"
                )
            m = n + steps
            A_m, c_m = A + m, c[rows, None] + m
            log_ratio = np.log(np.abs(A_m)) + np.log((a + m - 1) / ((m + 1) * c_m))
            logs = log_term[:, None] + np.cumsum(log_ratio + log_z[:, None], axis=1)
            signs = sign[:, None] * np.cumprod(np.sign(A_m))
            new_scale = np.maximum(log_scale, logs.max(axis=1))
            acc = acc * np.exp(log_scale - new_scale)
            acc += (signs * np.exp(logs - new_scale[:, None])).sum(axis=1)
            log_scale, log_term, sign = new_scale, logs[:, -1], signs[:, -1]
            n += _SERIES_BLOCK
            rho = _series_remainder_ratio(A, a, c[rows], z[rows], n)
            log_remainder = log_term + np.log(rho) - np.log1p(-rho)
            done = (rho < 1) & (
                log_remainder
                <= np.log(_SERIES_TOLERANCE) + log_scale + np.log(np.abs(acc))
            )
            result[rows[done]] = acc[done] * np.exp(log_scale[done])
            keep = ~done
            rows, log_z, log_term, sign = (
                rows[keep],
                log_z[keep],
                log_term[keep],
                sign[keep],
            )
            log_scale, acc = log_scale[keep], acc[keep]
    return result


def _expected_purchases_if_alive(fit, t, x, T):
    """Return E[Y(t) | alive at T, x] per row: [BG/NBD, eq. 10] without its
    denominator 1 / P(alive),

    (a + b + x - 1) / (a - 1) * (1 - (1 - z)**(r + x) 2F1(r + x, b + x; c; z)),
    with c = a + b + x - 1 and z = t / (alpha + T + t).

    The direct 2F1 grows like (1 - z)**(a - 1 - r - x) and overflows for large x,
    and the formula is 0/0 at a = 1. Euler's transformation [DLMF 15.8.1] gives
    (1 - z)**(r + x) 2F1(r + x, b + x; c; z) = (1 - z)**(a - 1) 2F1(A, a - 1; c; z)
    with A = a + b - 1 - r, whose parameters no longer grow with x; its Gauss
    series [DLMF 15.2.1] has the factor (a - 1) in every term but the first, so

    E = c * (1 - (1 - z)**(a - 1)) / (a - 1) - _euler_series(A, a, c, z),

    the first part computed with expm1 (its limit at a = 1 is -c log(1 - z)).
    """
    a = fit.a
    log_1mz = np.log(fit.alpha + T) - np.log(fit.alpha + T + t)
    z = -np.expm1(log_1mz)
    c = a + fit.b + x - 1
    if a == 1:
        head = -log_1mz
    else:
        head = -np.expm1((a - 1) * log_1mz) / (a - 1)
    tail = np.empty(len(x))
    for start in range(0, len(x), _SERIES_ROWS):
        rows = slice(start, start + _SERIES_ROWS)
        tail[rows] = _euler_series(
            a + fit.b - 1 - fit.r, a, c[rows], z[rows], log_1mz[rows]
        )
    # The difference is >= 0 in exact arithmetic; only rounding can dip below.
    return np.maximum(c * head - tail, 0.0)


def expected_purchases(fit, t, x, t_x, T):
    """Return the expected number of repeat purchases of each customer in the
    next ``t`` time units, E[Y(t) | x, t_x, T] [BG/NBD, eq. 10]: the expectation
    if alive (see _expected_purchases_if_alive) times P(alive)."""
    t = _check_time("t", t)
    x, t_x, T = _check_summaries(x, t_x, T)
    return _expected_purchases(fit, [t], x, t_x, T)[0]


def _expected_purchases(fit, horizons, x, t_x, T):
    """Return E[Y(t) | x, t_x, T] of checked summaries for each t of
    ``horizons``, one array per horizon. The series runs once per distinct
    (x, T) and horizon."""
    (ux, uT), inverse, _counts = _aggregate(None, x, T)
    alive = _probability_alive(fit, x, t_x, T)
    return [
        _expected_purchases_if_alive(fit, t, ux, uT)[inverse] * alive
        if t > 0
        else np.zeros(len(x))
        for t in horizons
    ]


# Gamma-Gamma ----------------------------------------------------------------------


def _check_spend(x, mean_spend):
    """Return ``x`` and ``mean_spend`` as float arrays after checking them:
    whole ``x`` >= 0, ``mean_spend`` > 0 where ``x`` > 0 (ignored elsewhere)."""
    x, mean_spend = _as_array("x", x), _as_array("mean_spend", mean_spend)
    _same_length(x=x, mean_spend=mean_spend)
    if ((x < 0) | (x != np.floor(x))).any():
        raise PurchaseModelError("x must hold whole numbers >= 0")
    if (mean_spend[x > 0] <= 0).any():
        raise PurchaseModelError("mean_spend must be > 0 where x > 0")
    return x, mean_spend


@dataclasses.dataclass(frozen=True)
class _Spends:
    """Distinct (x, mean spend) rows of repeat buyers with the number of customers
    of each, and the distinct values of x with theirs (see _Summaries)."""

    x: np.ndarray
    m: np.ndarray
    counts: np.ndarray
    x_values: np.ndarray
    x_counts: np.ndarray


def _spends(x, mean_spend, weights, spend_scale=1.0):
    """Return the _Spends of the repeat buyers (x > 0, weight > 0) of checked
    arrays, spend divided by ``spend_scale``."""
    repeat = (x > 0) & (weights > 0)
    (ux, um), _inverse, counts = _aggregate(
        weights[repeat], x[repeat], mean_spend[repeat]
    )
    x_values, x_index = np.unique(ux, return_inverse=True)
    x_counts = np.bincount(x_index.reshape(-1), weights=counts)
    return _Spends(ux, um / spend_scale, counts, x_values, x_counts)


def _gamma_gamma_log_likelihood(p, q, gamma, data):
    """Return the log-likelihood of the repeat buyers of ``data`` [GG],

    ln G(px + q) - ln G(px) - ln G(q) + q ln(gamma) + px ln(x)
    + (px - 1) ln(m) - (px + q) ln(gamma + m x),

    for a mean spend m over x purchases; the first line is in x alone and is
    computed once per value of x."""
    px = p * data.x_values
    x_terms = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + px * np.log(data.x_values)
    )
    row_terms = (p * data.x - 1) * np.log(data.m)
    row_terms -= (p * data.x + q) * np.log(gamma + data.m * data.x)
    return float(
        _weighted_sum(data.x_counts, x_terms) + _weighted_sum(data.counts, row_terms)
    )


def _gamma_gamma_objective(log_params, data):
    """Return the mean negative log-likelihood of the Gamma-Gamma model and its
    gradient in (log p, log q, log gamma)."""
    p, q, gamma = np.exp(log_params)
    xv, x, m, w = data.x_values, data.x, data.m, data.counts
    psi_total = special.digamma(p * xv + q)
    d_p, d_q = _weighted_sum(
        data.x_counts,
        np.array(
            [
                xv * (psi_total - special.digamma(p * xv) + np.log(xv)),
                psi_total - special.digamma(q) + np.log(gamma),
            ]
        ),
    )
    log_total = np.log(gamma + m * x)
    d_p += _weighted_sum(w, x * (np.log(m) - log_total))
    d_q -= _weighted_sum(w, log_total)
    d_gamma = w.sum() * q / gamma - _weighted_sum(w, (p * x + q) / (gamma + m * x))
    total = w.sum()
    gradient = np.array([d_p, d_q, d_gamma]) * np.exp(log_params)
    log_lik = _gamma_gamma_log_likelihood(p, q, gamma, data)
    return -log_lik / total, -gradient / total


def fit_gamma_gamma(x, mean_spend, weights=None, min_repeat_buyers=20):
    """Fit the Gamma-Gamma spend model by maximum likelihood [GG].

    ``x``: repeat purchases per customer; ``mean_spend``: their mean amount;
    ``weights``: optional count of customers per row. Only customers with x > 0
    are used. Spend is scaled to its mean during the fit. Returns a
    GammaGammaFit (``gamma`` in the currency of the data); raises
    PurchaseModelError with fewer than ``min_repeat_buyers`` such customers, when
    no maximum is found, or when q <= 1 (the mean spend of the population,
    p gamma / (q - 1), would be infinite).
    """
    x, mean_spend = _check_spend(x, mean_spend)
    weights = _check_weights(weights, len(x))
    customers = int(weights[x > 0].sum())
    needed = max(min_repeat_buyers, 1)
    if customers < needed:
        raise PurchaseModelError(
            f"cannot fit the spend model: {customers} customers with a repeat "
            f"purchase, at least {needed} needed"
        )
    repeat = x > 0
    scale = _weighted_sum(weights[repeat], mean_spend[repeat]) / weights[repeat].sum()
    starts = [(1.0, 2.0, 1.0), (5.0, 5.0, 4.0)]
    data = _spends(x, mean_spend, weights, scale)
    p, q, gamma = np.exp(_maximise(_gamma_gamma_objective, starts, (data,), "spend"))
    if q <= 1:
        raise PurchaseModelError(
            f"cannot use the spend model: q = {q:.3g} <= 1, the spend per "
            "purchase is too heavy-tailed for a finite mean"
        )
    gamma *= scale
    return GammaGammaFit(
        p=float(p),
        q=float(q),
        gamma=float(gamma),
        log_likelihood=_gamma_gamma_log_likelihood(
            p, q, gamma, _spends(x, mean_spend, weights)
        ),
        customers=customers,
    )


def expected_spend(fit, x, mean_spend):
    """Return each customer's expected spend per purchase [GG; RFM-CLV]:

    E[Z | p, q, gamma, m_x, x] = p (gamma + m_x x) / (p x + q - 1),

    a weighted mean of the population mean p gamma / (q - 1) and the customer's
    own mean m_x (the population mean where x = 0)."""
    x, mean_spend = _check_spend(x, mean_spend)
    m = np.where(x > 0, mean_spend, 0.0)
    return fit.p * (fit.gamma + m * x) / (fit.p * x + fit.q - 1)


# Value and holdout -----------------------------------------------------------------


def expected_value(
    bgnbd,
    gamma_gamma,
    horizon,
    x,
    t_x,
    T,
    mean_spend,
    discount_rate=0.0,
    discount_period=365.0,
    steps=12,
):
    """Return each customer's expected value over the next ``horizon`` time units.

    Without discount (``discount_rate`` 0): E[Y(horizon) | x, t_x, T] *
    E[Z | x, m_x], the expected purchases [BG/NBD, eq. 10] times the expected
    spend per purchase [GG] (the two models are independent [RFM-CLV]).
    With a discount rate d per ``discount_period`` (default: a year of days),
    the horizon is cut into ``steps`` equal periods and the purchases expected
    in period k, E[Y(t_k)] - E[Y(t_{k-1})], are discounted by
    (1 + d) ** (t_k / discount_period), as at the end of their period.
    """
    horizon = _check_time("horizon", horizon)
    discount_rate = _check_time("discount_rate", discount_rate)
    if _check_time("discount_period", discount_period) == 0:
        raise PurchaseModelError("discount_period must be > 0")
    if not isinstance(steps, numbers.Integral) or steps < 1:
        raise PurchaseModelError("steps must be a whole number >= 1")
    x, t_x, T = _check_summaries(x, t_x, T)
    spend = expected_spend(gamma_gamma, x, mean_spend)
    if discount_rate == 0:
        return _expected_purchases(bgnbd, [horizon], x, t_x, T)[0] * spend
    ends = horizon * np.arange(1, steps + 1) / steps
    cumulative = _expected_purchases(bgnbd, ends, x, t_x, T)
    purchases, previous = np.zeros(len(x)), np.zeros(len(x))
    for end, current in zip(ends, cumulative, strict=True):
        discount = (1 + discount_rate) ** (end / discount_period)
        purchases += (current - previous) / discount
        previous = current
    return purchases * spend


def holdout_check(fit, x, t_x, T, holdout_length, actual):
    """Compare predicted and actual repeat purchases in a holdout period.

    ``fit`` was fitted on the calibration summaries (``x``, ``t_x``, ``T``, up to
    the end of calibration); ``actual`` holds each customer's repeat purchases in
    the ``holdout_length`` time units that follow. The prediction is
    E[Y(holdout_length) | x, t_x, T] [BG/NBD, eq. 10]. Returns a HoldoutCheck.
    """
    actual = _as_array("actual", actual)
    predicted = expected_purchases(fit, holdout_length, x, t_x, T)
    _same_length(x=predicted, actual=actual)
    if ((actual < 0) | (actual != np.floor(actual))).any():
        raise PurchaseModelError("actual must hold whole numbers >= 0")
    return HoldoutCheck(
        predicted=predicted,
        actual=actual,
        predicted_total=float(predicted.sum()),
        actual_total=float(actual.sum()),
        mean_absolute_error=float(np.abs(predicted - actual).mean())
        if len(actual)
        else 0.0,
        customers=len(actual),
    )


def simulate_bgnbd(r, alpha, a, b, T, seed=None):
    """Draw customer summaries from the BG/NBD model, for tests and benchmarks.

    Per customer of age ``T``: lambda ~ gamma(r, alpha), p ~ beta(a, b); the
    number of repeat purchases before dropping out is geometric(p) (>= 1, a
    customer drops out only just after a purchase [BG/NBD]); the
    purchases form a Poisson(lambda) process. Given M purchases in [0, T], the
    k-th one falls at T * beta(k, M - k + 1) (order statistics of uniforms).
    Returns (x, t_x) as float arrays.
    """
    T = _as_array("T", T)
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1.0 / alpha, size=len(T))
    lifetime_purchases = rng.geometric(rng.beta(a, b, size=len(T)))
    in_window = rng.poisson(rate * T)
    x = np.minimum(in_window, lifetime_purchases)
    t_x = np.zeros(len(T))
    repeat = x > 0
    t_x[repeat] = T[repeat] * rng.beta(x[repeat], in_window[repeat] - x[repeat] + 1)
    return x.astype(float), t_x


def simulate_gamma_gamma(p, q, gamma, x, seed=None):
    """Draw each customer's mean spend over ``x`` purchases from the Gamma-Gamma
    model, for tests and benchmarks: v ~ gamma(q, gamma) per customer, and the
    sum of x spends ~ gamma(p x, v) [GG]. Returns 0 where x = 0."""
    x = _as_array("x", x)
    rng = np.random.default_rng(seed)
    scale_rate = rng.gamma(q, 1.0 / gamma, size=len(x))
    repeat = x > 0
    mean_spend = np.zeros(len(x))
    mean_spend[repeat] = rng.gamma(p * x[repeat], 1.0 / scale_rate[repeat]) / x[repeat]
    return mean_spend
