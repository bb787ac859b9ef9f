"""Word pools for realistic Chinese organisation names and their romanised forms.

Everything here is static data plus pure functions of a seeded ``random.Random``; the
generator draws from these pools instead of calling Faker per subject, which keeps 50,000
subjects fast and the output reproducible.
"""

from __future__ import annotations

import random
from functools import lru_cache

from pypinyin import lazy_pinyin

# Characters that recur in real trade names (字号); pairs of them give thousands of
# plausible, mostly unique 字号 without a name list.
TRADE_CHARS = (
    "华韵鑫源泰恒达瑞丰盛宏信博创新辉腾飞卓越金盈隆昌兴旺顺和安康宇航嘉禾锦程远景"
    "明远力天成通联立德正科智联拓域星辰汇聚东方伟业晨光宁海润泽中磊鼎铭诚睿峰佳美"
)

# Faker's zh_CN company prefixes carry words that clash with our own industry word or
# region prefix; those are cut off so the rest can serve as a 字号.
_PREFIX_NOISE = ("公司", "国际", "电子", "计算机", "信息", "科技", "软件", "数字", "开发区")


def clean_trade_names(prefixes: list[str]) -> list[str]:
    """Faker company prefixes reduced to bare 2–4 character Chinese trade names."""
    out: list[str] = []
    for raw in prefixes:
        name = raw
        for noise in _PREFIX_NOISE:
            name = name.replace(noise, "")
        if 2 <= len(name) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in name):
            out.append(name)
    return sorted(set(out))


# (Chinese industry word, sector, English word for the romanised alias)
INDUSTRIES: tuple[tuple[str, str, str], ...] = (
    ("科技", "tech", "Technology"),
    ("信息技术", "tech", "Information Technology"),
    ("网络科技", "tech", "Network Technology"),
    ("电子", "manufacturing", "Electronics"),
    ("智能装备", "manufacturing", "Intelligent Equipment"),
    ("机械设备", "manufacturing", "Machinery"),
    ("新材料", "manufacturing", "New Materials"),
    ("塑料制品", "manufacturing", "Plastic Products"),
    ("五金制品", "manufacturing", "Hardware"),
    ("纺织", "manufacturing", "Textile"),
    ("服饰", "manufacturing", "Apparel"),
    ("家具", "manufacturing", "Furniture"),
    ("包装", "manufacturing", "Packaging"),
    ("化工", "chemical", "Chemical"),
    ("涂料", "chemical", "Coatings"),
    ("环保科技", "chemical", "Environmental Technology"),
    ("能源", "energy", "Energy"),
    ("新能源", "energy", "New Energy"),
    ("电力工程", "energy", "Electric Power Engineering"),
    ("贸易", "trade", "Trading"),
    ("商贸", "trade", "Trading"),
    ("进出口", "trade", "Import and Export"),
    ("供应链管理", "trade", "Supply Chain Management"),
    ("实业", "trade", "Industrial"),
    ("建筑工程", "construction", "Construction Engineering"),
    ("建设工程", "construction", "Construction"),
    ("装饰工程", "construction", "Decoration Engineering"),
    ("劳务", "construction", "Labour Services"),
    ("房地产开发", "realestate", "Real Estate Development"),
    ("物业管理", "realestate", "Property Management"),
    ("食品", "food", "Food"),
    ("餐饮管理", "food", "Catering Management"),
    ("农产品", "food", "Agricultural Products"),
    ("医药", "pharma", "Pharmaceutical"),
    ("生物科技", "pharma", "Biotechnology"),
    ("医疗器械", "pharma", "Medical Devices"),
    ("物流", "logistics", "Logistics"),
    ("运输", "logistics", "Transportation"),
    ("文化传媒", "culture", "Culture and Media"),
    ("广告", "culture", "Advertising"),
    ("教育科技", "services", "Education Technology"),
    ("企业管理咨询", "services", "Management Consulting"),
    ("人力资源", "services", "Human Resources"),
    ("投资管理", "finance", "Investment Management"),
    ("融资租赁", "finance", "Financial Leasing"),
    ("旅游开发", "tourism", "Tourism Development"),
    ("酒店管理", "tourism", "Hotel Management"),
    ("汽车销售", "trade", "Automobile Sales"),
)
# Technology, trade and construction firms dominate real registers; weights follow that.
INDUSTRY_WEIGHTS: tuple[float, ...] = tuple(
    {"tech": 3.0, "trade": 3.0, "construction": 2.0, "services": 1.5, "food": 1.5}.get(s, 1.0)
    for _, s, _ in INDUSTRIES
)

