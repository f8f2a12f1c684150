"""The purchase models' numerical core (tools/purchase_model.py): BG/NBD and
Gamma-Gamma against the published CDNOW estimates, P(alive) and the conditional
expectation against independent computations, and the holdout check.

No database: BaseCase, as Odoo's own tests of plain tools modules
(phone_validation's test_phonenumbers)."""

import ast
import datetime
import importlib
import inspect
import logging
import math

import numpy as np
from scipy import integrate, optimize

from odoo.tests import tagged
from odoo.tests.common import BaseCase
from odoo.tools.misc import file_path

from ..tools import purchase_model as pm

_logger = logging.getLogger(__name__)

CDNOW = "customer_segmentation/tests/data/CDNOW_sample.txt"
CALIBRATION_END = datetime.date(1997, 9, 30)
HOLDOUT_END = datetime.date(1998, 6, 30)
# Fader, Hardie & Lee 2005 (BG/NBD, per week) and Fader & Hardie 2013 (Gamma-Gamma).
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LOG_LIKELIHOOD = -9582.4
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# The published BG/NBD parameters with alpha in days (7 days a week).
PUBLISHED_IN_DAYS = pm.BgNbdFit(
    r=0.243,
    alpha=4.414 * 7,
    a=0.793,
    b=2.426,
    log_likelihood=0.0,
    customers=0,
    repeat_buyers=0,
)


def load_cdnow():
    """Return the CDNOW sample's transactions: customer number, purchase day
    (proleptic ordinal) and amount, one row per line of the file (a customer
    may have several lines on one day)."""
    raw = np.loadtxt(file_path(CDNOW))
    day = np.array(
        [
            datetime.datetime.strptime(str(int(stamp)), "%Y%m%d").toordinal()
            for stamp in raw[:, 2]
        ]
    )
    return raw[:, 1].astype(int), day, raw[:, 4]


def purchase_days(customer, day, amount):
    """Return the distinct (customer, day) pairs, sorted, with each day's amount:
    the project counts one purchase per customer and distinct day."""
    key = customer * 10**7 + day
    keys, index = np.unique(key, return_inverse=True)
    return keys // 10**7, keys % 10**7, np.bincount(index, weights=amount)


def summarise(customer, day, amount, end):
    """Return the customers who bought up to ``end`` (an ordinal) and their x,
    t_x, T in days, and mean amount per repeat purchase day (0 where x = 0)."""
    keep = day <= end
    days_customer, days, day_amount = purchase_days(
        customer[keep], day[keep], amount[keep]
    )
    customers, first, count = np.unique(
        days_customer, return_index=True, return_counts=True
    )
    last = first + count - 1
    x = count - 1.0
    repeat_amount = (
        np.bincount(np.searchsorted(customers, days_customer), weights=day_amount)
        - day_amount[first]
    )
    mean_spend = np.where(x > 0, repeat_amount / np.maximum(x, 1), 0.0)
    return (
        customers,
        x,
        days[last] - days[first] + 0.0,
        end - days[first] + 0.0,
        mean_spend,
    )


def count_purchase_days(customers, customer, day, start, end):
    """Return, per customer of ``customers`` (sorted), its distinct purchase days
    in [start, end]."""
    keep = (day >= start) & (day <= end)
    days_customer, _days, _amount = purchase_days(
        customer[keep], day[keep], amount=None
    )
    return np.bincount(
        np.searchsorted(customers, days_customer), minlength=len(customers)
    ).astype(float)


def cdnow_holdout_figures():
    """Fit BG/NBD on CDNOW's weeks 1-39 (1997-01-01 to 1997-09-30, in days) and
    compare its predictions with the repeat purchase days of weeks 40-78
    (1997-10-01 to 1998-06-30): the figures README quotes."""
    customer, day, amount = load_cdnow()
    end = CALIBRATION_END.toordinal()
    customers, x, t_x, T, _spend = summarise(customer, day, amount, end)
    fit = pm.fit_bgnbd(x, t_x, T)
    actual = count_purchase_days(
        customers, customer, day, end + 1, HOLDOUT_END.toordinal()
    )
    check = pm.holdout_check(fit, x, t_x, T, HOLDOUT_END.toordinal() - end, actual)
    by_frequency = {
        label: (float(check.predicted[rows].mean()), float(check.actual[rows].mean()))
        for label, rows in (
            ("x=0", x == 0),
            ("x=1-3", (x >= 1) & (x <= 3)),
            ("x>=4", x >= 4),
        )
    }
    return check, by_frequency


