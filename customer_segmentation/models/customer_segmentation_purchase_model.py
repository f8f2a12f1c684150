"""The purchase model of each company: figures -> model -> scores.

Between the figures and the segments, a full recompute fits two published
models to the company's own customers (``tools/purchase_model.py``): BG/NBD
for the purchases (one per distinct purchase day, time in days) and
Gamma-Gamma for the spend per repeat purchase day. The fitted parameters are
kept on the run (``customer.segmentation.run``), with a holdout check; every
classification then scores its customers with the latest ones: probability
of being still active, expected purchases in the next 90 days, expected value
over the next 12 months.
"""

import datetime
import math

import numpy as np

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import purchase_model as pm

# Fewer customers with a repeat purchase day than this: no model.
MIN_REPEAT_BUYERS = 20
PURCHASES_HORIZON_DAYS = 90
VALUE_HORIZON_DAYS = 365
# The expected value is a forecast: shown and stored to two significant
# digits (3,400, not 3,437), so that a night rewrites the customers whose
# forecast moved, not every repeat buyer by a few units (half of them a day
# at whole units, a fifth at two digits, on the generated 100k data).
VALUE_DIGITS = 2
# Lower bounds of the bands (customer.segmentation.figure's selections).
ALIVE_BAND_LIMITS = ((0.7, "high"), (0.3, "medium"), (0.0, "low"))
PURCHASES_BAND_LIMITS = ((2.0, "many"), (0.5, "some"), (0.0, "none"))
# The models are fitted on at most this many customers of a company: a
# larger company's are a random sample of them (the same customers every
# day), so that the fit's memory and time do not grow with the customers.
# The estimates of a hundred thousand customers differ from those of
# all of them by far less than their day-to-day moves.
FIT_SAMPLE = 100_000
# A customer is in the sample when the hash of its id, in 2^20 buckets,
# falls below the share of the buckets.
SAMPLE_BUCKETS = 1 << 20
# Rows of scores sent in one statement: their values as Python objects and
# as SQL text cost memory.
SCORE_WRITE_ROWS = 20_000
# The model's figures of a customer, in the order _write_scores writes them:
# column of customer.segmentation.figure and SQL type of each.
SCORE_FIELDS = {
    "alive": ("model_alive_probability", "float8"),
    "purchases": ("model_expected_purchases", "float8"),
    "value": ("model_expected_value", "numeric"),
    "alive_band": ("model_alive_band", "varchar"),
    "purchases_band": ("model_purchases_band", "varchar"),
    "value_band": ("model_value_band", "varchar"),
}
SCORE_COLUMNS = tuple(SCORE_FIELDS)


