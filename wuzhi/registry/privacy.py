"""Personal-data rights (个人信息保护法): a copy of everything held about one resident, the
anonymisation of people who moved out or died once the retention period has passed, and the
record of who read whose sensitive data.

The copy finds its rows generically: every model with a foreign key or many-to-many to Resident
contributes the rows that point at the person, so a new app's records are included without
editing this file. Ciphertext and digest columns are left out; the person's own ID and phone
numbers appear decrypted once, at the top (it is their data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from wuzhi.core import crypto
from wuzhi.core.models import AccessLog, ChangeLog

from . import choices as c
from .models import Resident

GONE = (c.PersonStatus.MOVED_OUT, c.PersonStatus.DECEASED, c.PersonStatus.CANCELLED)
ANONYMOUS = "已匿名"
# Columns that hold secrets or lookup digests: never copied out row by row.
_SECRET_SUFFIXES = ("_enc", "_hash")


def _value(obj: models.Model, field: models.Field) -> Any:
    if field.choices:
        return getattr(obj, f"get_{field.name}_display")()
    value = field.value_from_object(obj)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, models.Model):
        return str(value)
    return value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value)


def _row(obj: models.Model) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name.endswith(_SECRET_SUFFIXES) or field.name in ("area_path", "name_pinyin", "name_initials"):
            continue
        label = str(field.verbose_name)
        if field.is_relation:
            related = getattr(obj, field.name, None)
            out[label] = str(related) if related is not None else None
        else:
            out[label] = _value(obj, field)
    return out


def dossier(resident: Resident) -> dict[str, Any]:
    """Everything held about `resident`, as plain data (for a JSON download)."""
    person = _row(resident)
    person["身份证号"] = crypto.decrypt(resident.id_number_enc)
    person["手机"] = crypto.decrypt(resident.phone_enc)
    person["座机"] = crypto.decrypt(resident.landline_enc)
    person["标签"] = [t.name for t in resident.tags.all()]
    records: dict[str, list[dict[str, Any]]] = {}
    for rel in Resident._meta.related_objects:
        if rel.related_model is Resident:
            continue
        model: Any = rel.related_model
        rows = model._default_manager.filter(**{rel.field.name: resident})  # FK and M2M alike
        title = str(model._meta.verbose_name)
        found = [_row(obj) for obj in rows[:1000]]
        if found:
            records.setdefault(title, []).extend(found)
    label = Resident._meta.label_lower
    changes = ChangeLog.objects.filter(model=label, object_id=str(resident.pk)).select_related("actor")
    reads = AccessLog.objects.filter(model=label, object_id=str(resident.pk)).select_related("actor")
    return {
        "说明": "本文件是五治平台保存的您的个人信息副本,依据《个人信息保护法》提供。",
        "生成时间": timezone.localtime().isoformat(),
        "个人信息": person,
        "所属户": _row(resident.household),
        "相关记录": records,
        "修改记录": [{"时间": ch.at.isoformat(), "操作人": str(ch.actor or "系统"), "修改": ch.changes}
                     for ch in changes],
        "查看记录": [{"时间": r.at.isoformat(), "查看人": str(r.actor or "系统"), "内容": r.get_kind_display(),
                      "字段": r.field} for r in reads],
    }


def due_for_anonymisation(now: dt.datetime | None = None, days: int | None = None) -> models.QuerySet[Resident]:
    """People who moved out, died or were cancelled and whose record has not changed for the
    retention period (settings.WUZHI_RETENTION_DAYS)."""
    days = settings.WUZHI_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    return Resident.objects.filter(status__in=GONE, updated_at__lt=cutoff).exclude(name=ANONYMOUS)


@transaction.atomic
def anonymise(resident: Resident) -> None:
    """Remove what identifies the person; keep what statistics need (sex, birth year, status,
    household, the fact of visits and cases). Their change history loses its values too."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    resident.name, resident.name_pinyin, resident.name_initials = ANONYMOUS, "", ""
    # The digest column is unique: a per-row placeholder that no real number can produce.
    resident.id_number_enc, resident.id_number_hash = "", f"anon-{resident.pk}"
    resident.id_number_masked, resident.id_tail = ANONYMOUS, ""
    resident.birth_date = resident.birth_date.replace(month=1, day=1)
    resident.phone_enc = resident.phone_hash = resident.phone_masked = resident.phone_tail = ""
    resident.landline_enc = resident.landline_masked = ""
    resident.hukou_address = resident.note = ""
    resident.version += 1
    resident.save()
    label = Resident._meta.label_lower
    ChangeLog.objects.filter(model=label, object_id=str(resident.pk)).update(
        changes={"_": ANONYMOUS}, object_repr=ANONYMOUS)
    AccessLog.objects.filter(model=label, object_id=str(resident.pk)).update(object_repr=ANONYMOUS)
    # A diff would carry the old values again: the history says only that it happened.
    ChangeLog.objects.create(model=label, object_id=str(resident.pk), object_repr=ANONYMOUS, op=ChangeLog.Op.UPDATE,
                             changes={"_": ANONYMOUS}, area_path=resident.area_path, note="超过保存期限,已匿名化")


def anonymise_due(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    count = 0
    for resident in due_for_anonymisation(now, days).iterator():
        anonymise(resident)
        count += 1
    return count