def paper_probability_alive(r, alpha, a, b, x, t_x, T):
    """P(alive) of one customer, written out from Fader, Hardie & Lee (2005)."""
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def paper_log_likelihood(r, alpha, a, b, x, t_x, T):
    """One customer's log-likelihood, written out from Fader, Hardie & Lee
    (2005), eq. (6): the log of the sum of its two terms, each taken as a log
    and summed shifted by the larger one, so that neither over- nor underflows."""

    def log_beta(p, q):
        return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)

    head = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) - log_beta(a, b)
    terms = [head + log_beta(a, b + x) - (r + x) * math.log(alpha + T)]
    if x > 0:
        terms.append(
            head + log_beta(a + 1, b + x - 1) - (r + x) * math.log(alpha + t_x)
        )
    largest = max(terms)
    return largest + math.log(sum(math.exp(term - largest) for term in terms))


def softplus(value):
    """log(1 + exp(value)), without overflow."""
    return max(value, 0.0) + math.log1p(math.exp(-abs(value)))


def integrated_expectation(fit, t, x, t_x, T):
    """E[Y(t) | x, t_x, T] by numerical integration, without 2F1.

    Alive at T after x repeat purchases, a customer's purchase rate is
    gamma(r + x, alpha + T) and its dropout probability p beta(a, b + x); an
    alive customer with (lambda, p) makes (1 - exp(-lambda p t)) / p purchases
    in t on average (Fader, Hardie & Lee 2005), whose mean over lambda is
    (1 - (1 + p t / (alpha + T)) ** -(r + x)) / p. Its mean over p is
    integrated in v = logit(p), where the beta density times dp/dv is the smooth
    bell p**a (1 - p)**(b + x) / B(a, b + x) (no endpoint singularity, however
    small a or large b + x), then multiplied by P(alive)."""
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    u, beta = t / (alpha + T), b + x
    log_norm = math.lgamma(a) + math.lgamma(beta) - math.lgamma(a + beta)

    def integrand(v):
        log_p, log_1mp = -softplus(-v), -softplus(v)
        p = math.exp(log_p)
        if p == 0:
            if_alive = (r + x) * u
        else:
            if_alive = -math.expm1(-(r + x) * math.log1p(p * u)) / p
        return if_alive * math.exp(a * log_p + beta * log_1mp - log_norm)

    # The bell peaks at logit(a / (a + b + x)) and falls like exp(a v) to its
    # left and exp(-(b + x) v) to its right.
    mode = math.log(a / beta)
    integral, _error = integrate.quad(
        integrand,
        mode - 40 / a - 10,
        mode + 40 / beta + 10,
        points=[mode],
        epsabs=0,
        epsrel=1e-12,
        limit=500,
    )
    return paper_probability_alive(r, alpha, a, b, x, t_x, T) * integral


