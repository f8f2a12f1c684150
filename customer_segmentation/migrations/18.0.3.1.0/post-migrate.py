"""From 18.0.3.0: runs may refresh the figures of the changed customers only.

Whether a customer's figures went stale as the days passed is read from three
new figure columns, which the runs before this version did not fill. The runs
done before the upgrade are therefore marked as not having refreshed every
customer's figures with them, so each company's first run after the upgrade
refreshes them all (and fills the columns).
"""


def migrate(cr, version):
    cr.execute(
        "UPDATE customer_segmentation_run SET figures_scope = 'changed'"
        " WHERE figures_scope IS DISTINCT FROM 'changed'"
    )
