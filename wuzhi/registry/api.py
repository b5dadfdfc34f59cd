"""REST API for the registry: areas, dwellings, tags, households, residents, visits.

Scoping, error translation and the create/update plumbing live in wuzhi.core.api.ScopedViewSet;
this module says, per resource, which rows to join (no N+1), which filters exist and which
service performs each write."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from wuzhi.core import services as core_services
from wuzhi.core.api import (
    ScopedViewSet,
    ServiceCreateMixin,
    ServiceUpdateMixin,
    client_ip,
    resolve_area,
)
from wuzhi.core.models import Area
from wuzhi.core.roles import Action
from wuzhi.core.validators import normalize_text

from . import choices as c
from . import selectors, services
from . import serializers as s
from .models import Dwelling, Household, Resident, ResidentTag, Tag, Visit

_ERRORS = {
    400: OpenApiResponse(description="字段校验失败:{字段名: [中文说明]}"),
    403: OpenApiResponse(description="可以查看但无权执行此操作"),
    404: OpenApiResponse(description="记录不存在或不在您的管辖范围内"),
}
_STALE = {409: OpenApiResponse(description="version 已过期:记录已被他人修改,请重新读取")}


def _write_docs(read: type, noun: str, *, update: bool = True) -> dict[str, Any]:
    """extend_schema_view arguments documenting the error answers of service-backed writes."""
    docs: dict[str, Any] = {"create": extend_schema(summary=f"新建{noun}", responses={201: read, **_ERRORS})}
    if update:
        for name in ("update", "partial_update"):
            docs[name] = extend_schema(
                summary=f"修改{noun}(只改提交的字段,必须带 version)", responses={200: read, **_ERRORS, **_STALE}
            )
    return docs


def _tag_prefetch(lookup: str = "tags") -> Prefetch:
    # Names and ids are all the serializers read.
    return Prefetch(lookup, queryset=Tag.objects.only("id", "name", "sort"))


@extend_schema_view(
    list=extend_schema(summary="区域列表(仅本人管辖范围内)"),
    **_write_docs(s.AreaSerializer, "区域"),
)
class AreaViewSet(ServiceCreateMixin, ServiceUpdateMixin, ScopedViewSet):
    """区域树:县、乡镇、社区、网格、楼栋、单元。"""

    scoped_model = Area
    serializer_class = s.AreaSerializer
    create_serializer_class = s.AreaCreateSerializer
    update_serializer_class = s.AreaUpdateSerializer
    query_serializer_class = s.AreaFilterSerializer
    keyset_ordering = ["path"]  # unique, and lists a subtree depth-first
    action_permissions = {"create": Action.MANAGE_AREAS, "update": Action.MANAGE_AREAS,
                          "partial_update": Action.MANAGE_AREAS}
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def apply_filters(self, queryset: QuerySet[Area], params: dict[str, Any]) -> QuerySet[Area]:
        if "parent" in params:
            queryset = queryset.filter(parent_id=params["parent"])
        if params.get("kind"):
            queryset = queryset.filter(kind=params["kind"])
        return queryset

    def perform_service_create(self, data: dict[str, Any]) -> Area:
        return core_services.area_create(
            actor=self.request.user, parent=data["parent"], segment=data["segment"], name=data["name"],
            sort=data.get("sort", 0), floors=data.get("floors"), note=data.get("note", ""),
        )

    def perform_service_update(self, instance: Area, data: dict[str, Any]) -> Area:
        # area_update takes every editable field; fields not sent keep their value.
        return core_services.area_update(
            actor=self.request.user, area=instance, name=data.get("name", instance.name),
            sort=data.get("sort", instance.sort), floors=data.get("floors", instance.floors),
            note=data.get("note", instance.note), version=data["version"],
        )


@extend_schema_view(list=extend_schema(summary="户室列表"), retrieve=extend_schema(summary="户室详情"))
class DwellingViewSet(ScopedViewSet):
    """户室(只读;户室随楼栋一起维护)。"""

    scoped_model = Dwelling
    serializer_class = s.DwellingSerializer
    query_serializer_class = s.DwellingFilterSerializer
    keyset_ordering = ["area_path", "floor", "number", "id"]

    def optimize(self, qs: QuerySet[Dwelling]) -> QuerySet[Dwelling]:
        return qs.select_related("unit")

    def apply_filters(self, queryset: QuerySet[Dwelling], params: dict[str, Any]) -> QuerySet[Dwelling]:
        if "unit" in params:
            queryset = queryset.filter(unit_id=params["unit"])
        if params.get("area"):
            queryset = queryset.filter(area_path__startswith=resolve_area(self.request.user, params["area"]).path)
        if params.get("occupancy"):
            queryset = queryset.filter(occupancy=params["occupancy"])
        return queryset


@extend_schema_view(list=extend_schema(summary="标签列表"), retrieve=extend_schema(summary="标签详情"))
class TagViewSet(ScopedViewSet):
    """标签(只读代码表)。"""

    scoped_model = Tag
    scope_free = True  # a code list: no area, no personal data
    serializer_class = s.TagSerializer
    query_serializer_class = s.TagFilterSerializer
    keyset_ordering = ["sort", "name", "id"]

    def apply_filters(self, queryset: QuerySet[Tag], params: dict[str, Any]) -> QuerySet[Tag]:
        if params.get("applies_to"):
            queryset = queryset.filter(applies_to=params["applies_to"])
        return queryset


@extend_schema_view(
    list=extend_schema(summary="户列表"), retrieve=extend_schema(summary="户详情"),
    **_write_docs(s.HouseholdSerializer, "户"),
)
class HouseholdViewSet(ServiceCreateMixin, ServiceUpdateMixin, ScopedViewSet):
    """户:按楼栋、单元、房号排序。"""

    scoped_model = Household
    serializer_class = s.HouseholdSerializer
    create_serializer_class = s.HouseholdCreateSerializer
    update_serializer_class = s.HouseholdUpdateSerializer
    query_serializer_class = s.HouseholdFilterSerializer
    keyset_ordering = ["address_key", "id"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def optimize(self, qs: QuerySet[Household]) -> QuerySet[Household]:
        return qs.select_related("area", "head").prefetch_related(_tag_prefetch())

    def apply_filters(self, queryset: QuerySet[Household], params: dict[str, Any]) -> QuerySet[Household]:
        q = normalize_text(params.get("q", "")).replace(" ", "")
        if q:
            queryset = queryset.filter(Q(address__contains=q) | Q(number__contains=q))
        if params.get("area"):
            queryset = queryset.filter(area_path__startswith=resolve_area(self.request.user, params["area"]).path)
        if params.get("status"):
            queryset = queryset.filter(status=params["status"])
        if params.get("tag"):
            # 低保户 is a household tag, 独居老人 a person tag: a household matches either way.
            ids = selectors.descendant_tag_ids(params["tag"])
            member_tagged = ResidentTag.objects.filter(
                resident__household=OuterRef("pk"), resident__status=c.PersonStatus.PRESENT, tag_id__in=ids
            )
            own_tagged = Household.tags.through.objects.filter(household=OuterRef("pk"), tag_id__in=ids)
            queryset = queryset.filter(Exists(own_tagged) | Exists(member_tagged))
        return queryset

    def perform_service_create(self, data: dict[str, Any]) -> Household:
        fields = {k: v for k, v in data.items() if k in services.HOUSEHOLD_FIELDS}
        return services.household_create(
            actor=self.request.user, dwelling=data.get("dwelling"), area=data.get("area"),
            number=data.get("number", ""), **fields,
        )

    def perform_service_update(self, instance: Household, data: dict[str, Any]) -> Household:
        fields = {k: v for k, v in data.items() if k in services.HOUSEHOLD_FIELDS}
        return services.household_update(
            actor=self.request.user, household=instance, version=data["version"], dwelling=data.get("dwelling"),
            head=data.get("head"), tags=data.get("tag_ids"), **fields,
        )


@extend_schema_view(
    list=extend_schema(summary="人员列表与搜索"), retrieve=extend_schema(summary="人员详情"),
    **_write_docs(s.ResidentSerializer, "人员"),
)
class ResidentViewSet(ServiceCreateMixin, ServiceUpdateMixin, ScopedViewSet):
    """人员:证件号和电话只显示脱敏值,完整值通过 reveal 查看并留痕。"""

    scoped_model = Resident
    serializer_class = s.ResidentSerializer
    create_serializer_class = s.ResidentCreateSerializer
    update_serializer_class = s.ResidentUpdateSerializer
    query_serializer_class = s.ResidentFilterSerializer
    keyset_ordering = ["id"]
    action_permissions = {"reveal": Action.REVEAL}
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def optimize(self, qs: QuerySet[Resident]) -> QuerySet[Resident]:
        return qs.select_related("household__area").prefetch_related(_tag_prefetch())

    def apply_filters(self, queryset: QuerySet[Resident], params: dict[str, Any]) -> QuerySet[Resident]:
        # The same filter object as the HTML list, so the page and the API find the same people;
        # the API's default is every status, not only 在住 (a client syncing the registry needs all).
        area = resolve_area(self.request.user, params["area"]) if params.get("area") else None
        flt = selectors.ResidentFilter(
            q=params.get("q", ""), area=area, tag_ids=params.get("tag") or None,
            age_min=params.get("age_min"), age_max=params.get("age_max"),
            status=params.get("status", ""), sex=params.get("sex", ""),
        )
        queryset = flt.apply(queryset)
        if "household" in params:
            queryset = queryset.filter(household_id=params["household"])
        return queryset

    def perform_service_create(self, data: dict[str, Any]) -> Resident:
        fields = {k: v for k, v in data.items() if k in services.RESIDENT_FIELDS}
        return services.resident_create(
            actor=self.request.user, household=data["household"], name=data["name"], id_number=data["id_number"],
            phone=data.get("phone", ""), landline=data.get("landline", ""), tags=data.get("tag_ids", ()), **fields,
        )

    def perform_service_update(self, instance: Resident, data: dict[str, Any]) -> Resident:
        fields = {k: v for k, v in data.items() if k in services.RESIDENT_FIELDS}
        # None tells the service "unchanged"; an empty phone/landline string clears it.
        return services.resident_update(
            actor=self.request.user, resident=instance, version=data["version"], name=data.get("name"),
            id_number=data.get("id_number"), phone=data.get("phone"), landline=data.get("landline"),
            tags=data.get("tag_ids"), **fields,
        )

    @extend_schema(
        summary="查看完整证件号或电话(记入访问记录)",
        request=s.RevealRequestSerializer,
        responses={200: s.RevealResultSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: str | None = None) -> Response:
        resident = self.get_object()  # 404 outside the view scope, 403 without REVEAL
        params = s.RevealRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        field = params.validated_data["field"]
        value = services.reveal(actor=request.user, resident=resident, field=field, ip=client_ip(request))
        response = Response({"field": field, "value": value})
        response["Cache-Control"] = "no-store"  # a clear ID number must not sit in a proxy or browser cache
        return response


@extend_schema_view(
    list=extend_schema(summary="走访记录列表(最新在前)"), retrieve=extend_schema(summary="走访记录详情"),
    **_write_docs(s.VisitSerializer, "走访记录", update=False),
)
class VisitViewSet(ServiceCreateMixin, ScopedViewSet):
    """走访记录:记录后不可修改。"""

    scoped_model = Visit
    serializer_class = s.VisitSerializer
    create_serializer_class = s.VisitCreateSerializer
    query_serializer_class = s.VisitFilterSerializer
    keyset_ordering = ["-visited_at", "-id"]
    # Creating needs no lookup, so this only documents the rule; visit_record enforces VISIT on the
    # household's area (403 with the service's message).
    action_permissions = {"create": Action.VISIT}

    def optimize(self, qs: QuerySet[Visit]) -> QuerySet[Visit]:
        return qs.select_related("household").prefetch_related(
            "visitors", Prefetch("residents", queryset=Resident.objects.only("id", "name"))
        )

    def apply_filters(self, queryset: QuerySet[Visit], params: dict[str, Any]) -> QuerySet[Visit]:
        if "household" in params:
            queryset = queryset.filter(household_id=params["household"])
        if params.get("area"):
            queryset = queryset.filter(area_path__startswith=resolve_area(self.request.user, params["area"]).path)
        return queryset

    def perform_service_create(self, data: dict[str, Any]) -> Visit:
        return services.visit_record(
            actor=self.request.user, household=data["household"], findings=data["findings"],
            visitors=data.get("visitors", ()), residents=data.get("residents", ()),
            visited_at=data.get("visited_at"), kind=data.get("kind", c.VisitKind.HOME),
            follow_up_needed=data.get("follow_up_needed", False), follow_up_note=data.get("follow_up_note", ""),
        )


def register(router: Any) -> None:
    router.register("areas", AreaViewSet, basename="area")
    router.register("dwellings", DwellingViewSet, basename="dwelling")
    router.register("tags", TagViewSet, basename="tag")
    router.register("households", HouseholdViewSet, basename="household")
    router.register("residents", ResidentViewSet, basename="resident")
    router.register("visits", VisitViewSet, basename="visit")
