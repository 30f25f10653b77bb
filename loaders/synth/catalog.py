"""Static vocabulary of the synthetic economy: regions, industries, items, supply chains, names.

Everything here is plain data; the generator draws from it with a seeded numpy Generator.
"""

from __future__ import annotations

from dataclasses import dataclass

# (city, 6-digit administrative code, relative weight)
REGIONS: tuple[tuple[str, str, float], ...] = (
    ("厦门", "350200", 6), ("福州", "350100", 4), ("泉州", "350500", 4), ("上海", "310100", 10),
    ("北京", "110100", 9), ("广州", "440100", 8), ("深圳", "440300", 9), ("杭州", "330100", 6),
    ("宁波", "330200", 4), ("南京", "320100", 5), ("苏州", "320500", 6), ("成都", "510100", 5),
    ("武汉", "420100", 5), ("重庆", "500100", 5), ("天津", "120100", 4), ("青岛", "370200", 4),
    ("济南", "370100", 3), ("郑州", "410100", 4), ("西安", "610100", 3), ("长沙", "430100", 3),
)

DISTRICTS = ("高新区", "经开区", "自贸区", "临港新区", "工业园区", "湖里区", "滨海新区", "城南区", "城北区", "东区")
ROADS = ("创新路", "建设路", "人民路", "解放路", "工业大道", "长江路", "滨海大道", "科技园路", "金融街",
         "中山路", "和平路", "兴业路", "港口路", "物流园路", "商贸大道")
BANKS = ("中国工商银行", "中国建设银行", "中国农业银行", "中国银行", "交通银行", "招商银行", "兴业银行",
         "中信银行", "浦发银行", "民生银行")

# VAT categories: rate in basis points before 2018-05-01, 2018-05-01..2019-03-31, from 2019-04-01
CATEGORY_RATES: dict[str, tuple[int, int, int]] = {
    "goods": (1700, 1600, 1300),   # 货物, 加工修理修配
    "low": (1100, 1000, 900),      # 农产品, 交通运输, 建筑, 不动产
    "service": (600, 600, 600),    # 现代服务
}


@dataclass(frozen=True)
class Item:
    code: str          # 19-digit 税收分类编码
    name: str
    category: str      # key of CATEGORY_RATES


@dataclass(frozen=True)
class Industry:
    key: str
    name: str                       # industry as written in the taxpayer register
    name_words: tuple[str, ...]     # the business word in company names
    items: tuple[Item, ...]
    mu: float                       # log-normal amount (yuan): log-median
    sigma: float
    customers: tuple[tuple[str, float], ...]   # which industries buy from this one (supply chain)
    share: float                    # share of taxpayers


def _i(code: str, name: str, cat: str) -> Item:
    return Item(code.ljust(19, "0"), name, cat)


