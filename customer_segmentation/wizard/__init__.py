from . import base_partner_merge_automatic_wizard
from . import customer_segmentation_settings
from . import customer_churn_dismiss
from . import customer_segment_act
from . import customer_segment_strategy_run
