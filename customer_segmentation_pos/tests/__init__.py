from . import test_pos_orders
