from . import models
from . import report
from . import wizard


def post_init_hook(env):
    """Companies that exist at installation get the shipped strategies that
    the data files gave the installing company."""
    others = env["res.company"].search([]) - env.company
    env["customer.segment"]._segmentation_copy_strategies(others, env.company)
