import datetime
import itertools
import math
import random
from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.tools import SQL

from .res_partner import _segmentation_today

# Generated customers; the XML id of each is
# ``customer_segmentation.res_partner_<key>_demo``. Columns: key, name,
# is_company, city, country code, state code (Odoo's Chinese provinces use
# their one-character abbreviation: 粤 for Guangdong), industry (the letter of
# ``base.res_partner_industry_<letter>``).
# fmt: off
PARTNERS = (
    ("huasheng", "深圳华晟电子科技有限公司", True, "深圳", "CN", "粤", "C"),
    ("redwood", "Redwood Analytics LLC", True, "San Francisco", "US", "CA", "J"),
    ("emily_carter", "Emily Carter", False, "Boston", "US", "MA", None),
    ("ruifeng", "杭州瑞丰纺织有限公司", True, "杭州", "CN", "浙", "C"),
    ("zhang_wei", "张伟", False, "北京", "CN", "京", None),
    ("bluewater", "Bluewater Logistics Inc.", True, "Houston", "US", "TX", "H"),
    ("jiahe", "广州嘉禾餐饮管理有限公司", True, "广州", "CN", "粤", "I"),
    ("hengyuan", "苏州恒远精密制造有限公司", True, "苏州", "CN", "苏", "C"),
    ("zhou_ting", "周婷", False, "成都", "CN", "蜀", None),
    ("sofia_martinez", "Sofia Martínez", False, "Madrid", "ES", None, None),
    ("zhongke", "北京中科信达信息技术有限公司", True, "北京", "CN", "京", "J"),
    ("contoso", "Contoso Manufacturing Ltd", True, "Manchester", "GB", None, "C"),
    ("shudao", "成都蜀道物流有限公司", True, "成都", "CN", "蜀", "H"),
    ("harbor_pine", "Harbor & Pine Retail", True, "Portland", "US", "OR", "G"),
    ("haitong", "宁波海通进出口有限公司", True, "宁波", "CN", "浙", "G"),
    ("james_obrien", "James O'Brien", False, "Dublin", "IE", None, None),
    ("changjiang", "武汉长江建材贸易有限公司", True, "武汉", "CN", "鄂", "F"),
    ("liu_yang", "刘洋", False, "上海", "CN", "沪", None),
    ("chen_jing", "陈静", False, "杭州", "CN", "浙", None),
    ("alpine", "Alpine Medical Supplies GmbH", True, "München", "DE", None, "Q"),
    ("hairun", "青岛海润食品有限公司", True, "青岛", "CN", "鲁", "I"),
    ("binhai", "天津滨海新能源科技有限公司", True, "天津", "CN", "津", "D"),
    ("oliver_bennett", "Oliver Bennett", False, "Bristol", "GB", None, None),
    ("maple_leaf", "Maple Leaf Foods Distribution", True, "Toronto", "CA", "ON", "I"),
    ("ludao", "厦门鹭岛医疗器械有限公司", True, "厦门", "CN", "闽", "Q"),
    ("sun_lihua", "孙丽华", False, "广州", "CN", "粤", None),
    ("priya_sharma", "Priya Sharma", False, "Bengaluru", "IN", "KA", None),
    ("sunrise", "Sunrise Agritech Pty Ltd", True, "Brisbane", "AU", "QLD", "A"),
    ("evergreen", "Evergreen Hotel Group", True, "Singapore", "SG", None, "I"),
    ("shancheng", "重庆山城汽车配件有限公司", True, "重庆", "CN", "渝", "C"),
    ("kingsbridge", "Kingsbridge Office Supplies", True, "London", "GB", None, "G"),
    ("lituo", "东莞力拓五金制品厂", True, "东莞", "CN", "粤", "C"),
    ("fabrikam", "Fabrikam Components", True, "Chicago", "US", "IL", "C"),
    ("jinling", "南京金陵印务有限公司", True, "南京", "CN", "苏", "S"),
    ("zhao_lei", "赵磊", False, "沈阳", "CN", "辽", None),
    ("qinchuan", "西安秦川智能装备有限公司", True, "西安", "CN", "陕", "C"),
    ("greenfield", "Greenfield Dental Clinic", True, "Denver", "US", "CO", "Q"),
    ("wu_fang", "吴芳", False, "深圳", "CN", "粤", None),
    ("beifang", "沈阳北方重工配件有限公司", True, "沈阳", "CN", "辽", "C"),
    ("lakeside", "Lakeside Bakery Co.", True, "Chicago", "US", "IL", "I"),
    ("he_zhiqiang", "何志强", False, "武汉", "CN", "鄂", None),
)
# fmt: on