# (legal form, English rendering, weight)
LEGAL_FORMS: tuple[tuple[str, str, float], ...] = (
    ("有限公司", "Co., Ltd.", 0.70),
    ("有限责任公司", "Co., Ltd.", 0.20),
    ("股份有限公司", "Corp., Ltd.", 0.10),
)

# (shop word, sector) for individual businesses (个体工商户)
SHOPS: tuple[tuple[str, str], ...] = (
    ("便利店", "trade"),
    ("餐馆", "food"),
    ("面馆", "food"),
    ("小吃店", "food"),
    ("水果店", "food"),
    ("烟酒商行", "trade"),
    ("五金店", "trade"),
    ("建材经营部", "construction"),
    ("服装店", "trade"),
    ("理发店", "services"),
    ("汽车修理部", "services"),
    ("手机维修店", "services"),
    ("日用百货店", "trade"),
    ("农资经营部", "agri"),
    ("副食店", "food"),
    ("烧烤店", "food"),
    ("家电维修部", "services"),
    ("民宿", "tourism"),
)

COOP_PRODUCTS = (
    "果蔬种植",
    "粮食种植",
    "生猪养殖",
    "水产养殖",
    "茶叶",
    "中药材种植",
    "农机服务",
    "花卉苗木",
    "食用菌",
    "蜂业",
    "肉牛养殖",
    "家禽养殖",
)

ASSOCIATION_FIELDS = (
    "软件行业",
    "餐饮行业",
    "物流与采购",
    "建筑业",
    "电子商务",
    "旅游",
    "汽车流通",
    "家具行业",
    "中小企业",
    "环保产业",
    "食品工业",
    "个体劳动者",
)

COMMON_STREETS = (
    "人民路",
    "中山路",
    "建设路",
    "解放路",
    "新华路",
    "和平路",
    "文化路",
    "朝阳路",
    "长江路",
    "黄河路",
    "迎宾大道",
    "工业大道",
    "科技路",
    "创业路",
    "学府路",
    "滨江路",
    "世纪大道",
    "金融街",
    "光明路",
    "胜利路",
)

_CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 … 99 in Chinese numerals as used in ordinal institution names (第三十二中学)."""
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return head + "十" + (_CN_DIGITS[ones] if ones else "")


def trade_name(rng: random.Random, pool: list[str]) -> str:
    """A 字号: sometimes one of Faker's, mostly a fresh pair of common trade characters."""
    if pool and rng.random() < 0.2:
        return rng.choice(pool)
    first = rng.choice(TRADE_CHARS)
    second = rng.choice(TRADE_CHARS)
    while second == first:
        second = rng.choice(TRADE_CHARS)
    return first + second


# Official romanisations that differ from plain pinyin.
_ROMAN_OVERRIDES = {"陕西": "Shaanxi", "内蒙古": "Inner Mongolia", "西藏": "Tibet"}


@lru_cache(maxsize=65536)
def romanise(word: str) -> str:
    """Pinyin of a proper name in the style of company English names: one capitalised word."""
    if word in _ROMAN_OVERRIDES:
        return _ROMAN_OVERRIDES[word]
    syllables = lazy_pinyin(word)
    joined = "".join(syllables).replace("ü", "u").replace("v", "u")
    return joined[:1].upper() + joined[1:]