INDUSTRIES: tuple[Industry, ...] = (
    Industry("steel", "黑色金属冶炼和压延加工业", ("钢铁", "金属材料", "钢材"),
             (_i("10802010", "螺纹钢", "goods"), _i("10802020", "热轧卷板", "goods"), _i("10802030", "冷轧薄板", "goods")),
             10.6, 1.0, (("machinery", 3), ("construction", 4), ("wholesale", 2)), 0.05),
    Industry("chemicals", "化学原料和化学制品制造业", ("化工", "化学材料", "精细化工"),
             (_i("10701010", "聚乙烯", "goods"), _i("10701020", "甲醇", "goods"), _i("10701030", "工业盐酸", "goods")),
             10.2, 1.0, (("plastics", 4), ("textiles", 2), ("pharma", 2), ("wholesale", 1)), 0.05),
    Industry("plastics", "橡胶和塑料制品业", ("塑料制品", "塑胶", "包装材料"),
             (_i("10704010", "塑料包装袋", "goods"), _i("10704020", "PVC管材", "goods")),
             9.6, 0.9, (("food", 3), ("retail", 3), ("construction", 2), ("electronics", 1)), 0.06),
    Industry("machinery", "通用设备制造业", ("机械", "机电设备", "精密机械"),
             (_i("10901010", "数控机床", "goods"), _i("10901020", "液压泵", "goods"), _i("10901030", "滚动轴承", "goods")),
             10.8, 1.1, (("construction", 2), ("logistics", 2), ("food", 1), ("steel", 1), ("textiles", 1)), 0.07),
    Industry("construction", "土木工程建筑业", ("建设工程", "建筑工程", "市政工程"),
             (_i("30501010", "建筑服务", "low"), _i("30501020", "工程施工", "low")),
             11.4, 1.1, (("realestate", 5), ("retail", 1), ("food", 1)), 0.07),
    Industry("realestate", "房地产业", ("置业", "房地产开发", "地产"),
             (_i("30601010", "不动产销售", "low"), _i("30601020", "不动产租赁", "low")),
             11.0, 1.2, (("retail", 2), ("software", 1), ("consulting", 1), ("food", 1)), 0.04),
    Industry("electronics", "计算机、通信和其他电子设备制造业", ("电子", "电子科技", "光电"),
             (_i("10906010", "集成电路", "goods"), _i("10906020", "印刷电路板", "goods"), _i("10906030", "液晶显示模组", "goods")),
             10.4, 1.0, (("machinery", 2), ("retail", 2), ("software", 1), ("wholesale", 2)), 0.07),
    Industry("software", "软件和信息技术服务业", ("软件", "信息技术", "网络科技"),
             (_i("30401010", "软件开发服务", "service"), _i("30401020", "信息技术服务", "service")),
             10.0, 1.0, (("retail", 2), ("machinery", 1), ("realestate", 1), ("logistics", 1), ("pharma", 1),
                         ("food", 1), ("consulting", 1)), 0.08),
    Industry("logistics", "道路运输业", ("物流", "供应链", "运输"),
             (_i("30301010", "道路货物运输服务", "low"), _i("30301020", "仓储服务", "service")),
             9.2, 0.9, (("steel", 1), ("chemicals", 1), ("food", 2), ("retail", 2), ("wholesale", 2), ("machinery", 1)),
             0.08),
    Industry("food", "食品制造业", ("食品", "粮油", "食品科技"),
             (_i("10301010", "大米", "low"), _i("10301020", "食用植物油", "low"), _i("10301030", "糕点", "goods")),
             9.4, 0.9, (("retail", 5), ("wholesale", 3)), 0.09),
    Industry("wholesale", "批发业", ("商贸", "贸易", "实业"),
             (_i("10601010", "日用百货", "goods"), _i("10601020", "办公用品", "goods"), _i("10601030", "五金交电", "goods")),
             9.8, 1.1, (("retail", 5), ("construction", 1), ("food", 1)), 0.12),
    Industry("retail", "零售业", ("百货", "超市", "商行"),
             (_i("10602010", "预包装食品", "goods"), _i("10602020", "日用品", "goods")),
             8.6, 0.9, (("consulting", 1), ("software", 1), ("realestate", 1), ("logistics", 1)), 0.12),
    Industry("textiles", "纺织服装服饰业", ("纺织", "服饰", "制衣"),
             (_i("10401010", "棉纱", "goods"), _i("10401020", "针织面料", "goods"), _i("10401030", "服装", "goods")),
             9.8, 1.0, (("retail", 4), ("wholesale", 3)), 0.06),
    Industry("pharma", "医药制造业", ("医药", "生物科技", "药业"),
             (_i("10702010", "中成药", "goods"), _i("10702020", "医疗器械", "goods")),
             10.4, 1.0, (("retail", 4), ("wholesale", 3)), 0.03),
    Industry("consulting", "商务服务业", ("咨询", "企业管理", "会展服务"),
             (_i("30402010", "企业管理咨询", "service"), _i("30402020", "会议服务", "service")),
             9.6, 1.0, (("realestate", 1), ("software", 1), ("machinery", 1), ("pharma", 1), ("retail", 1),
                        ("steel", 1)), 0.05),
)

INDUSTRY_INDEX = {ind.key: i for i, ind in enumerate(INDUSTRIES)}
ITEMS: tuple[Item, ...] = tuple(it for ind in INDUSTRIES for it in ind.items)
#: index into ITEMS of each industry's first item, and its item count
ITEM_START: tuple[int, ...] = tuple(sum(len(INDUSTRIES[j].items) for j in range(i)) for i in range(len(INDUSTRIES)))
ITEM_COUNT: tuple[int, ...] = tuple(len(ind.items) for ind in INDUSTRIES)

BRAND_FIRST = "恒华鑫宏金永瑞嘉天海中盛博汇凯润聚东新鼎银万隆正同远兴长和福明广锦信德宝荣泰"
BRAND_SECOND = "信泰源达鼎盛丰禾元纳联世远通达泽宝方锐昌河象基创航业城顺瑞辉成程鑫胜和邦旺"
SUFFIXES = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力斌志宇鹏飞婷雪琳晨浩"