@tagged("post_install", "-at_install")
class TestCdnow(BaseCase):
    """The CDNOW sample (2,357 customers of the first quarter of 1997), summarised
    with the project's rule: one purchase per distinct day, time in days."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer, cls.day, cls.amount = load_cdnow()
        cls.customers, cls.x, cls.t_x, cls.T, cls.spend = summarise(
            cls.customer, cls.day, cls.amount, CALIBRATION_END.toordinal()
        )
        cls.fit = pm.fit_bgnbd(cls.x, cls.t_x, cls.T)

    def assertWithinOnePercent(self, fitted, published):
        for name, value in published.items():
            with self.subTest(parameter=name):
                self.assertLess(abs(fitted[name] / value - 1), 0.01, fitted)

    def test_summary(self):
        self.assertEqual(len(self.customers), 2357)
        self.assertEqual(int((self.x > 0).sum()), 946)
        # Customer 1 bought on 1997-01-01, 01-18 and 08-02 (and in the holdout).
        self.assertEqual((self.x[0], self.t_x[0], self.T[0]), (2, 213, 272))
        self.assertAlmostEqual(self.spend[0], (29.73 + 14.96) / 2, places=10)

    def test_bgnbd_reproduces_the_published_estimates(self):
        fitted = {
            "r": self.fit.r,
            "alpha": self.fit.alpha / 7,
            "a": self.fit.a,
            "b": self.fit.b,
        }
        self.assertWithinOnePercent(fitted, PUBLISHED_BGNBD)
        # The log-likelihood in weeks: the time unit shifts it by sum(x) log(7).
        in_weeks = self.fit.log_likelihood + self.x.sum() * math.log(7)
        self.assertAlmostEqual(in_weeks, PUBLISHED_BGNBD_LOG_LIKELIHOOD, delta=0.05)

    def test_bgnbd_fit_does_not_depend_on_the_time_unit(self):
        weekly = pm.fit_bgnbd(self.x, self.t_x / 7, self.T / 7)
        self.assertAlmostEqual(weekly.alpha * 7 / self.fit.alpha, 1, places=6)
        for name in ("r", "a", "b"):
            self.assertAlmostEqual(
                getattr(weekly, name) / getattr(self.fit, name), 1, 6
            )

    def test_log_likelihood_against_the_paper(self):
        expected = sum(
            paper_log_likelihood(0.243, 4.414 * 7, 0.793, 2.426, *row)
            for row in zip(self.x, self.t_x, self.T, strict=True)
        )
        actual = pm.bgnbd_log_likelihood(PUBLISHED_IN_DAYS, self.x, self.t_x, self.T)
        self.assertAlmostEqual(actual, expected, delta=1e-8)
        self.assertAlmostEqual(
            pm.bgnbd_log_likelihood(self.fit, self.x, self.t_x, self.T),
            self.fit.log_likelihood,
            delta=1e-8,
        )

    def test_gamma_gamma_reproduces_the_published_estimates(self):
        fit = pm.fit_gamma_gamma(self.x, self.spend)
        self.assertEqual(fit.customers, 946)
        fitted = {"p": fit.p, "q": fit.q, "gamma": fit.gamma}
        self.assertWithinOnePercent(fitted, PUBLISHED_GAMMA_GAMMA)

    def test_probability_alive_against_the_paper(self):
        p_alive = pm.probability_alive(PUBLISHED_IN_DAYS, self.x, self.t_x, self.T)
        # Worked by hand with the published parameters, alpha = 4.414 * 7 days:
        # customer 1: x 2, t_x 213, T 272:
        #   1 / (1 + 0.793 / 3.426 * (302.898 / 243.898) ** 2.243) = 0.72659
        # customer 2 (1997-01-01, 01-13): x 1, t_x 12, T 272:
        #   1 / (1 + 0.793 / 2.426 * (302.898 / 42.898) ** 1.243) = 0.21226
        # customer 3 bought once: alive for sure.
        self.assertAlmostEqual(p_alive[0], 0.72659, places=5)
        self.assertAlmostEqual(p_alive[1], 0.21226, places=5)
        self.assertEqual(p_alive[2], 1.0)
        expected = [
            paper_probability_alive(0.243, 4.414 * 7, 0.793, 2.426, *row)
            for row in zip(self.x, self.t_x, self.T, strict=True)
        ]
        np.testing.assert_allclose(p_alive, expected, rtol=1e-12)

    def test_expected_purchases_against_numerical_integration(self):
        rows = [0, 1, 2, int(np.argmax(self.x))]
        for t in (90, 273, 365):
            predicted = pm.expected_purchases(self.fit, t, self.x, self.t_x, self.T)
            for row in rows:
                with self.subTest(t=t, customer=row + 1):
                    expected = integrated_expectation(
                        self.fit, t, self.x[row], self.t_x[row], self.T[row]
                    )
                    self.assertAlmostEqual(predicted[row] / expected, 1, places=9)

    def test_holdout(self):
        check, by_frequency = cdnow_holdout_figures()
        _logger.info(
            "CDNOW holdout (weeks 40-78): predicted %.1f, actual %d repeat purchase "
            "days, mean absolute error %.3f per customer; mean predicted vs actual "
            "by calibration repeat purchases: %s",
            check.predicted_total,
            check.actual_total,
            check.mean_absolute_error,
            by_frequency,
        )
        self.assertEqual(check.customers, 2357)
        self.assertEqual(check.actual_total, 1882)
        # Measured: the model under-predicts CDNOW's second 39 weeks by 12% in
        # total, most for the customers with 1 to 3 calibration repeat purchases.
        self.assertAlmostEqual(check.predicted_total, 1653.41, delta=0.01)
        self.assertAlmostEqual(check.mean_absolute_error, 0.7855, delta=0.0001)
        expected_groups = {
            "x=0": (0.2251, 0.2367),
            "x=1-3": (0.8036, 1.0093),
            "x>=4": (3.7859, 4.0829),
        }
        for label, (predicted, actual) in by_frequency.items():
            with self.subTest(group=label):
                self.assertAlmostEqual(predicted, expected_groups[label][0], places=4)
                self.assertAlmostEqual(actual, expected_groups[label][1], places=4)
                self.assertLess(abs(predicted / actual - 1), 0.25)
        self.assertLess(abs(check.predicted_total / check.actual_total - 1), 0.15)


@tagged("post_install", "-at_install")
class TestBgNbd(BaseCase):
    """Fitting, scoring and refusing bad input, on synthetic customers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = np.random.default_rng(7)
        cls.T = rng.integers(30, 731, size=50_000).astype(float)
        cls.true = {"r": 0.5, "alpha": 20.0, "a": 0.7, "b": 3.0}
        cls.x, cls.t_x = pm.simulate_bgnbd(*cls.true.values(), cls.T, seed=8)
        # Days, as the project counts them.
        cls.t_x = np.floor(cls.t_x)
        cls.fit = pm.fit_bgnbd(cls.x, cls.t_x, cls.T)

    def test_module_is_plain_python(self):
        self.assertIs(
            importlib.import_module(
                "odoo.addons.customer_segmentation.tools.purchase_model"
            ),
            pm,
        )
        tree = ast.parse(inspect.getsource(pm))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (
                node.names if isinstance(node, ast.Import) else [ast.alias(node.module)]
            )
        }
        self.assertEqual(imported, {"dataclasses", "numbers", "numpy", "scipy"})

    def test_recovers_the_simulated_parameters(self):
        for name, value in self.true.items():
            with self.subTest(parameter=name):
                self.assertLess(abs(getattr(self.fit, name) / value - 1), 0.1)
        self.assertEqual(self.fit.customers, 50_000)
        self.assertEqual(self.fit.repeat_buyers, int((self.x > 0).sum()))

    def test_weights_are_counts_of_identical_customers(self):
        rows, inverse, counts = pm._aggregate(None, self.x, self.t_x, self.T)
        self.assertLess(len(rows[0]), len(self.x))
        for column, original in zip(rows, (self.x, self.t_x, self.T), strict=True):
            np.testing.assert_array_equal(column[inverse], original)
        self.assertEqual(counts.sum(), len(self.x))
        weighted = pm.fit_bgnbd(*rows, weights=counts)
        for name in ("r", "alpha", "a", "b", "log_likelihood"):
            self.assertAlmostEqual(
                getattr(weighted, name) / getattr(self.fit, name), 1, places=7
            )
        self.assertEqual(weighted.customers, self.fit.customers)

    def test_log_likelihood_of_extreme_customers(self):
        """A heavy buyer silent for ages, a customer of one day: no overflow."""
        fit = pm.BgNbdFit(
            0.25, 30.0, 0.8, 2.5, log_likelihood=0.0, customers=0, repeat_buyers=0
        )
        customers = [(5000, 10, 10**6), (0, 0, 10**6), (1, 10**6 - 1, 10**6), (3, 0, 0)]
        for customer in customers:
            with self.subTest(customer=customer):
                expected = paper_log_likelihood(0.25, 30.0, 0.8, 2.5, *customer)
                actual = pm.bgnbd_log_likelihood(fit, *([value] for value in customer))
                self.assertAlmostEqual(actual / expected, 1, places=12)

    def test_gradient(self):
        data = pm._summaries(self.x, self.t_x, self.T, np.ones(len(self.x)), 300.0)
        for point in (
            [0.3, 0.1, 0.9, 2.0],
            [2.0, 0.02, 1.0, 0.5],
            [0.5, 1.0, 4.0, 30.0],
        ):
            log_point = np.log(point)
            _value, gradient = pm._bgnbd_objective(log_point, data)
            numeric = optimize.approx_fprime(
                log_point, lambda p: pm._bgnbd_objective(p, data)[0], 1e-7
            )
            np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-7)

    def test_probability_alive(self):
        p_alive = pm.probability_alive(self.fit, self.x, self.t_x, self.T)
        self.assertTrue(((p_alive > 0) & (p_alive <= 1)).all())
        np.testing.assert_array_equal(p_alive[self.x == 0], 1.0)
        # Silence lowers it: the same two purchases, observed for longer.
        older = pm.probability_alive(self.fit, [2, 2, 2], [50, 50, 50], [60, 200, 600])
        self.assertTrue((np.diff(older) < 0).all(), older)
        # No overflow for a heavy buyer long silent.
        self.assertEqual(pm.probability_alive(self.fit, [5000], [10], [10**6])[0], 0.0)

    def test_expected_purchases_per_customer(self):
        subset = slice(0, 300)
        x, t_x, T = self.x[subset], self.t_x[subset], self.T[subset]
        together = pm.expected_purchases(self.fit, 90, x, t_x, T)
        one_by_one = [
            pm.expected_purchases(self.fit, 90, [row_x], [row_t_x], [row_T])[0]
            for row_x, row_t_x, row_T in zip(x, t_x, T, strict=True)
        ]
        np.testing.assert_allclose(together, one_by_one, rtol=1e-13)
        np.testing.assert_array_equal(pm.expected_purchases(self.fit, 0, x, t_x, T), 0)
        longer = pm.expected_purchases(self.fit, 365, x, t_x, T)
        self.assertTrue((longer >= together).all())

    def test_expected_purchases_in_hard_regions(self):
        """Against numerical integration where the direct 2F1 of eq. (10) fails:
        a = 1 (0/0), a + b < 1 (c < 0 for x = 0), large a and b, large x,
        z = t / (alpha + T + t) near 1."""
        cases = [
            ((0.5, 10.0, 1.0, 2.0), 365, [(0, 0, 100), (3, 80, 100)]),
            ((2.0, 5.0, 0.3, 0.5), 365, [(0, 0, 30), (1, 10, 30)]),
            ((1.0, 20.0, 50.0, 200.0), 365, [(0, 0, 0), (10, 300, 400)]),
            ((1.5, 2.0, 0.8, 2.5), 90, [(2000, 2990, 3000), (5000, 2900, 3000)]),
            # The direct 2F1 overflows: NaN.
            ((1.5, 2.0, 0.8, 2.5), 3650, [(2000, 1990, 2000), (1000, 999, 1000)]),
            ((0.25, 1.0, 0.8, 2.5), 3000, [(0, 0, 0), (3, 2, 5)]),
        ]
        for params, t, customers in cases:
            fit = pm.BgNbdFit(*params, log_likelihood=0.0, customers=0, repeat_buyers=0)
            x, t_x, T = np.array(customers, dtype=float).T
            predicted = pm.expected_purchases(fit, t, x, t_x, T)
            for row, customer in enumerate(customers):
                with self.subTest(params=params, customer=customer):
                    expected = integrated_expectation(fit, t, *customer)
                    self.assertTrue(np.isfinite(predicted[row]))
                    self.assertAlmostEqual(predicted[row] / expected, 1, places=9)

    def test_expected_purchases_refuse_what_does_not_converge(self):
        fit = pm.BgNbdFit(0.25, 1.0, 0.8, 2.5, 0.0, 0, 0)
        with self.assertRaisesRegex(pm.PurchaseModelError, "do not converge"):
            pm.expected_purchases(fit, 10**6, [0], [0], [0])

    def test_bad_input(self):
        x, t_x, T = [0, 2, 1], [0, 5, 3], [10, 10, 10]
        cases = [
            ("x must hold whole numbers", ([0, -2, 1], t_x, T)),
            ("x must hold whole numbers", ([0, 1.5, 1], t_x, T)),
            ("x must hold numbers", (["a", 2, 1], t_x, T)),
            ("x must be one-dimensional", ([[0, 2, 1]], [t_x], [T])),
            ("T must hold finite numbers", (x, t_x, [10, float("nan"), 10])),
            ("t_x must be between 0 and T", (x, [0, 11, 3], T)),
            ("t_x must be 0 where x is 0", (x, [1, 5, 3], T)),
            ("different lengths", (x, t_x, [10, 10])),
        ]
        functions = {
            "fit_bgnbd": pm.fit_bgnbd,
            "probability_alive": lambda *args: pm.probability_alive(self.fit, *args),
            "expected_purchases": lambda *args: pm.expected_purchases(
                self.fit, 90, *args
            ),
        }
        for message, arguments in cases:
            for name, function in functions.items():
                with (
                    self.subTest(function=name, message=message),
                    self.assertRaisesRegex(pm.PurchaseModelError, message),
                ):
                    function(*arguments)
        with self.assertRaisesRegex(pm.PurchaseModelError, "weights must be >= 0"):
            pm.fit_bgnbd(x, t_x, T, weights=[1, -1, 1])
        for t in (-1, float("inf"), "soon"):
            with self.assertRaisesRegex(pm.PurchaseModelError, "^t must be"):
                pm.expected_purchases(self.fit, t, x, t_x, T)

    def test_refuses_what_it_cannot_fit(self):
        with self.assertRaisesRegex(
            pm.PurchaseModelError,
            "cannot fit the purchase model: 19 customers with a repeat purchase, "
            "at least 20 needed",
        ):
            pm.fit_bgnbd(self.x[self.x > 0][:19], self.t_x[self.x > 0][:19], [800] * 19)
        # Every customer buys every 20 days up to today: nobody seems to drop out,
        # and the likelihood grows as the dropout probabilities go to 0.
        T = np.linspace(100, 300, 200)
        with self.assertRaisesRegex(pm.PurchaseModelError, "do not identify it"):
            pm.fit_bgnbd(np.round(T / 20), T, T)

    def test_non_convergence_is_an_error(self):
        def nowhere(log_params):
            return float("nan"), np.zeros_like(log_params)

        with self.assertRaisesRegex(
            pm.PurchaseModelError,
            "cannot fit the purchase model: the optimiser did not",
        ):
            pm._maximise(nowhere, [(1.0, 1.0)], (), "purchase")


