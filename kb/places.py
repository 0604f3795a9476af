"""Places: the gazetteer of provinces and prefecture-level cities, and the places a text names.

Shared by ingestion (`ingest.metadata.region_of` writes a document's region as "全国", a province
"浙江省" or a province and city "浙江省宁波市") and search (a question that names a place prefers
its rules; `PlaceMatcher`). Pure: strings in, strings out.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kb.chinese import longest_first

NATIONAL = "全国"
# What a question says for the asker's own place (我市有没有…的办法): found as these two names,
# which the searcher reads as the preferred region and its province.
HOME, HOME_PROVINCE = "本地", "本省"
_HOME_WORDS = {word: HOME for word in ("本地", "当地", "本市", "我市", "本县", "我县", "本区", "我区")} | \
    {word: HOME_PROVINCE for word in ("本省", "我省", "省里")}

PROVINCES = ("北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省",
             "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省",
             "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省",
             "甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区",
             "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区")
# Prefecture-level cities, autonomous prefectures, leagues and regions by province: lets a city
# name alone ("成都市信访局") give its province ("四川省成都市").
PREFECTURES = {
    "河北省": "石家庄市 唐山市 秦皇岛市 邯郸市 邢台市 保定市 张家口市 承德市 沧州市 廊坊市 衡水市",
    "山西省": "太原市 大同市 阳泉市 长治市 晋城市 朔州市 晋中市 运城市 忻州市 临汾市 吕梁市",
    "内蒙古自治区": "呼和浩特市 包头市 乌海市 赤峰市 通辽市 鄂尔多斯市 呼伦贝尔市 巴彦淖尔市 乌兰察布市 兴安盟 锡林郭勒盟 阿拉善盟",
    "辽宁省": "沈阳市 大连市 鞍山市 抚顺市 本溪市 丹东市 锦州市 营口市 阜新市 辽阳市 盘锦市 铁岭市 朝阳市 葫芦岛市",
    "吉林省": "长春市 吉林市 四平市 辽源市 通化市 白山市 松原市 白城市 延边朝鲜族自治州",
    "黑龙江省": "哈尔滨市 齐齐哈尔市 鸡西市 鹤岗市 双鸭山市 大庆市 伊春市 佳木斯市 七台河市 牡丹江市 黑河市 绥化市 大兴安岭地区",
    "江苏省": "南京市 无锡市 徐州市 常州市 苏州市 南通市 连云港市 淮安市 盐城市 扬州市 镇江市 泰州市 宿迁市",
    "浙江省": "杭州市 宁波市 温州市 嘉兴市 湖州市 绍兴市 金华市 衢州市 舟山市 台州市 丽水市",
    "安徽省": "合肥市 芜湖市 蚌埠市 淮南市 马鞍山市 淮北市 铜陵市 安庆市 黄山市 滁州市 阜阳市 宿州市 六安市 亳州市 池州市 宣城市",
    "福建省": "福州市 厦门市 莆田市 三明市 泉州市 漳州市 南平市 龙岩市 宁德市",
    "江西省": "南昌市 景德镇市 萍乡市 九江市 新余市 鹰潭市 赣州市 吉安市 宜春市 抚州市 上饶市",
    "山东省": "济南市 青岛市 淄博市 枣庄市 东营市 烟台市 潍坊市 济宁市 泰安市 威海市 日照市 临沂市 德州市 聊城市 滨州市 菏泽市",
    "河南省": "郑州市 开封市 洛阳市 平顶山市 安阳市 鹤壁市 新乡市 焦作市 濮阳市 许昌市 漯河市 三门峡市 南阳市 商丘市 信阳市 周口市 驻马店市 济源市",
    "湖北省": "武汉市 黄石市 十堰市 宜昌市 襄阳市 鄂州市 荆门市 孝感市 荆州市 黄冈市 咸宁市 随州市 恩施土家族苗族自治州 仙桃市 潜江市 天门市",
    "湖南省": "长沙市 株洲市 湘潭市 衡阳市 邵阳市 岳阳市 常德市 张家界市 益阳市 郴州市 永州市 怀化市 娄底市 湘西土家族苗族自治州",
    "广东省": "广州市 韶关市 深圳市 珠海市 汕头市 佛山市 江门市 湛江市 茂名市 肇庆市 惠州市 梅州市 汕尾市 河源市 阳江市 清远市 东莞市 中山市 潮州市 揭阳市 云浮市",
    "广西壮族自治区": "南宁市 柳州市 桂林市 梧州市 北海市 防城港市 钦州市 贵港市 玉林市 百色市 贺州市 河池市 来宾市 崇左市",
    "海南省": "海口市 三亚市 三沙市 儋州市",
    "四川省": "成都市 自贡市 攀枝花市 泸州市 德阳市 绵阳市 广元市 遂宁市 内江市 乐山市 南充市 眉山市 宜宾市 广安市 达州市 雅安市 巴中市 资阳市 阿坝藏族羌族自治州 甘孜藏族自治州 凉山彝族自治州",
    "贵州省": "贵阳市 六盘水市 遵义市 安顺市 毕节市 铜仁市 黔西南布依族苗族自治州 黔东南苗族侗族自治州 黔南布依族苗族自治州",
    "云南省": "昆明市 曲靖市 玉溪市 保山市 昭通市 丽江市 普洱市 临沧市 楚雄彝族自治州 红河哈尼族彝族自治州 文山壮族苗族自治州 西双版纳傣族自治州 大理白族自治州 德宏傣族景颇族自治州 怒江傈僳族自治州 迪庆藏族自治州",
    "西藏自治区": "拉萨市 日喀则市 昌都市 林芝市 山南市 那曲市 阿里地区",
    "陕西省": "西安市 铜川市 宝鸡市 咸阳市 渭南市 延安市 汉中市 榆林市 安康市 商洛市",
    "甘肃省": "兰州市 嘉峪关市 金昌市 白银市 天水市 武威市 张掖市 平凉市 酒泉市 庆阳市 定西市 陇南市 临夏回族自治州 甘南藏族自治州",
    "青海省": "西宁市 海东市 海北藏族自治州 黄南藏族自治州 海南藏族自治州 果洛藏族自治州 玉树藏族自治州 海西蒙古族藏族自治州",
    "宁夏回族自治区": "银川市 石嘴山市 吴忠市 固原市 中卫市",
    "新疆维吾尔自治区": "乌鲁木齐市 克拉玛依市 吐鲁番市 哈密市 昌吉回族自治州 博尔塔拉蒙古自治州 巴音郭楞蒙古自治州 阿克苏地区 克孜勒苏柯尔克孜自治州 喀什地区 和田地区 伊犁哈萨克自治州 塔城地区 阿勒泰地区 石河子市",
}
# How a place's name ends (四川省, 成都市, 武侯区, 某县, 凉山彝族自治州): a title right after one is that
# place's rules (四川省信访条例), not the national text it ends with.
PLACE_ENDS = frozenset("省市县区州")
MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
CITY_PROVINCE = {city: province for province, cities in PREFECTURES.items() for city in cities.split()}
PROVINCE_SHORT = {re.sub(r"(壮族|回族|维吾尔)?(自治区|特别行政区|省|市)$", "", p): p for p in PROVINCES}
# literal alternatives only, anchored: no backtracking beyond the longest name
PROVINCE_AT_START = re.compile("^(" + "|".join(sorted(
    list(PROVINCES) + list(PROVINCE_SHORT), key=len, reverse=True)) + ")")


def province_of(name: str) -> str:
    """"浙江" / "浙江省" / "浙江省宁波市…" → "浙江省"; "" if no province name starts `name`."""
    m = PROVINCE_AT_START.match(name)
    if not m:
        return ""
    return m.group(1) if m.group(1) in PROVINCES else PROVINCE_SHORT[m.group(1)]


def concerns(region: str, place: str) -> bool:
    """Whether rules of `region` are rules of `place`: national ones, the place's own, those of
    the province a city is in (四川省's rules hold in 四川省成都市) and those of the places within
    it (a 成都市 rule is a rule of 四川省)."""
    return region == NATIONAL or (bool(region) and (region.startswith(place) or place.startswith(region)))


# What asks for a place's own rules when it follows the place in the same clause: 上海对重复信访
# 是怎么规定的, 成都有没有物业纠纷调解的办法 — not 去北京上访 nor 我在广东打工. Bounded and lazy
# over one class: at most 31 starts, no backtracking beyond them.
_RULES_AFTER = re.compile(r"[^，,。.？?！!；;\n]{0,30}?(?:规定|条例|办法|细则|政策|法规|规章)")


@dataclass(frozen=True)
class PlaceMention:
    """A place found in a text: its region, its span, and whether the text asks for its rules."""
    region: str
    start: int
    end: int
    asks_for_rules: bool


class PlaceMatcher:
    """Finds the places a text names, as region strings: every province, by its full name or
    without 省/市/自治区 (四川省, 四川 → "四川省"), every city by its full name (达州市 →
    "四川省达州市"), and the cities among `regions` (those of a knowledge base's documents and the
    user's own) also without 市 (成都 → "四川省成都市"). Other cities' short names are not looked
    for: many a one is a word too (开封 "to unseal", 日照 "sunshine"), and only the cities a
    knowledge base has rules of change a search. The asker's own place (本市, 当地, 我省 …) is
    found as `HOME` or `HOME_PROVINCE`.
    Longest name first, left to right, no overlaps; a province beats a city of the same short
    name (吉林).
    """

    def __init__(self, regions: Iterable[str]) -> None:
        names = dict(PROVINCE_SHORT) | _HOME_WORDS
        names.update((p, p) for p in PROVINCES)
        # every city by its full name (达州市, 凉山彝族自治州), which is no other word: a question
        # asking for rules of one the knowledge base has none of is told so
        names.update((city, province + city) for city, province in CITY_PROVINCE.items())
        for region in regions:
            if not region or region == NATIONAL:
                continue
            province = province_of(region)
            city = region[len(province):] if province and region.startswith(province) else region
            names.setdefault(region, region)
            if city:
                names.setdefault(city, region)
                if city.endswith("市") and len(city) > 2:
                    names.setdefault(city[:-1], region)
        self._names = names
        self._lengths = sorted({len(n) for n in names}, reverse=True)

    def find(self, text: str, skip: Sequence[tuple[int, int]] = ()) -> list[PlaceMention]:
        """The places `text` names, in the order of the text; `skip`: spans not to look in (the
        document names found there: 《上海市信访条例》 names a document, not a place)."""
        covered = [False] * len(text)
        for start, end in skip:
            covered[start:end] = [True] * (end - start)
        return [PlaceMention(region, start, end, bool(_RULES_AFTER.match(text, end))) for start, end, region in
                longest_first(text, self._names, self._lengths, lambda start, end: not any(covered[start:end]))]