class CustomerSegmentationPurchaseModel(models.AbstractModel):
    _name = "customer.segmentation.purchase.model"
    _description = "Customer Segmentation Purchase Model"

    # ------------------------------------------------------------------
    # Fit: once per full recompute, after the figures
    # ------------------------------------------------------------------

    @api.model
    def _fit(self, company, day, params, previous=None):
        """Fit the models on the figures of ``company``'s customers as of
        ``day``, and check them on the holdout period.

        :param previous: ``{'parameters', 'since'}`` of the company's run
            earlier that day (``customer.segmentation.run._previous_scoring``):
            when the fit finds its parameters again and no customer's figures
            were written since, its scores and value cut-offs, which rank
            every customer, are kept instead of scoring everyone again

        Otherwise every customer is scored and its figures written here
        (``_score_company``): the value cut-offs rank them all.

        :return: ``{'customers', 'repeat_buyers', 'message', 'parameters',
            'holdout', 'scored_since'}``: ``parameters`` is None (and
            ``message`` says why)
            when the company has too few repeat buyers or the data do not
            identify the model, else ``{'r', 'alpha', 'a', 'b', 'p', 'q',
            'gamma', 'log_likelihood', 'spend_log_likelihood',
            'value_cutoffs'}`` (alpha in days); ``holdout`` is a dict of
            figures or a message; ``scored_since``: every customer's
            figures row not written since then holds its scores under
            ``parameters`` (see ``_unscored_sql``)
        """
        buyers = self._count_buyers(company)
        data = self._read_summaries(
            company, day, params, self._sample_sql(FIT_SAMPLE / max(buyers, 1))
        )
        x, t_x, T, spend = data[:, 0], data[:, 1], data[:, 2], data[:, 3]
        result = {
            "customers": len(x),
            "repeat_buyers": int((x > 0).sum()),
            "message": False,
            "parameters": None,
            "holdout": None,
        }
        try:
            bgnbd, spend_fit = self._fit_models(x, t_x, T, spend)
        except pm.PurchaseModelError as error:
            result["message"] = self._no_model_message(result, error)
            return result
        parameters = {
            "r": bgnbd.r,
            "alpha": bgnbd.alpha,
            "a": bgnbd.a,
            "b": bgnbd.b,
            "log_likelihood": bgnbd.log_likelihood,
            "p": spend_fit.p,
            "q": spend_fit.q,
            "gamma": spend_fit.gamma,
            "spend_log_likelihood": spend_fit.log_likelihood,
        }
        if self._same_ranking(company, parameters, previous):
            # every customer holds its scores under these parameters already
            result["scored_since"] = previous["since"]
            values = None
            earlier = previous["parameters"]["value_cutoffs"]
        else:
            result["scored_since"] = fields.Datetime.to_string(self.env.cr.now())
            values = self._score_company(company, day, parameters)
            earlier = None
        cutoffs = (
            earlier
            if values is None and params["value_method"] != "fixed"
            else self._value_cutoffs(values, params)
        )
        if cutoffs != earlier:
            self._write_value_bands(company, cutoffs)
        parameters["value_cutoffs"] = cutoffs
        result["parameters"] = parameters
        result["holdout"] = self._holdout(data, params["model_holdout_days"])
        return result

    @api.model
    def _same_ranking(self, company, parameters, previous):
        """Whether the fit found the parameters of ``previous`` (cut-offs
        aside) and no figures row of ``company`` was written since: every
        customer's expected value, and so their ranking, is the same."""
        if not previous:
            return False
        earlier = dict(previous["parameters"])
        earlier.pop("value_cutoffs", None)
        if earlier != parameters:
            return False
        self.env["customer.segmentation.figure"].flush_model()
        return not self.env.execute_query(
            SQL(
                """SELECT 1 FROM customer_segmentation_figure
                    WHERE company_id = %s AND write_date >= %s LIMIT 1""",
                company.id,
                previous["since"],
            )
        )

    @api.model
    def _average_spend(self, company):
        """The spend per purchase day the company's latest fitted model
        expects of a customer it knows nothing of yet, as of every customer
        with one purchase day (Gamma-Gamma's population mean p gamma /
        (q - 1)), rounded as the expected values are; None without a model."""
        run = (
            self.env["customer.segmentation.run"]
            .sudo()
            .search([("company_id", "=", company.id), ("stats", "!=", False)], limit=1)
        )
        model = (run.stats or {}).get("model")
        if not model:
            return None
        average = pm.expected_spend(_spend_fit(model), np.zeros(1), np.zeros(1))
        return float(_significant(average, VALUE_DIGITS)[0])

    @api.model
    def _count_buyers(self, company):
        """Customers of ``company`` with a purchase."""
        pipeline = self.env["customer.segmentation.pipeline"]
        self.env["customer.segmentation.figure"].flush_model()
        return self.env.execute_query(
            SQL(
                """SELECT count(*) FROM customer_segmentation_figure f
                    WHERE f.company_id = %s AND f.purchase_days > 0
                      AND f.partner_id IN (%s)""",
                company.id,
                pipeline._scope(company).customers_sql(),
            )
        )[0][0]

    @api.model
    def _sample_sql(self, share):
        """SQL condition keeping about ``share`` of the figure rows ``f``,
        always the same ones (by a hash of the customer's id); TRUE for a
        share of 1 or more."""
        if share >= 1:
            return SQL("TRUE")
        return SQL(
            "(hashint4(f.partner_id) & %s) < %s",
            SAMPLE_BUCKETS - 1,
            math.ceil(share * SAMPLE_BUCKETS),
        )

    @api.model
    def _score_company(self, company, day, parameters):
        """Score every customer of ``company`` with a purchase as of ``day``
        under ``parameters``, ``FIT_SAMPLE`` customers at a time, and write
        the figures of those scored before where they changed, the value band
        aside (it needs the cut-offs, which rank these values:
        ``_write_value_bands``); empty the figures of those without a
        purchase.

        :return: the expected values (an array, a float per customer)
        """
        pipeline = self.env["customer.segmentation.pipeline"]
        values = []
        for scope in pipeline._batches(company, FIT_SAMPLE):
            data = self._read_scoring(scope, day)
            if not len(data):
                continue
            result = scores(parameters, *data[:, :4].T)
            values.append(result["value"])
            computed = np.column_stack(
                [
                    result["alive"],
                    result["purchases"],
                    result["value"],
                    _band_positions(result["alive"], ALIVE_BAND_LIMITS),
                    _band_positions(result["purchases"], PURCHASES_BAND_LIMITS),
                ]
            )
            # a customer never scored is left to its batch (all of them on
            # the company's first run: written once, with its segments)
            changed = np.flatnonzero(
                (computed != data[:, 4:9]).any(axis=1) & (data[:, 7] > 0)
            )
            for start in range(0, len(changed), SCORE_WRITE_ROWS):
                rows = changed[start : start + SCORE_WRITE_ROWS]
                self._write_scores(
                    scope,
                    data[rows, -1].astype(int).tolist(),
                    {
                        name: result[name][rows].tolist()
                        for name in SCORE_COLUMNS
                        if name != "value_band"
                    },
                )
        self._empty_scores(company)
        return np.concatenate(values) if values else np.zeros(0)

    @api.model
    def _read_scoring(self, scope, day):
        """The customers of ``scope`` with a purchase, a row each: x, t_x,
        T, repeat spend, their stored probability, purchases and value (-1
        for none), alive and purchases band (their position in the limits, 0
        for none), and the figures row's id."""
        return self._read_numbers(
            [
                *_summary_sql(day),
                SQL("COALESCE(f.model_alive_probability, -1)"),
                SQL("COALESCE(f.model_expected_purchases, -1)"),
                SQL("COALESCE(f.model_expected_value, -1)"),
                _band_position_sql("model_alive_band", ALIVE_BAND_LIMITS),
                _band_position_sql("model_purchases_band", PURCHASES_BAND_LIMITS),
                SQL("f.id"),
            ],
            SQL(
                """f.company_id = %s AND f.purchase_days > 0 AND %s
                   AND f.partner_id IN (%s)""",
                scope.company.id,
                scope.narrowing_sql(SQL("f.partner_id")),
                scope.customers_sql(),
            ),
        )

    @api.model
    def _empty_scores(self, company):
        """Empty the model's figures of ``company``'s customers who no
        longer have a purchase."""
        pipeline = self.env["customer.segmentation.pipeline"]
        self.env.execute_query(
            SQL(
                """
            UPDATE customer_segmentation_figure f
               SET model_alive_probability = NULL, model_expected_purchases = NULL,
                   model_expected_value = NULL, model_alive_band = NULL,
                   model_purchases_band = NULL, model_value_band = NULL
             WHERE f.company_id = %s AND f.model_alive_band IS NOT NULL
               AND COALESCE(f.purchase_days, 0) = 0 AND f.partner_id IN (%s)
                """,
                company.id,
                pipeline._scope(company).customers_sql(),
            )
        )
        self.env["customer.segmentation.figure"].invalidate_model()

    @api.model
    def _write_value_bands(self, company, cutoffs):
        """Set the value band of ``company``'s scored customers against the
        ``[high, medium]`` cut-offs, where it changed (``_value_bands`` in
        SQL: a cut-off of None is reached by nobody)."""
        pipeline = self.env["customer.segmentation.pipeline"]
        band = SQL(
            """CASE WHEN f.model_expected_value >= %s THEN 'high'
                    WHEN f.model_expected_value >= %s THEN 'medium'
                    ELSE 'low' END""",
            *cutoffs,
        )
        self.env["customer.segmentation.figure"].flush_model()
        self.env.execute_query(
            SQL(
                """
            UPDATE customer_segmentation_figure f SET model_value_band = %(band)s
             WHERE f.company_id = %(company)s
               AND f.model_expected_value IS NOT NULL
               AND f.model_value_band IS DISTINCT FROM %(band)s
               AND f.partner_id IN (%(customers)s)
                """,
                band=band,
                company=company.id,
                customers=pipeline._scope(company).customers_sql(),
            )
        )
        self.env["customer.segmentation.figure"].invalidate_model()

    @api.model
    def _read_summaries(self, company, day, params, condition):
        """One row per customer of ``company`` with a purchase whose figures
        row ``f`` meets ``condition`` (SQL), by id: x, t_x, T, repeat spend,
        then the same up to the holdout period (x, t_x, T; x is -1 for a
        customer whose first purchase is in it), its purchase days in the
        holdout period, and its id."""
        calibration_end = day - datetime.timedelta(days=params["model_holdout_days"])
        pipeline = self.env["customer.segmentation.pipeline"]
        return self._read_numbers(
            [
                *_summary_sql(day),
                SQL("COALESCE(f.holdout_calibration_days, 0) - 1"),
                SQL(
                    """COALESCE(f.holdout_calibration_last_date
                                - f.first_order_date, 0)"""
                ),
                SQL("GREATEST(%s::date - f.first_order_date, 0)", calibration_end),
                SQL("COALESCE(f.holdout_purchase_days, 0)"),
                SQL("f.partner_id"),
            ],
            SQL(
                """f.company_id = %s AND f.purchase_days > 0
                   AND f.partner_id IN (%s) AND %s""",
                company.id,
                pipeline._scope(company).customers_sql(),
                condition,
            ),
        )

    @api.model
    def _read_numbers(self, columns, condition):
        """The values of ``columns`` (SQL on the figures row ``f``) of the
        rows meeting ``condition`` (SQL), a row each by customer id, as an
        array. Read as one text: a hundred thousand customers take
        megabytes, not Python objects. Every value must be a number
        (``concat_ws`` would skip a NULL and shift the columns)."""
        self.env["customer.segmentation.figure"].flush_model()
        text = self.env.execute_query(
            SQL(
                """SELECT string_agg(concat_ws(',', %s), ',' ORDER BY f.partner_id)
                     FROM customer_segmentation_figure f WHERE %s""",
                SQL(", ").join(columns),
                condition,
            )
        )[0][0]
        if not text:
            return np.zeros((0, len(columns)))
        return np.fromstring(text, sep=",").reshape(-1, len(columns))

    @api.model
    def _fit_models(self, x, t_x, T, spend):
        """``(BgNbdFit, GammaGammaFit)``; the spend model on the repeat
        buyers whose repeat purchase days have a positive amount."""
        bgnbd = pm.fit_bgnbd(x, t_x, T, min_repeat_buyers=MIN_REPEAT_BUYERS)
        spending = (x > 0) & (spend > 0)
        spend_fit = pm.fit_gamma_gamma(
            x[spending], spend[spending], min_repeat_buyers=MIN_REPEAT_BUYERS
        )
        return bgnbd, spend_fit

    @api.model
    def _no_model_message(self, result, error):
        if result["repeat_buyers"] < MIN_REPEAT_BUYERS:
            return self.env._(
                "No purchase model: %(count)s of %(customers)s customers bought "
                "on more than one day, at least %(needed)s are needed to fit it. "
                "Churn warnings use the usual gap between orders, value tiers "
                "past spend.",
                count=result["repeat_buyers"],
                customers=result["customers"],
                needed=MIN_REPEAT_BUYERS,
            )
        return self.env._(
            "No purchase model: %(reason)s. Churn warnings use the usual gap "
            "between orders, value tiers past spend.",
            reason=str(error),
        )

    @api.model
    def _value_cutoffs(self, values, params):
        """``[high, medium]`` expected values of the value tiers, by the
        company's method: the fixed amounts, or the expected value of the
        customer at the high and medium shares' ranks, best first (ties
        share the better tier), as ``_population_stats`` does for spend."""
        if params["value_method"] == "fixed":
            return [params["value_high_amount"], params["value_medium_amount"]]
        ranked = np.sort(values)[::-1]

        def at_share(share):
            if not len(ranked):
                return None
            rank = math.ceil(round(share * len(ranked), 9))
            return float(ranked[min(max(rank, 1), len(ranked)) - 1])

        high = params["value_high_share"]
        return [at_share(high), at_share(high + params["value_medium_share"])]

    @api.model
    def _holdout(self, data, days):
        """Fit on the history before the last ``days`` days, predict the
        repeat purchase days since, and compare with the actual ones.

        :return: ``{'days', 'customers', 'predicted', 'actual', 'error'}``
            (totals, and the mean absolute error per customer), or
            ``{'days', 'message'}``
        """
        cohort = data[:, 4] >= 0
        x, t_x, T = data[cohort, 4], data[cohort, 5], data[cohort, 6]
        try:
            fit = pm.fit_bgnbd(x, t_x, T, min_repeat_buyers=MIN_REPEAT_BUYERS)
            check = pm.holdout_check(fit, x, t_x, T, days, data[cohort, 7])
        except pm.PurchaseModelError as error:
            return {
                "days": days,
                "message": self.env._(
                    "No holdout check: the history before the last %(days)s "
                    "days does not fit the model (%(reason)s).",
                    days=days,
                    reason=str(error),
                ),
            }
        return {
            "days": days,
            "customers": check.customers,
            "predicted": check.predicted_total,
            "actual": check.actual_total,
            "error": check.mean_absolute_error,
        }

    # ------------------------------------------------------------------
    # Scores: every classification, on the figure rows
    # ------------------------------------------------------------------

    @api.model
    def _score(self, scope, day, stats):
        """Write the model's figures of the customers of ``scope`` as of
        ``day`` with the parameters of ``stats`` (the company's latest run);
        without parameters, or without a purchase, they are emptied. One read
        and one write per call; rows whose rounded figures did not change
        are not written (most of a night's rows: see ``scores``).

        Rows that ``stats["scored"]`` says are scored already on ``day``
        with these parameters are left out (see ``_scored_sql``).

        :return: rows written
        """
        parameters = stats.get("model")
        self.env["customer.segmentation.figure"].flush_model()
        rows = self.env.execute_query(
            SQL(
                """
            SELECT f.id, %(fitted)s AND COALESCE(f.purchase_days, 0) > 0,
                   GREATEST(f.purchase_days - 1, 0),
                   COALESCE(f.last_order_date - f.first_order_date, 0),
                   COALESCE(%(day)s::date - f.first_order_date, 0),
                   COALESCE(f.repeat_spend, 0),
                   f.model_alive_probability, f.model_expected_purchases,
                   f.model_expected_value, f.model_alive_band,
                   f.model_purchases_band, f.model_value_band
              FROM customer_segmentation_figure f
             WHERE %(to_score)s
                """,
                to_score=self._to_score_condition(scope, day, stats),
                fitted=parameters is not None,
                day=day,
            )
        )
        if not rows:
            return 0
        data = np.array([row[:6] for row in rows], dtype=float)
        scored = data[:, 1] > 0
        columns = {name: [None] * len(rows) for name in SCORE_COLUMNS}
        if scored.any():
            result = scores(parameters, *data[scored, 2:].T)
            result["value_band"] = _value_bands(
                result["value"], parameters["value_cutoffs"]
            )
            positions = np.flatnonzero(scored).tolist()
            for name, values in result.items():
                column = columns[name]
                for index, value in zip(positions, values.tolist(), strict=True):
                    column[index] = value
        # only the rows whose rounded figures changed are sent (the stored
        # values read back exactly as they were computed)
        changed = [
            index
            for index, row in enumerate(rows)
            if tuple(row[6:]) != tuple(columns[name][index] for name in SCORE_COLUMNS)
        ]
        if not changed:
            return 0
        return self._write_scores(
            scope,
            [rows[index][0] for index in changed],
            {
                name: [values[index] for index in changed]
                for name, values in columns.items()
            },
        )

    @api.model
    def _to_score_condition(self, scope, day, stats):
        """SQL condition on the figures row ``f``: one of the scope's
        customers whose model figures ``_score`` computes again: scored
        before (to be emptied without parameters) or with a purchase, and
        possibly changed since scored (``_unscored_sql``)."""
        return SQL(
            """f.company_id = %(company)s AND %(narrowing)s
               AND f.partner_id IN (%(customers)s)
               AND (f.model_alive_band IS NOT NULL
                    OR %(fitted)s AND f.purchase_days > 0)
               AND %(unscored)s""",
            company=scope.company.id,
            narrowing=scope.narrowing_sql(SQL("f.partner_id")),
            customers=scope.customers_sql(),
            fitted=stats.get("model") is not None,
            unscored=self._unscored_sql(day, stats),
        )

    @api.model
    def _to_score_sql(self, scope, day, stats):
        """SELECT of the ids of the customers ``_score`` would score."""
        return SQL(
            "SELECT f.partner_id FROM customer_segmentation_figure f WHERE %s",
            self._to_score_condition(scope, day, stats),
        )

    @api.model
    def _unscored_sql(self, day, stats):
        """SQL condition on the figures row ``f``: its scores on ``day`` may
        differ from those stored.

        A score depends on the row's figures, the day and the parameters
        only. ``stats["scored"]`` (set by ``customer.segmentation.run``) is
        ``{'day', 'since'}`` when the run's fit scored every customer on that
        day with its parameters, or found that the company's previous run
        had (``_fit``), as of ``since``: a row not written since then holds
        its scores already, so that the run's batches score the customers
        whose figures changed during the run and those never scored, and a
        rerun the same day with nothing changed scores nobody. TRUE
        otherwise."""
        scored = stats.get("scored")
        if not scored or scored["day"] != str(day):
            return SQL("TRUE")
        return SQL(
            "(f.write_date >= %s OR f.model_alive_band IS NULL)", scored["since"]
        )

    @api.model
    def _write_scores(self, scope, ids, columns):
        """Write ``{SCORE_COLUMNS name: [value per id]}`` (all of them, or
        some) on the figure rows ``ids`` of ``scope``, where they differ."""
        names = [name for name in SCORE_COLUMNS if name in columns]
        rows = self.env.execute_query(
            SQL(
                """
            UPDATE customer_segmentation_figure f SET (%(targets)s) = ROW(%(sources)s)
              FROM unnest(%(ids)s::int[], %(arrays)s) AS s(id, %(names)s)
             WHERE f.id = s.id AND f.company_id = %(company)s AND %(narrowing)s
               AND (%(stored)s) IS DISTINCT FROM (%(sources)s)
         RETURNING f.id
                """,
                targets=SQL(", ").join(
                    SQL.identifier(SCORE_FIELDS[name][0]) for name in names
                ),
                sources=SQL(", ").join(SQL.identifier("s", name) for name in names),
                ids=ids,
                arrays=SQL(", ").join(
                    SQL("%s::" + SCORE_FIELDS[name][1] + "[]", columns[name])
                    for name in names
                ),
                names=SQL(", ").join(SQL.identifier(name) for name in names),
                company=scope.company.id,
                narrowing=scope.narrowing_sql(SQL("f.partner_id")),
                stored=SQL(", ").join(
                    SQL.identifier("f", SCORE_FIELDS[name][0]) for name in names
                ),
            )
        )
        self.env["customer.segmentation.figure"].invalidate_model()
        self.env["res.partner"].invalidate_model()
        return len(rows)


