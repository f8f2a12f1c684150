from . import customer_segmentation_purchase
from . import crm_lead
from . import res_partner