# Confirmed orders per ordering partner, as (days before today, untaxed amount
# in the customer's pricelist currency: yuan in China, the company currency
# elsewhere).
# With the sale demo's Gemini Furniture (R5 F5), Lumber Inc (R5 F1) and Joel
# Willis (R4 F1), 40 customers buy in the look-back window: 8 in each recency
# and each frequency quintile (F1..F5 = 1..5 orders in the window), with
# distinct last-order days, so that every RFM segment has members. The
# generated buyers (below) move the quintiles' bounds a little: Sofia
# Martínez ends in Need Attention, 陈静 and 武汉长江建材 in At Risk, 刘洋 in
# Hibernating. Orders older than 365 days are history: they date the first
# purchase, nothing else.
# fmt: off
ORDERS = {
    # Champions (R5 F4-5)
    "minghui_wang": [(3, 88000), (50, 65600), (110, 102300), (190, 59800),
                     (260, 78000), (400, 52000), (520, 61500), (650, 38000)],
    "huasheng": [(6, 96000), (70, 128500), (150, 87200), (240, 112000),
                 (420, 75000), (560, 64000)],
    "emily_carter": [(9, 380), (40, 265), (75, 420), (120, 310)],
    # New customers (R5 F1), their first order ever
    "redwood": [(4, 36000)],
    # Potential loyalists (R4-5 F2-3); a first order within 90 days is a new
    # customer in the lifecycle
    "ruifeng": [(12, 36800), (45, 29500), (80, 41200)],
    "zhang_wei": [(15, 4680), (58, 3250)],
    "bluewater": [(38, 2400), (160, 3150)],
    "jiahe": [(44, 16200), (120, 19800), (210, 13500)],
    "sofia_martinez": [(66, 320), (78, 450), (88, 275)],
    # Promising (R4 F1)
    "zhou_ting": [(52, 2280)],
    # Loyal customers (R3-4 F4-5)
    "northwind_laura": [(35, 8200), (95, 6900), (155, 10400), (220, 7300),
                        (300, 9100), (380, 7800), (470, 6500), (600, 9200),
                        (720, 5400)],
    "hengyuan": [(47, 112000), (115, 84000), (190, 133000), (270, 96500),
                 (390, 78000), (480, 91000)],
    "zhongke": [(72, 25400), (100, 29800), (140, 19300), (230, 32400),
                (310, 27100)],
    "contoso": [(105, 16000), (180, 21500), (260, 18200), (340, 14800),
                (410, 12600), (530, 15300)],
    "haitong": [(125, 49000), (185, 42900), (240, 55200), (295, 45500),
                (350, 38500), (450, 41000)],
    "chen_jing": [(170, 5430), (215, 4730), (265, 6220), (320, 4200)],
    # Need attention (R3 F3)
    "harbor_pine": [(112, 2100), (200, 1750), (290, 2600)],
    "changjiang": [(145, 68300), (235, 56900), (330, 80500)],
    # About to sleep (R3 F1-2)
    "james_obrien": [(130, 890)],
    "shudao": [(98, 40300), (250, 45500)],
    "liu_yang": [(160, 3060), (300, 4200)],
    # Can't lose them (R1-2 F5): last order over 180 days ago, at risk in
    # the lifecycle like every R1-2 customer
    "alpine": [(186, 6800), (230, 7200), (270, 5900), (310, 8100), (345, 6600),
               (380, 6200), (460, 7400), (540, 5800)],
    "ludao": [(240, 21900), (265, 25400), (290, 18400), (320, 28900),
              (352, 23600)],
    "shancheng": [(298, 85800), (312, 76200), (326, 91900), (341, 81400),
                  (357, 98100), (375, 72000), (420, 69500), (480, 80000),
                  (590, 66000)],
    # At risk (R1-2 F3-4)
    "binhai": [(198, 100700), (250, 120800), (300, 86700), (355, 110300),
               (400, 95000), (500, 88000)],
    "priya_sharma": [(275, 410), (300, 380), (325, 520), (350, 450)],
    "maple_leaf": [(222, 4100), (280, 3600), (350, 4500)],
    "evergreen": [(296, 3900), (325, 4300), (356, 3500)],
    "lituo": [(305, 8580), (332, 9800), (360, 7530)],
    "fabrikam": [(310, 5100), (330, 4700), (345, 5600), (361, 4900)],
    # Hibernating (R1-2 F1-2)
    "oliver_bennett": [(205, 1150)],
    "hairun": [(190, 28900), (330, 24500)],
    "sun_lihua": [(260, 2010), (345, 2710)],
    "kingsbridge": [(300, 640)],
    "zhao_lei": [(338, 1580)],
    "sunrise": [(292, 2200), (340, 1900)],
    "jinling": [(315, 12700), (358, 14900)],
    # Churned: nothing bought for over a year, no RFM scores, low value
    "beifang": [(420, 56000), (510, 72500), (600, 48000)],
    "lakeside": [(450, 1250), (700, 980)],
    "he_zhiqiang": [(480, 2360)],
}
# fmt: on

