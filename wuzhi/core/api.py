"""API plumbing shared by every app: the scoped viewset base.

Three rules every API view inherits from here:

* Reads start from the scope chokepoint (`Model.objects.visible_to(user, "view")`). A record outside
  the user's subtree does not exist for them: list endpoints leave it out and detail URLs answer 404,
  whatever the HTTP method.
* A write first finds its target among the rows the user may *view* (else 404), then checks the
  action the write needs (CHANGE, VISIT, REVEAL …) on the target's area: a user who can see a record
  but not change it gets 403 with a Chinese message. The service called next checks again, so a
  view that forgot to declare its action is still refused.
* Writes go through the services only. Serializers validate the shape of the request; the view
  calls the service; the service's Django exceptions become DRF responses here (ValidationError →
  400 keyed by field, ConcurrentEdit → 409, NotAllowed → 403), with the services' own messages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import QueryDict
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_choice_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from .errors import ConcurrentEdit
from .models import Area
from .roles import Action
from .scoping import can, scope_paths

NOT_PERMITTED = "您没有在该区域执行此操作的权限"

# The largest id a query parameter may carry: a bigger integer is no row anyway, and SQLite (64-bit
# integers) or PostgreSQL (bigint) would fail on it with a 500 (found by tests/api/test_fuzz.py).
MAX_ID = 2**63 - 1


def id_param(**kwargs: Any) -> serializers.IntegerField:
    """A query parameter holding a row id: a positive integer within the database's range."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "该记录已被其他人修改,您的修改未保存。请重新读取后再修改。"
    default_code = "stale"


def validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as DRF's 400 body: messages keyed by field, errors that belong to no
    field under `non_field_errors`, the services' Chinese sentences unchanged."""
    if hasattr(exc, "error_dict"):
        return {
            (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}


def to_api_exception(exc: Exception) -> Exception:
    """Translate what services raise into DRF exceptions; anything else passes through."""
    # ConcurrentEdit is a ValidationError subclass, so it has to be tested first.
    if isinstance(exc, ConcurrentEdit):
        return Conflict(exc.messages[0])
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(validation_detail(exc))
    if isinstance(exc, DjangoPermissionDenied):  # core.errors.NotAllowed among others
        # DRF's own handler would replace the message with its generic English-derived one.
        return exceptions.PermissionDenied(str(exc) or None)
    return exc


def resolve_area(user: Any, value: str, field: str = "area") -> Area:
    """An `area` query parameter: an area code (530626100012) or, failing that, an area id.

    Accepted when the area lies inside the user's view scope or contains part of it (a grid worker
    may filter by their community and gets their grid's rows). Any other area is answered exactly
    like an unknown one, so the parameter cannot probe the tree outside the user's reach."""
    value = value.strip()
    area = Area.objects.filter(code=value).first()
    if area is None and value.isdigit():
        area = Area.objects.filter(pk=int(value)).first()
    paths = scope_paths(user, Action.VIEW)
    if area is not None and (
        paths is None or any(area.path.startswith(p) or p.startswith(area.path) for p in paths)
    ):
        return area
    raise exceptions.ValidationError({field: [f"区域“{value}”不存在或不在您的管辖范围内"]})


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to a scoped row (household, dwelling, area …) that only resolves to rows the
    requesting user may see; any other id reads as "does not exist" (no hint that it does)."""

    default_error_messages = {
        "does_not_exist": "“{pk_value}”不存在或不在您的管辖范围内",
        "incorrect_type": "应为数字 id,收到的是 {data_type}",
    }

    def __init__(self, **kwargs: Any) -> None:
        self.scope_action: str = kwargs.pop("scope_action", Action.VIEW)
        super().__init__(**kwargs)

    def get_queryset(self) -> Any:
        queryset: Any = super().get_queryset()
        request = self.context.get("request")
        return queryset.visible_to(getattr(request, "user", None), self.scope_action)


class ModelChoiceField(serializers.ChoiceField):
    """The choice field of ApiModelSerializer. Its schema is a component named after the model
    field (HouseholdStatusEnum, ResidentStatusEnum …): drf-spectacular would otherwise name enums
    by field name alone and warn when two models have a `status` with different choices."""


class ModelChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ModelChoiceField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        field = self.target
        model = getattr(getattr(field.parent, "Meta", None), "model", None)
        if model is None:
            return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        # One component per model field holding the bare choices; whether a use also accepts ""
        # or null differs between the read and the write serializer, so that stays with the use.
        name = model.__name__ + "".join(p.capitalize() for p in field.source.split("_")) + "Enum"
        refs = [self._component(auto_schema, name, build_choice_field(serializers.ChoiceField(choices=field.choices)))]
        allow_blank, allow_null = field.allow_blank, field.allow_null
        if field.read_only:
            # DRF drops allow_blank/allow_null from read-only fields, yet a read shows what the
            # column holds: a blank Category.role is served as "" (found by tests/api/test_fuzz.py).
            try:
                model_field = model._meta.get_field(field.source)
            except Exception:  # a source that is not a column (a property, a related path)
                model_field = None
            allow_blank = allow_blank or bool(getattr(model_field, "blank", False))
            allow_null = allow_null or bool(getattr(model_field, "null", False))
        if allow_blank:
            refs.append(self._component(auto_schema, "BlankEnum", {"enum": [""]}))
        if allow_null:
            refs.append(self._component(auto_schema, "NullEnum", {"enum": [None]}))
        return refs[0] if len(refs) == 1 else {"oneOf": refs}

    @staticmethod
    def _component(auto_schema: Any, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
        auto_schema.registry.register_on_missing(component)
        return component.ref


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    """Why `value` from a JSON body does not have the JSON type the schema documents for `field`,
    or None. DRF coerces on its own (13900001111 → "13900001111", "2" → 2, "yes" → True), so a
    client that sends the wrong type never learns it; the API refuses instead, as the schema says."""
    if value is None:
        return None  # null: the field's own allow_null rule answers
    if isinstance(field, serializers.ManyRelatedField | serializers.ListField):
        if not isinstance(value, list):
            return gettext("应为列表")
        child = field.child_relation if isinstance(field, serializers.ManyRelatedField) else field.child
        errors = [_json_type_error(child, item) for item in value]
        return next((e for e in errors if e), None)
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else gettext("应为 true 或 false")
    if isinstance(field, serializers.IntegerField | serializers.PrimaryKeyRelatedField):
        return None if isinstance(value, int) and not isinstance(value, bool) else gettext("应为整数")
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else gettext("应为数字")
    if isinstance(field, serializers.CharField | serializers.ChoiceField | serializers.DateTimeField
                  | serializers.DateField):
        return None if isinstance(value, str) else gettext("应为文本(字符串)")
    return None


class StrictJsonTypesMixin:
    """Write serializers: a JSON body's values must have the documented JSON types (found by
    tests/api/test_fuzz.py: `{"name": 0}` renamed an area to "0"). Form-encoded bodies carry only
    strings and keep DRF's parsing."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            fields: Any = getattr(self, "fields", {})
            wrong = {name: [error] for name, field in fields.items()
                     if not field.read_only and name in data
                     and (error := _json_type_error(field, data[name])) is not None}
            if wrong:
                raise exceptions.ValidationError(wrong)
        return super().to_internal_value(data)  # type: ignore[misc]


class ApiSerializer(StrictJsonTypesMixin, serializers.Serializer):
    """Base of the API's plain (not model) request serializers."""


class ApiModelSerializer(StrictJsonTypesMixin, serializers.ModelSerializer):
    serializer_choice_field = ModelChoiceField


