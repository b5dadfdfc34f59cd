"""API shapes for the registry. Read serializers show what a worker sees on the pages: masked ID
and phone numbers, never ciphertexts or blind-index digests. Write serializers only validate the
shape of a request; the viewsets hand `validated_data` to the services, which are the only code
that writes (serializer.save() is never called)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from wuzhi.core.api import ApiModelSerializer, ApiSerializer, ScopedPrimaryKeyRelatedField, id_param
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can

from . import choices as c
from .models import Dwelling, Household, Resident, Tag, Visit
from .services import HOUSEHOLD_FIELDS, RESIDENT_FIELDS, SENSITIVE

# ---- read ------------------------------------------------------------------------------------


class AreaSerializer(ApiModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Area
        fields = ["id", "parent", "kind", "kind_display", "segment", "code", "path", "depth", "name",
                  "full_name", "sort", "floors", "note", "version"]
        read_only_fields = fields


class DwellingSerializer(ApiModelSerializer):
    unit_name = serializers.CharField(source="unit.full_name", read_only=True)

    class Meta:
        model = Dwelling
        fields = ["id", "unit", "unit_name", "floor", "number", "occupancy", "area_m2", "area_path"]
        read_only_fields = fields


class TagSerializer(ApiModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "parent", "applies_to", "visit_interval_days", "color", "sort"]
        read_only_fields = fields


class HouseholdSerializer(ApiModelSerializer):
    area_code = serializers.CharField(source="area.code", read_only=True)
    area_name = serializers.CharField(source="area.full_name", read_only=True)
    head_name = serializers.CharField(source="head.name", read_only=True, allow_null=True)
    tags: serializers.SlugRelatedField[Tag] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name", help_text="户标签名称")
    tag_ids: serializers.PrimaryKeyRelatedField[Tag] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, source="tags")

    class Meta:
        model = Household
        fields = ["id", "number", "address", "dwelling", "area", "area_code", "area_name", "area_path", "head",
                  "head_name", *HOUSEHOLD_FIELDS, "tags", "tag_ids", "last_visited_at", "version",
                  "created_at", "updated_at"]
        read_only_fields = fields


class ResidentSerializer(ApiModelSerializer):
    """Identity numbers appear masked only; the full value needs POST …/reveal/ (logged)."""

    household_number = serializers.CharField(source="household.number", read_only=True)
    address = serializers.CharField(source="household.address", read_only=True)
    area_name = serializers.CharField(source="household.area.full_name", read_only=True)
    age = serializers.IntegerField(read_only=True, help_text="周岁,按今天计算")
    tags: serializers.SlugRelatedField[Tag] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name", help_text="标签名称")
    tag_ids: serializers.PrimaryKeyRelatedField[Tag] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, source="tags")

    class Meta:
        model = Resident
        fields = ["id", "household", "household_number", "address", "area_path", "area_name", "name",
                  "id_number_masked", "phone_masked", "landline_masked", "birth_date", "sex", "age",
                  *RESIDENT_FIELDS, "tags", "tag_ids", "version", "created_at", "updated_at"]
        read_only_fields = fields


class PersonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.SerializerMethodField()

    def get_name(self, obj: Any) -> str:
        # Users show their real name where they have one (first_name holds 王网格 in this project).
        if isinstance(obj, Resident):
            return obj.name
        return obj.get_full_name() or obj.get_username()


class VisitSerializer(ApiModelSerializer):
    household_address = serializers.CharField(source="household.address", read_only=True)
    visitors = PersonRefSerializer(many=True, read_only=True)
    residents = PersonRefSerializer(many=True, read_only=True)

    class Meta:
        model = Visit
        fields = ["id", "household", "household_address", "area_path", "visited_at", "kind", "findings",
                  "follow_up_needed", "follow_up_note", "visitors", "residents", "created_by", "created_at"]
        read_only_fields = fields


# ---- write -----------------------------------------------------------------------------------

def _tag_ids_field(applies_to: str) -> serializers.PrimaryKeyRelatedField:
    return serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Tag.objects.filter(applies_to=applies_to),
        help_text="标签 id 列表;修改时为完整的新列表(未列出的标签会被移除)",
        error_messages={"does_not_exist": "标签“{pk_value}”不存在或不适用于此类记录"},
    )


class VersionedUpdateSerializer(ApiModelSerializer):
    """Updates change only the fields sent, and must carry the `version` they were read at
    (optimistic lock: a stale version is a 409, never a silent overwrite)."""

    version = serializers.IntegerField(min_value=1, help_text="读取时得到的 version;已被他人修改时返回 409")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "version":
                field.required = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # PATCH skips `required`, but an update without its version must not pass.
        if "version" not in attrs:
            raise serializers.ValidationError({"version": ["请提供 version(读取记录时得到的版本号),以免覆盖他人的修改"]})
        return attrs


class AreaCreateSerializer(ApiModelSerializer):
    # A field called `parent` shadows Field.parent only for type checkers: the serializer metaclass
    # moves declared fields off the class.
    parent = ScopedPrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Area.objects.all(), help_text="上级区域 id;层级由上级决定")

    class Meta:
        model = Area
        fields = ["parent", "segment", "name", "sort", "floors", "note"]

    def validate_parent(self, parent: Area) -> Area:
        # The tree ends at the unit; core.services.area_create would fail with a KeyError there.
        if parent.kind == AreaKind.UNIT:
            raise serializers.ValidationError("单元下不能再建立下级区域")
        return parent


class AreaUpdateSerializer(VersionedUpdateSerializer):
    class Meta:
        model = Area
        fields = ["version", "name", "sort", "floors", "note"]


class HouseholdCreateSerializer(ApiModelSerializer):
    dwelling = ScopedPrimaryKeyRelatedField(queryset=Dwelling.objects.all(), required=False, allow_null=True,
                                            help_text="户室 id(与 area 二选一)")
    area = ScopedPrimaryKeyRelatedField(queryset=Area.objects.all(), required=False, allow_null=True,
                                        help_text="没有户室时的所在区域 id(与 dwelling 二选一)")
    number = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                   help_text="户编号;不填则按社区自动编号")

    class Meta:
        model = Household
        fields = ["dwelling", "area", "number", *HOUSEHOLD_FIELDS]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("dwelling") is not None and attrs.get("area") is not None:
            raise serializers.ValidationError({"area": ["已选择户室时不必再指定区域"]})
        return attrs


class HouseholdUpdateSerializer(VersionedUpdateSerializer):
    dwelling = ScopedPrimaryKeyRelatedField(queryset=Dwelling.objects.all(), help_text="迁到另一户室")
    head = ScopedPrimaryKeyRelatedField(queryset=Resident.objects.all(), help_text="户主(本户成员)id")
    tag_ids = _tag_ids_field(Tag.AppliesTo.HOUSEHOLD)

    class Meta:
        model = Household
        fields = ["version", "dwelling", "head", *HOUSEHOLD_FIELDS, "tag_ids"]


class ResidentWriteFields(ApiModelSerializer):
    """Identity fields in clear: validated (check digit, duplicates, phone format) by the service,
    which stores them encrypted; they are never echoed back."""

    id_number = serializers.CharField(max_length=32, write_only=True, help_text="18位身份证号(15位旧号自动升位)")
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, write_only=True,
                                  help_text="手机号;空字符串表示清除")
    landline = serializers.CharField(max_length=20, required=False, allow_blank=True, write_only=True,
                                     help_text="座机,带区号;空字符串表示清除")
    tag_ids = _tag_ids_field(Tag.AppliesTo.PERSON)


class ResidentCreateSerializer(ResidentWriteFields):
    household = ScopedPrimaryKeyRelatedField(queryset=Household.objects.all(), help_text="所属户 id")

    class Meta:
        model = Resident
        fields = ["household", "name", "id_number", "phone", "landline", *RESIDENT_FIELDS, "tag_ids"]


class ResidentUpdateSerializer(ResidentWriteFields, VersionedUpdateSerializer):
    class Meta:
        model = Resident
        fields = ["version", "name", "id_number", "phone", "landline", *RESIDENT_FIELDS, "tag_ids"]


class VisitCreateSerializer(ApiModelSerializer):
    household = ScopedPrimaryKeyRelatedField(queryset=Household.objects.all(), help_text="走访的户 id")
    visitors = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=get_user_model().objects.filter(is_active=True),
        help_text="走访人用户 id;不填则为当前用户",
        error_messages={"does_not_exist": "走访人“{pk_value}”不存在或没有在该户所在区域走访的权限"},
    )
    residents = ScopedPrimaryKeyRelatedField(many=True, required=False, queryset=Resident.objects.all(),
                                             help_text="见到的本户成员 id")
    visited_at = serializers.DateTimeField(required=False, help_text="不填则为现在")

    class Meta:
        model = Visit
        fields = ["household", "visited_at", "kind", "findings", "follow_up_needed", "follow_up_note",
                  "visitors", "residents"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The service takes any user as a visitor; the API only lets staff who may record a visit
        # there be named, and answers for other ids exactly as for unknown ones.
        household = attrs["household"]
        for user in attrs.get("visitors", []):
            if not can(user, Action.VISIT, household.area_path):
                raise serializers.ValidationError(
                    {"visitors": [f"走访人“{user.pk}”不存在或没有在该户所在区域走访的权限"]}
                )
        return attrs


class RevealRequestSerializer(ApiSerializer):
    field = serializers.ChoiceField(choices=[(k, label) for k, (_, label) in SENSITIVE.items()],
                                    help_text="要查看完整值的字段")


class RevealResultSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.CharField(help_text="完整值;每次查看都记入敏感信息访问记录")


# ---- list filters (query parameters) ---------------------------------------------------------

class AreaFilterSerializer(serializers.Serializer):
    parent = id_param(required=False, help_text="上级区域 id:只列直接下级")  # type: ignore[assignment]
    kind = serializers.ChoiceField(choices=AreaKind.choices, required=False, help_text="层级")


class DwellingFilterSerializer(serializers.Serializer):
    unit = id_param(required=False, help_text="单元 id")
    area = serializers.CharField(required=False, help_text="区域代码或 id(含下级)")
    occupancy = serializers.ChoiceField(choices=c.Occupancy.choices, required=False, help_text="使用状态")


class TagFilterSerializer(serializers.Serializer):
    applies_to = serializers.ChoiceField(choices=Tag.AppliesTo.choices, required=False, help_text="适用于")


class HouseholdFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, help_text="住址或户编号的一部分")
    area = serializers.CharField(required=False, help_text="区域代码或 id(含下级)")
    status = serializers.ChoiceField(choices=c.HouseholdStatus.choices, required=False, allow_blank=True,
                                     help_text="户状态;不传则不限")
    tag = serializers.ListField(child=id_param(), required=False,
                                help_text="标签 id,可重复;户标签或任一在住成员的标签,含下级标签")


class ResidentFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True,
                              help_text="姓名、拼音(zhangli)或首字母(zl)、证件号或手机号后4位、完整证件号或手机号、住址")
    area = serializers.CharField(required=False, help_text="区域代码或 id(含下级)")
    household = id_param(required=False, help_text="户 id")
    tag = serializers.ListField(child=id_param(), required=False,
                                help_text="标签 id,可重复(任一即可);含下级标签")
    age_min = serializers.IntegerField(required=False, min_value=0, max_value=150, help_text="最小周岁")
    age_max = serializers.IntegerField(required=False, min_value=0, max_value=150, help_text="最大周岁")
    status = serializers.ChoiceField(choices=c.PersonStatus.choices, required=False, allow_blank=True,
                                     help_text="人员状态;不传则不限")
    sex = serializers.ChoiceField(choices=c.Sex.choices, required=False, allow_blank=True, help_text="性别")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("age_min") is not None and attrs.get("age_max") is not None \
                and attrs["age_min"] > attrs["age_max"]:
            raise serializers.ValidationError({"age_max": ["最大年龄不能小于最小年龄"]})
        return attrs


class VisitFilterSerializer(serializers.Serializer):
    household = id_param(required=False, help_text="户 id")
    area = serializers.CharField(required=False, help_text="区域代码或 id(含下级)")
