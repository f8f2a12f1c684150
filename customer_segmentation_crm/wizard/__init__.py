from . import customer_segment_act