@tagged("post_install", "-at_install")
class TestGammaGamma(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = np.random.default_rng(11)
        cls.x = rng.geometric(0.4, size=50_000) - 1.0
        cls.true = {"p": 6.0, "q": 4.0, "gamma": 15.0}
        cls.spend = pm.simulate_gamma_gamma(*cls.true.values(), cls.x, seed=12)
        cls.fit = pm.fit_gamma_gamma(cls.x, cls.spend)

    def test_recovers_the_simulated_parameters(self):
        for name, value in self.true.items():
            with self.subTest(parameter=name):
                self.assertLess(abs(getattr(self.fit, name) / value - 1), 0.1)
        self.assertEqual(self.fit.customers, int((self.x > 0).sum()))

    def test_gradient(self):
        data = pm._spends(self.x, self.spend, np.ones(len(self.x)), 20.0)
        for point in ([6.0, 4.0, 0.8], [1.0, 2.0, 0.1], [20.0, 1.5, 3.0]):
            log_point = np.log(point)
            _value, gradient = pm._gamma_gamma_objective(log_point, data)
            numeric = optimize.approx_fprime(
                log_point, lambda p: pm._gamma_gamma_objective(p, data)[0], 1e-7
            )
            np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-7)

    def test_log_likelihood_against_the_note(self):
        """The likelihood of Fader & Hardie (2013), for one customer, written out."""
        p, q, gamma = self.fit.p, self.fit.q, self.fit.gamma
        x, m = 3.0, 12.5
        expected = (
            math.lgamma(p * x + q)
            - math.lgamma(p * x)
            - math.lgamma(q)
            + q * math.log(gamma)
            + (p * x - 1) * math.log(m)
            + p * x * math.log(x)
            - (p * x + q) * math.log(gamma + m * x)
        )
        data = pm._spends(np.array([x]), np.array([m]), np.ones(1))
        self.assertAlmostEqual(
            pm._gamma_gamma_log_likelihood(p, q, gamma, data), expected, places=10
        )

    def test_expected_spend(self):
        fit = pm.GammaGammaFit(
            p=6.25, q=3.74, gamma=15.44, log_likelihood=0, customers=0
        )
        spend = pm.expected_spend(fit, [0, 1, 10], [0, 20.0, 20.0])
        # By hand: p gamma / (q - 1) = 96.5 / 2.74 = 35.219 for a new customer;
        # p (gamma + m x) / (p x + q - 1) = 6.25 * 35.44 / 8.99 = 24.638 for x 1;
        # 6.25 * 215.44 / 65.24 = 20.639 for x 10, nearer its own mean of 20.
        np.testing.assert_allclose(spend, [35.21898, 24.63849, 20.63918], rtol=1e-6)

    def test_refuses_what_it_cannot_fit(self):
        with self.assertRaisesRegex(pm.PurchaseModelError, "3 customers with a repeat"):
            pm.fit_gamma_gamma([0, 1, 2, 3], [0, 10, 12, 14])
        with self.assertRaisesRegex(pm.PurchaseModelError, "mean_spend must be > 0"):
            pm.fit_gamma_gamma([0, 1, 2], [0, 0, 14])
        # Everyone spends the same: no heterogeneity to fit (q goes to infinity).
        with self.assertRaisesRegex(pm.PurchaseModelError, "do not identify it"):
            pm.fit_gamma_gamma(self.x, np.full(len(self.x), 10.0))
        heavy = pm.simulate_gamma_gamma(2.0, 0.7, 10.0, self.x, seed=13)
        with self.assertRaisesRegex(pm.PurchaseModelError, "too heavy-tailed"):
            pm.fit_gamma_gamma(self.x, heavy)