# Quotations as (days before today, amount, state). Prospects have nothing
# else; the cancelled ones count for no one.
QUOTATIONS = {
    "qinchuan": [(10, 215000, "sent"), (75, 98000, "cancel")],
    "greenfield": [(20, 3850, "draft")],
    "wu_fang": [(3, 1680, "draft")],
    "hengyuan": [(5, 105000, "draft")],
    "emily_carter": [(2, 450, "sent")],
    "harbor_pine": [(60, 1500, "cancel")],
}

# Bought today, after today's classification: their moves (a churned
# customer back to active, upgrades of value tier and RFM segment) are the
# history's latest entries.
LATE_ORDERS = {"lakeside": 4200, "james_obrien": 26000, "zhou_ting": 3100}

# 09:00 UTC falls on the same calendar day from UTC-9 to UTC+14: the time of
# the orders, and of the replayed runs' changes.
ORDER_TIME = datetime.time(9, 0)

# The demo replays the nightly recompute at the end of each of the months
# before today's: the first run is the baseline (it logs no change), the
# others fill the segment history and, with today's run, the overview's
# twelve monthly points.
REPLAYED_MONTHS = 12

# The account managers' follow-ups of the replayed year (Staff Performance's
# follow-ups on time, late and overdue): at each replayed month end, one
# managed customer in FOLLOWUP_SHARE (a different one each month) gets a
# follow-up due FOLLOWUP_DAYS later, done two days early, or, for every
# FOLLOWUP_LATE-th, FOLLOWUP_LATE_DAYS late; OVERDUE_FOLLOWUPS of the
# follow-ups the strategies schedule today are left a week past their
# deadline.
FOLLOWUP_SHARE = 4
FOLLOWUP_DAYS = 7
FOLLOWUP_LATE = 5
FOLLOWUP_LATE_DAYS = 4
OVERDUE_FOLLOWUPS = 3


