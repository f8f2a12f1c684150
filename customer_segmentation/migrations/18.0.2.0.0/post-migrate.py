"""From 18.0.1: link the existing segments to the dimension records, and give the
shipped ones the levels the movement report compares and the default management
strategies (their data is noupdate, so an upgrade does not write them)."""

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

STRATEGIES = {
    "segment_value_high": {
        "service_level": "dedicated",
        "strategy_priority": 30,
        "followup_days": 30,
    },
    "segment_value_medium": {
        "service_level": "periodic",
        "strategy_priority": 20,
        "followup_days": 90,
    },
    "segment_value_low": {"service_level": "automated", "strategy_priority": 10},
    "segment_lifecycle_new": {"strategy_priority": 25, "followup_days": 30},
    "segment_lifecycle_at_risk": {"strategy_priority": 40, "followup_days": 14},
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
    for xmlid, values in STRATEGIES.items():
        segment = env.ref(f"customer_segmentation.{xmlid}", raise_if_not_found=False)
        if segment:
            segment.write(values)
    vip = env.ref(
        "customer_segmentation.partner_category_vip", raise_if_not_found=False
    )
    high = env.ref("customer_segmentation.segment_value_high", raise_if_not_found=False)
    if vip and high:
        high.partner_tag_ids = [(4, vip.id)]
