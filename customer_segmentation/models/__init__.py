from . import segmentation_params
from . import customer_segment
from . import customer_segmentation_run
from . import res_partner
from . import customer_segmentation_settings_mixin
from . import res_config_settings
from . import sale_order
from . import customer_segmentation_demo