# Generated buyers: smaller customers beside the hand-made ones, so that the
# purchase model has a customer base to learn from. The hand-made customers
# tell the segments' stories, but they are few and buy like clockwork, and
# several of the most frequent stopped (the At Risk and Can't Lose Them
# stories): fitted on them alone, every customer seems to stop with the same
# probability, the BG/NBD dropout parameters a and b run to infinity and the
# company gets no model. The buyers' rhythms are drawn from the model itself
# with a seeded generator, the same on every installation, relative to today:
# a first purchase in the last BUYER_HISTORY_DAYS days; a purchase rate per
# day ~ gamma(shape 2, rate 120 days), an order every 60 days on average;
# after each repeat purchase, a chance of stopping ~ beta(0.5, 2), one in
# five on average (BUYER_RHYTHM); an amount per order ~ gamma(p, v) with
# v ~ gamma(q, ...) per buyer, the Gamma-Gamma model, BUYER_MEAN_SPEND on
# average in the buyer's currency (BUYER_SPEND). BUYER_SEED is one whose
# buyers leave members in every RFM segment and most hand-made customers in
# the segment of their comment above. test_demo.py checks that the model fits
# on every day a replayed run or its holdout check can fall on, whatever the
# day of the installation, and on the month after it.
BUYERS = 60
BUYER_SEED = 387
BUYER_HISTORY_DAYS = 730
BUYER_RHYTHM = (2.0, 120.0, 0.5, 2.0)
BUYER_SPEND = (4.0, 3.0)
# Mean amount of an order and the unit it is rounded to, in yuan in China,
# in the company currency elsewhere.
BUYER_MEAN_SPEND = {"CN": (25000, 100), "other": (3000, 10)}
# Every other buyer is in China. A Chinese buyer's name is its city, a brand,
# its trade and 有限公司; its key (and e-mail domain) the pinyin of the brand
# and the trade. Other buyers are named by a place name and their trade.
# fmt: off
BUYER_CITIES_CN = (
    ("佛山", "粤"), ("中山", "粤"), ("温州", "浙"), ("嘉兴", "浙"), ("无锡", "苏"),
    ("常州", "苏"), ("长沙", "湘"), ("郑州", "豫"), ("济南", "鲁"), ("烟台", "鲁"),
    ("福州", "闽"), ("泉州", "闽"), ("合肥", "皖"), ("昆明", "滇"), ("南昌", "赣"),
    ("大连", "辽"), ("石家庄", "冀"), ("太原", "晋"), ("南宁", "桂"), ("贵阳", "黔"),
)
BUYER_BRANDS_CN = (
    ("鑫源", "xinyuan"), ("恒昌", "hengchang"), ("金诚", "jincheng"),
    ("瑞祥", "ruixiang"), ("德丰", "defeng"), ("众诚", "zhongcheng"),
    ("天祥", "tianxiang"), ("博源", "boyuan"), ("永昌", "yongchang"),
    ("嘉利", "jiali"), ("宝隆", "baolong"), ("广利", "guangli"),
    ("润昌", "runchang"), ("盛源", "shengyuan"), ("同兴", "tongxing"),
    ("海源", "haiyuan"), ("鑫达", "xinda"), ("恒兴", "hengxing"),
    ("金泰", "jintai"), ("德源", "deyuan"), ("天利", "tianli"),
    ("博信", "boxin"), ("永兴", "yongxing"), ("嘉源", "jiayuan"),
    ("宝丰", "baofeng"), ("广源", "guangyuan"), ("润达", "runda"),
    ("盛昌", "shengchang"), ("同利", "tongli"), ("海祥", "haixiang"),
    ("鑫隆", "xinlong"), ("金隆", "jinlong"), ("瑞兴", "ruixing"),
    ("德诚", "decheng"), ("天源", "tianyuan"), ("博达", "boda"),
)
BUYER_TRADES_CN = (
    ("五金制品", "wujin", "C"), ("包装材料", "baozhuang", "C"),
    ("电气设备", "dianqi", "C"), ("办公用品", "bangong", "G"),
    ("建材", "jiancai", "F"), ("餐饮管理", "canyin", "I"),
    ("印刷", "yinshua", "C"), ("汽车配件", "qipei", "G"),
    ("物流", "wuliu", "H"), ("纺织", "fangzhi", "C"), ("食品", "shipin", "C"),
    ("机电设备", "jidian", "G"), ("装饰工程", "zhuangshi", "F"),
    ("医疗器械", "yiliao", "G"),
)
BUYER_CITIES = (
    ("Austin", "US", "TX"), ("Columbus", "US", "OH"), ("Phoenix", "US", "AZ"),
    ("Raleigh", "US", "NC"), ("Minneapolis", "US", "MN"),
    ("Sacramento", "US", "CA"), ("Pittsburgh", "US", "PA"),
    ("Nashville", "US", "TN"), ("Leeds", "GB", None), ("Glasgow", "GB", None),
    ("Nottingham", "GB", None), ("Calgary", "CA", "AB"), ("Ottawa", "CA", "ON"),
    ("Vancouver", "CA", "BC"), ("Melbourne", "AU", "VIC"), ("Perth", "AU", "WA"),
    ("Adelaide", "AU", "SA"), ("Auckland", "NZ", None), ("Cork", "IE", None),
)
BUYER_PLACES = (
    "Oakridge", "Silver Creek", "Bayside", "Summit", "Pinecrest", "Riverside",
    "Granite", "Lakeshore", "Northgate", "Westfield", "Brightwater", "Cedar Point",
    "Highland", "Meadowbrook", "Stonebridge", "Clearview", "Ironwood", "Kingfisher",
    "Foxglove", "Harborview", "Willow Lane", "Copperfield", "Blue Ridge", "Sterling",
    "Maplewood", "Eastgate", "Fairview", "Ashford", "Beacon", "Larkspur",
    "Hillcrest", "Millbrook", "Redstone", "Seaside", "Thornbury", "Juniper",
)
BUYER_TRADES = (
    ("Hardware", "G"), ("Print Works", "C"), ("Dental Care", "Q"),
    ("Catering", "I"), ("Auto Parts", "G"), ("Office Supplies", "G"),
    ("Building Supplies", "F"), ("Electrical", "F"), ("Packaging", "C"),
    ("Veterinary Clinic", "M"), ("Fitness", "R"), ("Florists", "G"),
    ("Plumbing", "F"), ("Coffee Roasters", "C"), ("Logistics", "H"),
    ("Cleaning Services", "N"),
)
BUYER_SUFFIXES = {
    "US": ("LLC", "Inc."), "GB": ("Ltd",), "IE": ("Ltd",), "CA": ("Inc.", "Ltd."),
    "AU": ("Pty Ltd",), "NZ": ("Ltd",),
}
# fmt: on


