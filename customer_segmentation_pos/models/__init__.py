from . import customer_segmentation_purchase
from . import pos_order
