"""Code lists used by the registry, in the words community workers use on their forms."""

from django.db import models
from django.utils.translation import gettext_lazy as _

ETHNICITIES = [
    "汉族", "蒙古族", "回族", "藏族", "维吾尔族", "苗族", "彝族", "壮族", "布依族", "朝鲜族", "满族", "侗族",
    "瑶族", "白族", "土家族", "哈尼族", "哈萨克族", "傣族", "黎族", "傈僳族", "佤族", "畲族", "高山族",
    "拉祜族", "水族", "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族", "达斡尔族", "仫佬族", "羌族",
    "布朗族", "撒拉族", "毛南族", "仡佬族", "锡伯族", "阿昌族", "普米族", "塔吉克族", "怒族", "乌孜别克族",
    "俄罗斯族", "鄂温克族", "德昂族", "保安族", "裕固族", "京族", "塔塔尔族", "独龙族", "鄂伦春族", "赫哲族",
    "门巴族", "珞巴族", "基诺族",
]
Ethnicity = models.TextChoices("Ethnicity", [(e, e) for e in ETHNICITIES])  # type: ignore[misc,call-overload]


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class Relation(models.TextChoices):
    HEAD = "户主", "户主"
    SPOUSE = "配偶", "配偶"
    SON = "子", "子"
    DAUGHTER = "女", "女"
    PARENT = "父母", "父母"
    GRANDCHILD = "孙子女", "孙子女"
    SIBLING = "兄弟姐妹", "兄弟姐妹"
    CHILD_IN_LAW = "儿媳/女婿", "儿媳/女婿"
    GRANDPARENT = "祖父母", "祖父母"
    OTHER = "其他", "其他"


class Education(models.TextChoices):
    NONE = "文盲或半文盲", "文盲或半文盲"
    PRESCHOOL = "学龄前", "学龄前"
    PRIMARY = "小学", "小学"
    JUNIOR = "初中", "初中"
    SENIOR = "高中/中专", "高中/中专"
    COLLEGE = "大专", "大专"
    BACHELOR = "本科", "本科"
    POSTGRAD = "研究生", "研究生"


class Employment(models.TextChoices):
    LOCAL = "本地就业", "本地就业"
    WORKSHOP = "帮扶车间", "帮扶车间"
    MIGRANT = "外出务工", "外出务工"
    SELF = "自主创业", "自主创业"
    PUBLIC_POST = "公益性岗位", "公益性岗位"
    FARMING = "务农", "务农"
    UNEMPLOYED = "失业/待业", "失业/待业"
    STUDENT = "在校学生", "在校学生"
    RETIRED = "退休", "退休"
    UNABLE = "无劳动能力", "无劳动能力"
    CHILD = "学龄前儿童", "学龄前儿童"


class Health(models.TextChoices):
    HEALTHY = "健康", "健康"
    CHRONIC = "慢性病", "慢性病"
    SERIOUS = "大病", "大病"
    DISABLED = "残疾", "残疾"


class Disability(models.TextChoices):
    SIGHT = "视力", "视力残疾"
    HEARING = "听力", "听力残疾"
    SPEECH = "言语", "言语残疾"
    LIMB = "肢体", "肢体残疾"
    INTELLECT = "智力", "智力残疾"
    MENTAL = "精神", "精神残疾"
    MULTIPLE = "多重", "多重残疾"


class DisabilityGrade(models.TextChoices):
    ONE = "一级", "一级"
    TWO = "二级", "二级"
    THREE = "三级", "三级"
    FOUR = "四级", "四级"


class Political(models.TextChoices):
    CPC = "中共党员", "中共党员"
    CPC_PROBATION = "中共预备党员", "中共预备党员"
    CYL = "共青团员", "共青团员"
    DEMOCRATIC = "民主党派", "民主党派"
    MASSES = "群众", "群众"


class Residence(models.TextChoices):
    """户籍 vs 常住: whether the registration and the actual residence are both here."""

    BOTH = "户在人在", "户在人在"
    REGISTERED_AWAY = "户在人不在", "户在人不在"
    LIVES_ONLY = "人在户不在", "人在户不在"


class PersonStatus(models.TextChoices):
    PRESENT = "在住", "在住"
    MOVED_OUT = "迁出", "迁出"
    DECEASED = "死亡", "死亡"
    CANCELLED = "注销", "注销"


class HouseholdStatus(models.TextChoices):
    PRESENT = "在住", "在住"
    MOVED_OUT = "迁出", "迁出"
    CANCELLED = "注销", "注销"


class Occupancy(models.TextChoices):
    EMPTY = "空置", "空置"
    OWNER = "自住", "自住"
    RENTED = "出租", "出租"


class VisitKind(models.TextChoices):
    HOME = "入户走访", "入户走访"
    PHONE = "电话联系", "电话联系"
    VIDEO = "视频联系", "视频联系"
    MEETING = "上门服务", "上门服务"