def _xmlid(key):
    return f"customer_segmentation.res_partner_{key}_demo"


def generated_buyers():
    """The generated buyers, the same on every call: ``(partners, orders)``,
    rows shaped as ``PARTNERS``' and ``{key: [(days before today, amount in
    the customer's currency)]}`` as ``ORDERS``."""
    # the names from a generator of their own: renaming keeps the rhythms
    partners = _buyer_partners(random.Random(BUYER_SEED + 1))
    rng = random.Random(BUYER_SEED)
    orders = {}
    for key, _name, _is_company, _city, country, *_rest in partners:
        mean, unit = BUYER_MEAN_SPEND["CN" if country == "CN" else "other"]
        orders[key] = _buyer_orders(rng, mean, unit)
    return tuple(partners), orders


def _buyer_orders(rng, mean, unit):
    """One buyer's orders as ``[(days before today, amount)]``, oldest first,
    drawn with ``rng`` from the purchase model (see BUYER_RHYTHM): amounts
    of ``mean`` on average over the buyers, rounded to ``unit``."""
    shape, rate_scale, dropout_a, dropout_b = BUYER_RHYTHM
    spend_shape, spend_q = BUYER_SPEND
    first = rng.randint(1, BUYER_HISTORY_DAYS)
    rate = rng.gammavariate(shape, 1 / rate_scale)
    dropout = rng.betavariate(dropout_a, dropout_b)
    spend_rate = rng.gammavariate(spend_q, spend_shape / (mean * (spend_q - 1)))
    days = [first]
    day = first
    while True:
        day -= rng.expovariate(rate)
        if day < 0:
            break
        days.append(math.floor(day))
        # a customer stops only after a repeat purchase (BG/NBD)
        if rng.random() < dropout:
            break
    orders = []
    for day in days:
        amount = rng.gammavariate(spend_shape, 1 / spend_rate)
        orders.append((day, max(unit, round(amount / unit) * unit)))
    return orders


