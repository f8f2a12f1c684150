from . import test_opportunities
from . import test_act_opportunities
