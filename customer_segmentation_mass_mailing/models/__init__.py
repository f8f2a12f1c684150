from . import utm_campaign
from . import mailing_mailing
from . import customer_segment
from . import res_partner