def _buyer_partners(rng):
    """The generated buyers' rows, shaped as ``PARTNERS``': every other one in
    China, names drawn with ``rng`` without repeating a brand or a place."""
    count_cn = (BUYERS + 1) // 2
    brands = rng.sample(BUYER_BRANDS_CN, count_cn)
    places = rng.sample(BUYER_PLACES, BUYERS - count_cn)
    rows = []
    for index in range(BUYERS):
        if index % 2 == 0:
            brand, brand_key = brands[index // 2]
            trade, trade_key, industry = rng.choice(BUYER_TRADES_CN)
            city, state = rng.choice(BUYER_CITIES_CN)
            name = f"{city}{brand}{trade}有限公司"
            rows.append(
                (f"{brand_key}_{trade_key}", name, True, city, "CN", state, industry)
            )
        else:
            place = places[index // 2]
            trade, industry = rng.choice(BUYER_TRADES)
            city, country, state = rng.choice(BUYER_CITIES)
            suffix = rng.choice(BUYER_SUFFIXES[country])
            name = f"{place} {trade} {suffix}"
            key = "_".join(f"{place} {trade}".lower().split())
            rows.append((key, name, True, city, country, state, industry))
    return rows


class CustomerSegmentationDemo(models.AbstractModel):
    _name = "customer.segmentation.demo"
    _description = "Customer Segmentation Demo Data"

    @api.model
    def _generate(self):
        """Create the demo customers and two years of their sale orders,
        dated relative to today. ``_replay_year`` classifies them once the
        demo data has given them their profiles.

        Called by the demo data. Runs once: a database that already has the
        generated customers is left unchanged.
        """
        if self.env.ref(_xmlid(PARTNERS[0][0]), raise_if_not_found=False):
            return
        # Orders are confirmed today and dated back afterwards: nobody is
        # classified meanwhile, so the history shows where customers went,
        # not the steps of building the demo.
        generator = self.with_context(segmentation_skip_refresh=True)
        buyers, buyer_orders = generated_buyers()
        partners = generator._generate_partners(PARTNERS + buyers)
        product = self.env.ref("customer_segmentation.product_segmentation_demo")
        generator._generate_orders(partners, product, ORDERS | buyer_orders)

    @api.model
    def _replay_year(self):
        """Classify the customers as the nightly recompute would have done at
        the end of each of the last ``REPLAYED_MONTHS`` months, then today,
        then let three customers buy today: the runs, the segment history,
        the chatter and the overview's figures hold a year of movements.

        Called by the demo data once the customers have their profiles, in
        every company with valid settings that has no full run yet (the
        first replayed run is its baseline).
        """
        Run = self.env["customer.segmentation.run"].sudo()
        for company in self.env["res.company"].sudo().search([]):
            if company._segmentation_param_errors() or Run._has_baseline(company):
                continue
            for day in self._replayed_days():
                self._replay_run(company, day)
            Run._start("cron", company)._process()
        partners = {key: self.env.ref(_xmlid(key)) for key in LATE_ORDERS}
        product = self.env.ref("customer_segmentation.product_segmentation_demo")
        self._generate_late_orders(partners, product)
        # the queue's scheduled action would classify them within seconds
        self.env["customer.segmentation.queue"]._process()
        # and the job the runs' end wakes, the overview and Staff Performance
        Run._cron_refresh_reports()

    @api.model
    def _replay_followups(self):
        """The follow-ups of the replayed year, done by the account managers
        at their dates (see FOLLOWUP_SHARE), and a few of today's overdue.

        Called by the demo data after the strategies, once: a database whose
        demo customers already have a done follow-up is left unchanged.
        """
        followup = self.env.ref(
            "customer_segmentation.mail_activity_type_segment_followup"
        )
        Activity = self.env["mail.activity"].sudo()
        keys = [row[0] for row in PARTNERS] + list(generated_buyers()[1])
        customers = (
            self.env["res.partner"]
            .browse(self.env.ref(_xmlid(key)).id for key in keys)
            .commercial_partner_id.filtered("user_id")
            .sorted("id")
        )
        done_before = Activity.with_context(active_test=False).search_count(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "in", customers.ids),
                ("activity_type_id", "=", followup.id),
                ("active", "=", False),
            ],
            limit=1,
        )
        if done_before:
            return
        self._do_followups(followup, self._plan_followups(customers))
        self._make_overdue(followup, customers)
        # Staff Performance counts them
        Report = self.env["customer.segmentation.performance.report"].sudo()
        for company in self.env["res.company"].sudo().search([]):
            Report._refresh(company)

    @api.model
    def _plan_followups(self, customers):
        """``[(customer, deadline, day done)]``: at each replayed month's end,
        one in FOLLOWUP_SHARE of each account manager's customers (they take
        turns), done two days early, or FOLLOWUP_LATE_DAYS late one time in
        FOLLOWUP_LATE; only those done before today."""
        today = _segmentation_today()
        planned = []
        positions, managed = {}, defaultdict(int)
        for customer in customers:
            positions[customer] = managed[customer.user_id]
            managed[customer.user_id] += 1
        for month, day in enumerate(self._replayed_days()):
            for customer, position in positions.items():
                if (position + month) % FOLLOWUP_SHARE:
                    continue
                deadline = day + datetime.timedelta(days=FOLLOWUP_DAYS)
                late = len(planned) % FOLLOWUP_LATE == FOLLOWUP_LATE - 1
                done = deadline + datetime.timedelta(
                    days=FOLLOWUP_LATE_DAYS if late else -2
                )
                if done < today:
                    planned.append((customer, deadline, done))
        return planned

    @api.model
    def _do_followups(self, followup, planned):
        """Create the ``planned`` follow-ups and mark each done by its account
        manager on its day: the chatter says who, and when."""
        Activity = self.env["mail.activity"].sudo()
        model_id = self.env["ir.model"]._get_id("res.partner")
        activities = Activity.create(
            [
                {
                    "res_model_id": model_id,
                    "res_id": customer.id,
                    "activity_type_id": followup.id,
                    "summary": followup.summary,
                    "date_deadline": deadline,
                    "user_id": customer.user_id.id,
                }
                for customer, deadline, _done in planned
            ]
        )
        batches = defaultdict(lambda: Activity)
        for activity, (customer, _deadline, done) in zip(
            activities, planned, strict=True
        ):
            batches[customer.user_id, done] |= activity
        for (user, done), batch in batches.items():
            messages, _next = batch.with_user(user)._action_done(
                feedback=self.env._("Called the customer.")
            )
            messages.sudo().write({"date": datetime.datetime.combine(done, ORDER_TIME)})
            batch.write({"date_done": done})

    @api.model
    def _make_overdue(self, followup, customers):
        """Move OVERDUE_FOLLOWUPS of the customers' open follow-ups a week
        into the past, spread over the account managers."""
        Activity = self.env["mail.activity"].sudo()
        open_followups = Activity.search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "in", customers.ids),
                ("activity_type_id", "=", followup.id),
            ],
            order="res_id",
        )
        by_user = defaultdict(list)
        for activity in open_followups:
            by_user[activity.user_id].append(activity)
        turns = itertools.zip_longest(*by_user.values())
        overdue = Activity.union(*(a for turn in turns for a in turn if a))
        overdue[:OVERDUE_FOLLOWUPS].write(
            {"date_deadline": _segmentation_today() - datetime.timedelta(days=7)}
        )

    @api.model
    def _replayed_days(self):
        """The last days of the ``REPLAYED_MONTHS`` months before today's,
        oldest first."""
        month_start = _segmentation_today().replace(day=1)
        return [
            month_start - relativedelta(months=months) - datetime.timedelta(days=1)
            for months in range(REPLAYED_MONTHS - 1, -1, -1)
        ]

    @api.model
    def _replay_run(self, company, day):
        """A full run of ``company`` as of ``day``, dated that day: the run,
        its history rows and the chatter messages tracking its changes; then
        that day's figures of the overview again, with the month's movements
        now that the history is dated."""
        Message = self.env["mail.message"].sudo()
        last_message = Message.search([], order="id desc", limit=1).id or 0
        run = self.env["customer.segmentation.run"].sudo()._start("cron", company)
        run.date = day
        run._process()
        moment = datetime.datetime.combine(day, ORDER_TIME)
        run.write({"started_at": moment, "finished_at": moment})
        self.env.flush_all()
        self.env.execute_query(
            SQL(
                "UPDATE customer_segment_history SET date = %s WHERE run_id = %s",
                moment,
                run.id,
            )
        )
        self.env["customer.segment.history"].invalidate_model(["date"])
        Message.search(
            [("id", ">", last_message), ("model", "=", "res.partner")]
        ).write({"date": moment})
        self.env["customer.segmentation.snapshot"]._store(company, day)

    def _generate_partners(self, rows):
        """Create the customers of ``rows`` (shaped as ``PARTNERS``); return
        them by key, together with the demo XML's contacts that place
        orders."""
        ref = self.env.ref
        countries = self.env["res.country"].search(
            [("code", "in", list({row[4] for row in rows}))]
        )
        country_ids = {country.code: country.id for country in countries}
        states = self.env["res.country.state"].search(
            [
                ("country_id", "in", countries.ids),
                ("code", "in", list({row[5] for row in rows if row[5]})),
            ]
        )
        state_ids = {(state.country_id.code, state.code): state.id for state in states}
        salespeople = (ref("base.user_admin"), ref("base.user_demo"))
        yuan_pricelist = ref("customer_segmentation.product_pricelist_cny_demo")
        vals_list = []
        for index, row in enumerate(rows):
            key, name, is_company, city, country, state, industry = row
            vals_list.append(
                {
                    "name": name,
                    "is_company": is_company,
                    "city": city,
                    "country_id": country_ids[country],
                    "state_id": state_ids.get((country, state), False),
                    "industry_id": industry
                    and ref(f"base.res_partner_industry_{industry}").id,
                    "email": f"info@{key.replace('_', '-')}.example.com"
                    if is_company
                    else f"{key.replace('_', '.')}@example.com",
                    "user_id": salespeople[index % 2].id,
                    "specific_property_product_pricelist": yuan_pricelist.id
                    if country == "CN"
                    else False,
                }
            )
        partners = self.env["res.partner"].create(vals_list)
        by_key = dict(zip((row[0] for row in rows), partners, strict=True))
        self.env["ir.model.data"]._update_xmlids(
            [
                {"xml_id": _xmlid(key), "record": partner, "noupdate": True}
                for key, partner in by_key.items()
            ]
        )
        for key in (ORDERS.keys() | QUOTATIONS.keys()) - by_key.keys():
            by_key[key] = ref(_xmlid(key))
        return by_key

    def _order_values(self, partner, product, amount):
        """One service line carrying the order amount, for the customer's
        salesperson."""
        return {
            "partner_id": partner.id,
            "user_id": partner.commercial_partner_id.user_id.id,
            "order_line": [
                Command.create(
                    {
                        "product_id": product.id,
                        "product_uom_qty": 1,
                        "price_unit": amount,
                        "tax_id": False,
                    }
                )
            ],
        }

    def _generate_late_orders(self, partners, product):
        orders = self.env["sale.order"].create(
            [
                self._order_values(partners[key], product, amount)
                for key, amount in LATE_ORDERS.items()
            ]
        )
        orders.action_confirm()

    def _generate_orders(self, partners, product, confirmed):
        """Create the orders of ``confirmed`` (shaped as ``ORDERS``) and the
        quotations of ``QUOTATIONS``, of ``product``, for ``partners`` (by
        key), bring them to their state and date them."""
        today = fields.Date.context_today(self)
        rows = [
            (key, days, amount, "sale")
            for key, orders in confirmed.items()
            for days, amount in orders
        ]
        rows += [
            (key, days, amount, state)
            for key, quotations in QUOTATIONS.items()
            for days, amount, state in quotations
        ]
        # oldest first, so that order references follow the order dates
        rows.sort(key=lambda row: -row[1])
        orders = self.env["sale.order"].create(
            [
                self._order_values(partners[key], product, amount)
                for key, _days, amount, _state in rows
            ]
        )
        ids_by_state = defaultdict(list)
        for order, (*_values, state) in zip(orders, rows, strict=True):
            ids_by_state[state].append(order.id)
        orders.browse(ids_by_state["sale"]).action_confirm()
        orders.browse(ids_by_state["sent"]).action_quotation_sent()
        orders.browse(ids_by_state["cancel"]).action_cancel()
        # Confirming dates an order today: put each back on its day, and its
        # quotation validity with it, once the confirmation is written.
        self.env.flush_all()
        dates = [
            datetime.datetime.combine(today - datetime.timedelta(days=days), ORDER_TIME)
            for _key, days, _amount, _state in rows
        ]
        self.env.execute_query(
            SQL(
                """
            UPDATE sale_order so
               SET date_order = fix.date_order,
                   validity_date = so.validity_date
                       + (fix.date_order::date - %(today)s::date)
              FROM unnest(%(ids)s::int[], %(dates)s::timestamp[])
                   AS fix(id, date_order)
             WHERE so.id = fix.id
                """,
                ids=orders.ids,
                dates=dates,
                today=today,
            )
        )
        orders.invalidate_model(["date_order", "validity_date"])
        return orders
