"""From 18.0.1: link the existing segments to the dimension records and give the
shipped ones the levels the movement report compares (their data is noupdate)."""

from odoo import SUPERUSER_ID, api

LEVELS = {
    "segment_value_high": 3,
    "segment_value_medium": 2,
    "segment_value_low": 1,
    "segment_lifecycle_prospect": 1,
    "segment_lifecycle_new": 3,
    "segment_lifecycle_active": 4,
    "segment_lifecycle_at_risk": 2,
    "segment_lifecycle_churned": 0,
    "segment_rfm_champions": 10,
    "segment_rfm_loyal": 9,
    "segment_rfm_potential_loyalist": 8,
    "segment_rfm_new": 7,
    "segment_rfm_promising": 6,
    "segment_rfm_need_attention": 5,
    "segment_rfm_about_to_sleep": 4,
    "segment_rfm_cant_lose": 3,
    "segment_rfm_at_risk": 2,
    "segment_rfm_hibernating": 1,
}


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    segments = env["customer.segment"].with_context(active_test=False).search([])
    env.add_to_compute(segments._fields["dimension_id"], segments)
    segments.flush_recordset()
    for xmlid, level in LEVELS.items():
        segment = env.ref(f"customer_segmentation.{xmlid}", raise_if_not_found=False)
        if segment:
            segment.write(
                {"rank": level, "is_churn": xmlid == "segment_lifecycle_churned"}
            )
