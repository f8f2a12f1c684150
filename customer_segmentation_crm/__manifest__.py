{
    "name": "Customer Segmentation - CRM",
    "summary": "Open opportunities make prospects in the customer segmentation",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/customer-segmentation/customer_segmentation",
    "author": "customer_segmentation developers",
    "license": "LGPL-3",
    "depends": ["customer_segmentation", "crm"],
    "data": ["data/ir_actions_server_data.xml"],
    "auto_install": True,
    "installable": True,
}