# Short statements of the facts, per record category, in the register's own wording.
TITLES: dict[str, tuple[str, ...]] = {
    "TAX-PENALTY-GENERAL": (
        "未按照规定期限办理纳税申报和报送纳税资料",
        "未按规定开具发票，处以罚款",
        "少缴增值税，处少缴税款百分之五十的罚款",
        "未按规定保管账簿和记账凭证",
    ),
    "TAX-MAJOR-VIOLATION": (
        "虚开增值税专用发票，属重大税收违法失信案件",
        "偷税，少缴税款占应纳税额百分之十以上",
        "逃避追缴欠税，属重大税收违法失信案件",
        "骗取出口退税",
    ),
    "TAX-A-GRADE": ("纳税信用等级评定为A级",),
    "MKT-PENALTY-MINOR": (
        "未按规定公示营业执照，适用简易程序予以警告并处罚款",
        "价格标示不规范，适用简易程序处罚",
    ),
    "MKT-PENALTY-GENERAL": (
        "发布虚假广告，责令停止发布并处罚款",
        "销售不合格产品，没收违法所得并处罚款",
        "未经许可从事经营活动",
        "侵犯注册商标专用权，没收侵权商品并处罚款",
        "不正当有奖销售，处以罚款",
    ),
    "MKT-PENALTY-SERIOUS": (
        "生产销售假冒伪劣产品，吊销营业执照",
        "提交虚假材料取得公司登记，撤销登记",
        "实施垄断协议，处上一年度销售额百分之三的罚款",
    ),
    "MKT-ABNORMAL-NO-REPORT": ("未依照规定的期限公示年度报告，列入经营异常名录",),
    "MKT-ABNORMAL-NO-PUBLICATION": ("未在责令的期限内公示有关企业信息，列入经营异常名录",),
    "MKT-ABNORMAL-FALSIFICATION": ("公示企业信息隐瞒真实情况、弄虚作假，列入经营异常名录",),
    "MKT-ABNORMAL-UNREACHABLE": ("通过登记的住所或者经营场所无法联系，列入经营异常名录",),
    "MKT-SERIOUS-DISHONEST": (
        "被列入经营异常名录届满3年仍未履行相关义务，列入严重违法失信名单",
        "提交虚假材料骗取市场主体登记，情节严重，列入严重违法失信名单",
    ),
    "MKT-CONTRACT-HONOURING": ("被认定为守合同重信用企业",),
    "ENV-PENALTY-GENERAL": (
        "超过大气污染物排放标准排放大气污染物",
        "未按规定开展自行监测",
        "未批先建，建设项目环境影响评价文件未经批准擅自开工建设",
        "危险废物贮存不规范",
    ),
    "ENV-PENALTY-SERIOUS": (
        "通过暗管逃避监管的方式排放水污染物，按日连续处罚",
        "篡改、伪造自动监测数据",
    ),
    "ENV-MAJOR-INCIDENT": (
        "造成较大突发环境事件",
        "违法排放导致饮用水水源污染事件",
    ),
    "FOOD-PENALTY-GENERAL": (
        "经营超过保质期的食品",
        "未取得食品经营许可从事食品经营活动",
        "从业人员未取得健康证明从事接触直接入口食品的工作",
    ),
    "FOOD-PENALTY-SERIOUS": (
        "生产经营添加非食用物质的食品，吊销许可证",
        "用回收食品作为原料生产食品",
    ),
    "DRUG-PENALTY-SERIOUS": (
        "生产销售假药",
        "未遵守药品生产质量管理规范，情节严重",
    ),
    "LAB-WAGE-ARREARS": (
        "克扣、无故拖欠劳动者劳动报酬，数额较大，列入拖欠农民工工资失信联合惩戒对象名单",
    ),
    "LAB-PENALTY-GENERAL": (
        "未按规定为劳动者缴纳社会保险费",
        "违反工作时间和休息休假规定延长劳动者工作时间",
    ),
    "SAFE-PENALTY-GENERAL": (
        "未按规定对从业人员进行安全生产教育和培训",
        "未对重大危险源登记建档",
        "特种作业人员未按规定取得相应资格上岗作业",
    ),
    "SAFE-SERIOUS-DISHONEST": ("发生较大生产安全事故负有责任，列入安全生产严重失信主体名单",),
    "PROC-DEBARMENT": (
        "提供虚假材料谋取中标，禁止参加政府采购活动",
        "与其他供应商恶意串通投标",
    ),
    "CONS-PENALTY-GENERAL": (
        "未取得施工许可证擅自施工",
        "违法分包工程",
        "未按照工程建设强制性标准施工",
    ),
    "CUS-PENALTY-GENERAL": (
        "申报不实，影响国家税款征收",
        "未按规定办理进出口货物报关手续",
    ),
    "CUS-AEO-ADVANCED": ("经海关认证为高级认证企业（AEO）",),
    "JUD-DEBTOR-G1": ("有履行能力而拒不履行生效法律文书确定义务",),
    "JUD-DEBTOR-G2": ("以伪造证据、暴力、威胁等方法妨碍、抗拒执行",),
    "JUD-DEBTOR-G3": ("以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",),
    "JUD-DEBTOR-G4": ("违反财产报告制度",),
    "JUD-DEBTOR-G5": ("违反限制消费令",),
    "JUD-DEBTOR-G6": ("无正当理由拒不履行执行和解协议",),
    "JUD-CONSUMPTION-RESTRICTION": (
        "未按执行通知书指定的期间履行生效法律文书确定的给付义务，限制消费",
    ),
    "FIN-PENALTY-GENERAL": (
        "贷款业务严重违反审慎经营规则",
        "违规销售理财产品",
    ),
    "STAT-FRAUD-SERIOUS": ("提供不真实统计资料，情节严重，认定为统计严重失信企业",),
    "TOUR-PENALTY-GENERAL": (
        "未经许可经营旅行社业务",
        "以不合理的低价组织旅游活动",
    ),
    "HON-COMMENDATION": (
        "被评为诚信示范企业",
        "社会信用体系建设先进单位",
        "守信激励对象",
    ),
}
