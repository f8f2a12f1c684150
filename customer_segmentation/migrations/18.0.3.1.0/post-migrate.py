"""From 18.0.3.0: runs may refresh the figures of the changed customers only.

Whether a customer's figures went stale as the days passed is read from three
new figure columns, which the runs before this version did not fill. The runs
done before the upgrade are therefore marked as not having refreshed every
customer's figures with them, so each company's first run after the upgrade
refreshes them all (and fills the columns).

A customer's revenue in the look-back window is now stored rounded to the
company currency, as the ORM stores amounts: the stored ones are rounded
too, so that the overview's totals and a list's agree from the upgrade on.
"""


def migrate(cr, version):
    cr.execute(
        "UPDATE customer_segmentation_run SET figures_scope = 'changed'"
        " WHERE figures_scope IS DISTINCT FROM 'changed'"
    )
    cr.execute(
        """UPDATE customer_segmentation_figure f
              SET rfm_monetary = round(f.rfm_monetary, cur.decimal_places)
             FROM res_company c
             JOIN res_currency cur ON cur.id = c.currency_id
            WHERE c.id = f.company_id
              AND f.rfm_monetary <> round(f.rfm_monetary, cur.decimal_places)"""
    )
