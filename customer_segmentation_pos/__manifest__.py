{
    "name": "Customer Segmentation - Point of Sale",
    "summary": "Paid Point of Sale orders count as purchases in the customer "
    "segmentation",
    "version": "18.0.1.0.0",
    "category": "Sales/Point of Sale",
    "website": "https://github.com/customer-segmentation/customer_segmentation",
    "author": "customer_segmentation developers",
    "license": "LGPL-3",
    "depends": ["customer_segmentation", "point_of_sale"],
    "auto_install": True,
    "installable": True,
}