# The bodies of error answers: DRF's `{"detail": …}` and its field-keyed validation errors.
_DETAIL_BODY = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_FIELD_ERRORS_BODY = {
    "type": "object",
    "description": "{字段名: [中文说明]};与字段无关的错误在 non_field_errors 下",
    "additionalProperties": True,
}
_ERROR_DESCRIPTIONS = {
    "400": "请求参数或字段校验失败:{字段名: [中文说明]}",
    "401": "未登录或令牌无效",
    "403": "可以查看但无权执行此操作",
    "404": "记录不存在或不在您的管辖范围内",
    "409": "version 已过期:记录已被他人修改,请重新读取",
}


class ScopedAutoSchema(AutoSchema):
    """Documents what ScopedViewSet does implicitly: the write serializer as request body of
    create/update, the list filters (query_serializer_class) as query parameters, and the error
    answers every scoped view can give (the fuzz test holds the API to them):

    * 401 everywhere (no anonymous access);
    * 400 for lists (bad filter or cursor) and for every write (field validation);
    * 404 wherever the path names a row (outside the scope it does not exist);
    * 403 for writes (the row is visible but the action is not granted).
    """

    def get_request_serializer(self) -> Any:
        write_class = getattr(self.view, "write_serializer_class", lambda: None)()
        if write_class is not None:
            view: Any = self.view
            return write_class(context=view.get_serializer_context())
        return super().get_request_serializer()

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        query_class = getattr(self.view, "query_serializer_class", None)
        if getattr(self.view, "action", None) == "list" and query_class is not None:
            params.append(query_class)
        return params

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        codes = {"401"}
        is_write = self.method not in ("GET", "HEAD", "OPTIONS")
        if is_write or getattr(self.view, "action", None) == "list":
            codes.add("400")
        if "{" in self.path:
            codes.add("404")
        if is_write:
            codes.add("403")
        for code in codes:
            responses.setdefault(code, {"description": _ERROR_DESCRIPTIONS[code]})
        for code, response in responses.items():
            # Error answers declared without a body (OpenApiResponse(description=…)) get theirs.
            if code.startswith("4") and "content" not in response:
                body = _FIELD_ERRORS_BODY if code == "400" else _DETAIL_BODY
                response["content"] = {"application/json": {"schema": body}}
        return dict(sorted(responses.items()))


class ScopedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every API query starts from the scope chokepoint; a row outside it is a 404.

    Subclasses set `scoped_model`, `serializer_class` and `keyset_ordering` (must end with a
    unique field), and may set `query_serializer_class` + `apply_filters()` for list filters,
    `optimize()` for select_related/prefetch_related, and `action_permissions` for what each
    write action needs."""

    scoped_model: type[models.Model] | None = None
    keyset_ordering: list[str] = ["pk"]
    # The router's default `[^/.]+` leaves /api/tags/1.5/ to Django's HTML 404 page; any segment
    # reaches the view instead, which answers a non-numeric id with the API's JSON 404.
    lookup_value_regex = "[^/]+"
    # JSON bodies only: form encodings cannot tell a one-element list from a value, nor an empty
    # date from one not sent, so the same request could mean two things (found by the fuzz test).
    parser_classes = [JSONParser]
    # Code lists without an area (tags): readable by anyone who may view something somewhere.
    scope_free: bool = False
    query_serializer_class: type[serializers.Serializer] | None = None
    create_serializer_class: type[serializers.Serializer] | None = None
    update_serializer_class: type[serializers.Serializer] | None = None
    # Viewset action → the Action a write needs on the target's area. Unlisted unsafe methods
    # need CHANGE; safe methods need VIEW, which the queryset already guarantees.
    action_permissions: dict[str, str] = {}
    schema = ScopedAutoSchema()

    # ---- scope --------------------------------------------------------------------------------

    def get_queryset(self) -> Any:
        assert self.scoped_model is not None, f"{type(self).__name__} must set scoped_model"
        manager: Any = self.scoped_model._default_manager
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no rows
            return manager.none()
        user = self.request.user
        if self.scope_free:
            qs = manager.all() if scope_paths(user, Action.VIEW) != [] else manager.none()
        else:
            # Always the VIEW scope, also for writes: see the module docstring.
            qs = manager.visible_to(user, Action.VIEW)
        return self.optimize(qs)

    def optimize(self, qs: Any) -> Any:
        """select_related / prefetch_related for the serializer (no N+1)."""
        return qs

    def required_action(self) -> str:
        if self.action in self.action_permissions:
            return self.action_permissions[self.action]
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return Action.VIEW
        return Action.CHANGE

    def path_of(self, obj: models.Model) -> str:
        return getattr(obj, getattr(type(obj), "scope_path_field", "area_path"))

    def require(self, action: str, path: str) -> None:
        if not can(self.request.user, action, path):
            raise exceptions.PermissionDenied(NOT_PERMITTED)

    def get_object(self) -> Any:
        obj = super().get_object()  # outside the VIEW scope: 404
        action = self.required_action()
        if action == Action.VIEW:
            return obj
        if self.scope_free:
            # A code list has no area to check a grant against: only the system administrator
            # may change one, should a scope-free viewset ever accept writes.
            if not (self.request.user.is_superuser and self.request.user.is_active):
                raise exceptions.PermissionDenied("只有系统管理员可以修改代码表")
        else:
            self.require(action, self.path_of(obj))
        return obj

    # ---- filters ------------------------------------------------------------------------------

    def filter_queryset(self, queryset: Any) -> Any:
        queryset = super().filter_queryset(queryset)
        if self.action == "list" and self.query_serializer_class is not None:
            params = self.query_serializer_class(data=self.request.query_params, context=self.get_serializer_context())
            # DRF reads an empty query value of an optional field as "not sent", so `?area=` would
            # list everything although the schema says an area code is required there. Filters
            # that document "" as "no filter" (allow_blank) keep it; others answer 400.
            blank = {name: [gettext("不能为空;不筛选时请不要传这个参数")]
                     for name, field in params.fields.items()
                     if "" in self.request.query_params.getlist(name) and not getattr(field, "allow_blank", False)}
            if blank:
                raise exceptions.ValidationError(blank)
            params.is_valid(raise_exception=True)
            queryset = self.apply_filters(queryset, params.validated_data)
        return queryset

    def apply_filters(self, queryset: Any, params: dict[str, Any]) -> Any:
        return queryset

    # ---- writes -------------------------------------------------------------------------------

    def write_serializer_class(self) -> type[serializers.Serializer] | None:
        if self.action == "create":
            return self.create_serializer_class
        if self.action in ("update", "partial_update"):
            return self.update_serializer_class
        return None

    def respond(self, obj: models.Model, status_code: int = status.HTTP_200_OK) -> Response:
        """The saved row as a read would show it, re-read so related data (tags, names) is fresh."""
        fresh = self.get_queryset().filter(pk=obj.pk).first() or obj
        return Response(self.get_serializer(fresh).data, status=status_code)

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(to_api_exception(exc))


class ServiceCreateMixin:
    """POST: validate with `create_serializer_class`, then `perform_service_create(data)` calls the
    service and returns the new row."""

    def create(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.create_serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        obj = self.perform_service_create(serializer.validated_data)
        return self.respond(obj, status.HTTP_201_CREATED)

    def perform_service_create(self, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError


class ServiceUpdateMixin:
    """PUT and PATCH: both change only the fields sent (the services take "unchanged" as absent),
    so PUT is PATCH with the same rules; the optimistic-lock `version` is required by the update
    serializers."""

    def update(self: Any, request: Request, *args: Any, partial: bool = False, **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = self.update_serializer_class(
            instance, data=request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        obj = self.perform_service_update(instance, serializer.validated_data)
        return self.respond(obj)

    def partial_update(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def perform_service_update(self, instance: Any, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError


def client_ip(request: Request) -> str | None:
    """For the access log. REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be
    unless a trusted proxy rewrites it, which is deployment configuration, not ours."""
    return request.META.get("REMOTE_ADDR") or None


def register(router: Any) -> None:
    """Areas are registered by the registry API module with the rest of the registry."""
