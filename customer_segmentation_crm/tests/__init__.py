from . import test_opportunities