@tagged("post_install", "-at_install")
class TestValueAndHoldout(BaseCase):
    bgnbd = PUBLISHED_IN_DAYS
    gamma_gamma = pm.GammaGammaFit(
        p=6.25, q=3.74, gamma=15.44, log_likelihood=0.0, customers=0
    )
    x, t_x, T, spend = (
        [0, 2, 1, 7],
        [0, 213, 12, 250],
        [272, 272, 272, 260],
        [0, 22, 12, 40],
    )

    def test_expected_value(self):
        purchases = pm.expected_purchases(self.bgnbd, 365, self.x, self.t_x, self.T)
        spend = pm.expected_spend(self.gamma_gamma, self.x, self.spend)
        value = pm.expected_value(
            self.bgnbd, self.gamma_gamma, 365, self.x, self.t_x, self.T, self.spend
        )
        np.testing.assert_allclose(value, purchases * spend, rtol=1e-14)

    def test_discounted_value(self):
        arguments = (self.x, self.t_x, self.T, self.spend)
        spend = pm.expected_spend(self.gamma_gamma, self.x, self.spend)
        half = pm.expected_purchases(self.bgnbd, 182.5, *arguments[:3])
        full = pm.expected_purchases(self.bgnbd, 365, *arguments[:3])
        # Two half-years at 10% a year: each half's purchases discounted at its end.
        expected = (half / 1.1**0.5 + (full - half) / 1.1) * spend
        value = pm.expected_value(
            self.bgnbd, self.gamma_gamma, 365, *arguments, discount_rate=0.1, steps=2
        )
        np.testing.assert_allclose(value, expected, rtol=1e-14)
        once = pm.expected_value(
            self.bgnbd, self.gamma_gamma, 365, *arguments, discount_rate=0.1, steps=1
        )
        np.testing.assert_allclose(once, full * spend / 1.1, rtol=1e-14)
        for keywords, name in (
            ({"steps": 0}, "steps"),
            ({"steps": 1.5}, "steps"),
            ({"discount_period": 0}, "discount_period"),
            ({"discount_rate": -0.1}, "discount_rate"),
        ):
            with (
                self.subTest(**keywords),
                self.assertRaisesRegex(pm.PurchaseModelError, f"^{name} must"),
            ):
                pm.expected_value(
                    self.bgnbd, self.gamma_gamma, 365, *arguments, **keywords
                )

    def test_holdout_check(self):
        actual = [1, 0, 0, 4]
        check = pm.holdout_check(self.bgnbd, self.x, self.t_x, self.T, 100, actual)
        predicted = pm.expected_purchases(self.bgnbd, 100, self.x, self.t_x, self.T)
        np.testing.assert_array_equal(check.predicted, predicted)
        self.assertEqual(check.actual_total, 5)
        self.assertAlmostEqual(check.predicted_total, predicted.sum(), places=12)
        self.assertAlmostEqual(
            check.mean_absolute_error,
            sum(abs(p - a) for p, a in zip(predicted, actual, strict=True)) / 4,
            places=12,
        )
        with self.assertRaisesRegex(pm.PurchaseModelError, "actual must hold whole"):
            pm.holdout_check(self.bgnbd, self.x, self.t_x, self.T, 100, [1, 0, 0.5, 4])
        with self.assertRaisesRegex(pm.PurchaseModelError, "different lengths"):
            pm.holdout_check(self.bgnbd, self.x, self.t_x, self.T, 100, [1, 0, 0])