def scores(parameters, x, t_x, T, spend):
    """The model's figures of customers (arrays of their summaries, time in
    days) under ``parameters`` (see ``_fit``): ``{'alive', 'purchases',
    'value', 'alive_band', 'purchases_band'}``. Rounded as they are shown
    (probability to 1 %, purchases to 0.1, value to two significant digits,
    see VALUE_DIGITS): a night then rewrites the customers whose shown
    figures changed, not every customer, and the stored values
    read back exactly as they were compared with the cut-offs."""
    bgnbd = pm.BgNbdFit(
        r=parameters["r"],
        alpha=parameters["alpha"],
        a=parameters["a"],
        b=parameters["b"],
        log_likelihood=parameters["log_likelihood"],
        customers=0,
        repeat_buyers=0,
    )
    spend_fit = _spend_fit(parameters)
    alive = pm.probability_alive(bgnbd, x, t_x, T)
    purchases = pm.expected_purchases(bgnbd, PURCHASES_HORIZON_DAYS, x, t_x, T)
    # The expected value without discount (pm.expected_value); a repeat
    # buyer whose repeat days cost nothing gets the population's spend.
    spending = spend > 0
    spend_per_purchase = pm.expected_spend(
        spend_fit, np.where(spending, x, 0.0), np.where(spending, spend, 0.0)
    )
    value = (
        pm.expected_purchases(bgnbd, VALUE_HORIZON_DAYS, x, t_x, T) * spend_per_purchase
    )
    alive, purchases = np.round(alive, 2), np.round(purchases, 1)
    return {
        "alive": alive,
        "purchases": purchases,
        "value": _significant(value, VALUE_DIGITS),
        "alive_band": _bands(alive, ALIVE_BAND_LIMITS),
        "purchases_band": _bands(purchases, PURCHASES_BAND_LIMITS),
    }


