"""REST API for cases (诉求、报事、帮办代办、矛盾纠纷): list and read within the user's scope,
open a case (代报), move it along the flow table, 回访. The same services as the pages do every
write, so the API cannot do what a page may not (illegal transitions, stale versions, scope)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from wuzhi.activities.models import Team
from wuzhi.core.api import (
    ApiModelSerializer,
    ApiSerializer,
    ScopedPrimaryKeyRelatedField,
    ScopedViewSet,
    ServiceCreateMixin,
    id_param,
    resolve_area,
)
from wuzhi.core.models import Area
from wuzhi.core.roles import Action
from wuzhi.registry.models import Household

from . import services
from .models import Case, CaseEvent, CaseKind, CaseState, Category, Channel, Satisfaction, Supervision

_ERRORS = {
    400: OpenApiResponse(description="字段校验失败或流程不允许:{字段名: [中文说明]}"),
    403: OpenApiResponse(description="可以查看但无权办理"),
    404: OpenApiResponse(description="事项不存在或不在您的管辖范围内"),
    409: OpenApiResponse(description="version 已过期:事项已被他人办理,请重新读取"),
}


class CategorySerializer(ApiModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True, default="")

    class Meta:
        model = Category
        fields = ["id", "kind", "name", "team", "team_name", "role", "deadline_hours", "checklist", "active"]
        read_only_fields = fields


class CaseEventSerializer(ApiModelSerializer):
    class Meta:
        model = CaseEvent
        fields = ["kind", "from_state", "to_state", "label", "actor_name", "at", "note"]
        read_only_fields = fields


class CaseSerializer(ApiModelSerializer):
    category_name = serializers.CharField(source="category.name", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    team_name = serializers.CharField(source="assigned_team.name", read_only=True, default="")
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "number", "kind", "category", "category_name", "channel", "external_number", "area",
                  "area_name", "area_path", "place", "household", "reporter_name", "reporter_phone_masked",
                  "title", "description", "documents", "state", "assigned_team", "team_name", "assigned_user",
                  "opened_at", "due_at", "resolved_at", "overdue", "supervision", "merged_into", "result",
                  "satisfaction", "version"]
        read_only_fields = fields


    def get_overdue(self, case: Case) -> bool:
        return case.is_overdue()


class CaseDetailSerializer(CaseSerializer):
    events = CaseEventSerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "events"]
        read_only_fields = fields


class CaseCreateSerializer(ApiSerializer):
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.filter(active=True),
                                                  help_text="事项分类 id(决定类型、承办队伍和办理期限)")
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.GRID)
    area = serializers.CharField(help_text="发生地点的区域代码或 id(须在您的管辖范围内)")
    title = serializers.CharField(required=False, allow_blank=True, max_length=64)
    description = serializers.CharField()
    place = serializers.CharField(required=False, allow_blank=True, max_length=64)
    reporter_name = serializers.CharField(required=False, allow_blank=True, max_length=32)
    reporter_phone = serializers.CharField(required=False, allow_blank=True, help_text="用于通知和查询进度,加密保存")
    external_number = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                            help_text="12345 工单号(12345转办时必填)或办事部门受理号")
    household = ScopedPrimaryKeyRelatedField(queryset=Household.objects.all(), required=False, allow_null=True, help_text="反映人的户 id")
    documents = serializers.ListField(child=serializers.CharField(max_length=64), required=False,
                                      help_text="帮办代办已收材料")


class CaseFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=CaseState.choices, required=False)
    kind = serializers.ChoiceField(choices=CaseKind.choices, required=False)
    category = id_param(required=False, help_text="事项分类 id")
    supervision = serializers.ChoiceField(choices=Supervision.choices, required=False)
    area = serializers.CharField(required=False, help_text="区域代码或 id(含下级)")
    team = id_param(required=False, help_text="承办队伍 id")


class TransitionSerializer(ApiSerializer):
    to = serializers.ChoiceField(choices=CaseState.choices, help_text="目标状态(须为流程表允许的下一步)")
    version = serializers.IntegerField(help_text="读取时的 version;已被他人办理则返回 409")
    note = serializers.CharField(required=False, allow_blank=True, default="",
                                 help_text="说明;改派、退回、办结、挂起、并案时必填")
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.filter(active=True), required=False,
                                              allow_null=True, help_text="分派/改派给的队伍 id")
    into = ScopedPrimaryKeyRelatedField(queryset=Case.objects.all(), required=False, allow_null=True,
                                        help_text="并案时的主件 id")


class ReviewSerializer(ApiSerializer):
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices, help_text="不满意将重新办理")
    version = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


@extend_schema_view(list=extend_schema(summary="事项分类列表"), retrieve=extend_schema(summary="事项分类详情"))
class CategoryViewSet(ScopedViewSet):
    """事项分类:类型、承办队伍或角色、办理期限、帮办代办材料清单。"""

    scoped_model = Category
    scope_free = True
    serializer_class = CategorySerializer
    keyset_ordering = ["kind", "sort", "id"]

    def optimize(self, qs: QuerySet[Category]) -> QuerySet[Category]:
        return qs.select_related("team")


@extend_schema_view(
    list=extend_schema(summary="事项列表(最新受理在前,仅本人管辖范围内)"),
    retrieve=extend_schema(summary="事项详情,含办理记录"),
    create=extend_schema(summary="登记事项(受理并按分类自动分派)", request=CaseCreateSerializer,
                         responses={201: CaseDetailSerializer, **_ERRORS}),
)
class CaseViewSet(ServiceCreateMixin, ScopedViewSet):
    """诉求、报事、帮办代办、矛盾纠纷:一条办理流程。"""

    scoped_model = Case
    serializer_class = CaseSerializer
    create_serializer_class = CaseCreateSerializer
    query_serializer_class = CaseFilterSerializer
    keyset_ordering = ["-opened_at", "-id"]
    # Opening is checked by case_open (VISIT or CHANGE on the place); the flow steps need CHANGE,
    # which case_transition checks against the case (its team members may act on it too).
    action_permissions = {"create": Action.VISIT, "transition": Action.VIEW, "review": Action.VIEW}
    http_method_names = ["get", "post", "head", "options"]

    def get_serializer_class(self) -> Any:
        return CaseDetailSerializer if self.action != "list" else CaseSerializer

    def optimize(self, qs: QuerySet[Case]) -> QuerySet[Case]:
        qs = qs.select_related("category", "area", "assigned_team")
        if self.action != "list":
            qs = qs.prefetch_related(Prefetch("events", queryset=CaseEvent.objects.order_by("at", "id")))
        return qs

    def apply_filters(self, queryset: QuerySet[Case], params: dict[str, Any]) -> QuerySet[Case]:
        for field in ("state", "kind", "supervision"):
            if params.get(field):
                queryset = queryset.filter(**{field: params[field]})
        if "category" in params:
            queryset = queryset.filter(category_id=params["category"])
        if "team" in params:
            queryset = queryset.filter(assigned_team_id=params["team"])
        if params.get("area"):
            queryset = queryset.filter(area_path__startswith=resolve_area(self.request.user, params["area"]).path)
        return queryset

    def perform_service_create(self, data: dict[str, Any]) -> Case:
        area: Area = resolve_area(self.request.user, data["area"])
        return services.case_open(
            actor=self.request.user, category=data["category"], channel=data["channel"], area=area,
            description=data["description"], title=data.get("title", ""), place=data.get("place", ""),
            reporter_name=data.get("reporter_name", ""), reporter_phone=data.get("reporter_phone", ""),
            external_number=data.get("external_number", ""), household=data.get("household"),
            documents=data.get("documents", ()),
        )

    @extend_schema(summary="办理:按流程表转到下一状态(分派、开始办理、办结、挂起、退回、并案…)",
                   request=TransitionSerializer, responses={200: CaseDetailSerializer, **_ERRORS})
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        params = TransitionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        case = services.case_transition(actor=request.user, case=case, to=data["to"], note=data["note"],
                                        version=data["version"], team=data.get("team"), into=data.get("into"))
        return self.respond(case)

    @extend_schema(summary="回访:满意、基本满意或不满意(不满意重新办理)", request=ReviewSerializer,
                   responses={200: CaseDetailSerializer, **_ERRORS})
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        params = ReviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        case = services.case_review(actor=request.user, case=case, satisfaction=data["satisfaction"],
                                    note=data["note"], version=data["version"])
        return self.respond(case)


def register(router: Any) -> None:
    router.register("case-categories", CategoryViewSet, basename="case-category")
    router.register("cases", CaseViewSet, basename="case")
