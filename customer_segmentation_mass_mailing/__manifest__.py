{
    "name": "Customer Segmentation - Email Marketing",
    "summary": "Send a mailing to a customer segment and follow its results "
    "per segment: opened, replied, orders and revenue",
    "version": "18.0.1.0.0",
    "category": "Marketing/Email Marketing",
    "website": "https://github.com/customer-segmentation/customer_segmentation",
    "author": "customer_segmentation developers",
    "license": "LGPL-3",
    # mass_mailing_sale is how Odoo attributes orders and invoices to mailings
    # (by their UTM source); it comes with sale and mass_mailing.
    "depends": ["customer_segmentation", "mass_mailing", "mass_mailing_sale"],
    "data": [
        "views/customer_segment_views.xml",
        "views/mailing_mailing_views.xml",
        "views/utm_campaign_views.xml",
        "data/ir_actions_server_data.xml",
        "views/customer_segmentation_mass_mailing_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "customer_segmentation_mass_mailing/static/tests/tours/**/*",
        ],
    },
    "auto_install": True,
    "installable": True,
}