def _spend_fit(parameters):
    """The Gamma-Gamma fit of ``parameters`` (see ``_fit``)."""
    return pm.GammaGammaFit(
        p=parameters["p"],
        q=parameters["q"],
        gamma=parameters["gamma"],
        log_likelihood=parameters["spend_log_likelihood"],
        customers=0,
    )


def _significant(values, digits):
    """``values`` rounded to ``digits`` significant digits (at least to
    whole units): 3,437.2 -> 3,400 with 2."""
    magnitude = np.floor(np.log10(np.maximum(np.abs(values), 1.0)))
    unit = np.maximum(10.0 ** (magnitude - digits + 1), 1.0)
    return np.round(values / unit) * unit


def _summary_sql(day):
    """x, t_x, T and repeat spend (time in days) of the figures row ``f`` of
    a customer with a purchase, as of ``day``: the purchase model's summary
    of a customer."""
    return [
        SQL("f.purchase_days - 1"),
        SQL("f.last_order_date - f.first_order_date"),
        SQL("%s::date - f.first_order_date", day),
        SQL("COALESCE(f.repeat_spend, 0)"),
    ]


def _band_position_sql(column, limits):
    """``_band_positions`` of the band stored in ``column`` of ``f``: its
    position (from 1) in ``limits``, 0 for none."""
    return SQL(
        "COALESCE(array_position(%s::varchar[], %s), 0)",
        [band for _low, band in limits],
        SQL.identifier("f", column),
    )


def _band_positions(values, limits):
    """The position (from 1) in ``limits`` of each value's band (see
    ``_bands``), as ``_read_scoring`` reads the stored ones."""
    return np.select(
        [values >= low for low, _band in limits],
        range(1, len(limits) + 1),
        len(limits),
    )


def _value_bands(values, cutoffs):
    """``high``, ``medium`` or ``low`` against the ``[high, medium]``
    cut-offs of expected value (None: nobody reaches it)."""
    high, medium = (np.inf if cutoff is None else cutoff for cutoff in cutoffs)
    return np.where(values >= high, "high", np.where(values >= medium, "medium", "low"))


def _bands(values, limits):
    """The band of each value: the first of ``limits`` (lower bound, band),
    highest first, that it reaches."""
    return np.select(
        [values >= low for low, _band in limits],
        [band for _low, band in limits],
        limits[-1][1],
    )
