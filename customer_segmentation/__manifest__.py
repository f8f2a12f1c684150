{
    "name": "Customer Segmentation",
    "summary": "Classify customers by value tier, lifecycle stage and RFM "
    "behaviour, recomputed nightly and on demand (客户分类管理)",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/customer-segmentation/customer_segmentation",
    "author": "customer_segmentation developers",
    "license": "LGPL-3",
    "depends": ["sale", "contacts"],
    "data": [
        "security/customer_segmentation_groups.xml",
        "security/ir.model.access.csv",
        "data/customer_segment_data.xml",
        "data/ir_cron_data.xml",
        "data/ir_actions_server_data.xml",
        "views/customer_segment_views.xml",
        "views/customer_segmentation_run_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
        "views/customer_segmentation_settings_views.xml",
        "views/customer_segmentation_menus.xml",
    ],
    "demo": [
        "demo/customer_segmentation_demo.xml",
    ],
    "application": True,
    "installable": True,
}
