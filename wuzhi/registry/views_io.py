"""Pages of the registry's Excel round trip: upload a 户籍信息表 and follow its import, download the
template and the error report, export filtered resident and household lists.

An import runs in a background thread so a 10,000-row file does not hold the request open. Its
progress goes to the cache, not the database: on SQLite the import's transaction holds the write
lock, and the job page must still be able to answer every second."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, scope_paths
from wuzhi.core.views import client_ip, forbidden

from . import choices as c
from . import exporter, importer
from .forms import HouseholdFilterForm, ResidentFilterForm
from .models import Household, ImportJob, Resident

logger = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_MB = 20
ERRORS_ON_PAGE = 200
RECENT_JOBS = 10
PROGRESS_TTL = 60 * 60 * 12
PHASES = {"read": "读取文件", "validate": "逐行校验", "apply": "写入数据"}


def _export_failed(request: HttpRequest, exc: exporter.ExportFailed) -> HttpResponse:
    """A workbook could not be written (the disk is full): say so in Chinese; no file is sent.
    507 Insufficient Storage is the status for exactly this."""
    return render(request, "registry/io/export_failed.html", {"message": str(exc)}, status=507)


def _xlsx(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    # RFC 5987 filename*=utf-8''…: the Chinese name survives every current browser.
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    return response


# ---- running an import ---------------------------------------------------------------------

def progress_key(job_id: uuid.UUID | str) -> str:
    return f"wuzhi:import-progress:{job_id}"


def _progress_writer(job_id: uuid.UUID) -> importer.Progress:
    key = progress_key(job_id)

    def write(phase: str, done: int, total: int) -> None:
        # "at" is the job's heartbeat: fail_stale_jobs() ends jobs whose worker stopped beating.
        cache.set(key, {"phase": phase, "done": done, "total": total, "at": time.time()}, PROGRESS_TTL)

    return write


def _last_seen(job_id: uuid.UUID) -> float | None:
    return (cache.get(progress_key(job_id)) or {}).get("at")


def fail_stale_jobs() -> None:
    """Before showing jobs: end those whose worker died (server restart, lost database) so the
    page says what happened instead of 处理中 forever. One indexed query when nothing is stale."""
    importer.fail_stale_jobs(_last_seen)


def run_import(job_id: uuid.UUID) -> ImportJob:
    """Import the stored upload of a pending job, as the user who uploaded it."""
    job = ImportJob.objects.select_related("area", "created_by").get(pk=job_id)
    if job.created_by is None:
        # Without its uploader the job would run as "the system", without permission checks.
        job.status = ImportJob.Status.FAILED
        job.errors = [importer.error_dict(None, "", "", "上传该文件的账号已不存在,导入已取消")]
        job.finished_at = timezone.now()
        job.save()
        return job
    path = importer.stored_path(job)
    with path.open("rb") as fileobj:
        job = importer.import_workbook(actor=job.created_by, area=job.area, fileobj=fileobj, filename=job.filename,
                                       progress=_progress_writer(job.pk), job=job)
    if job.status == ImportJob.Status.APPLIED:
        # The upload holds ID numbers in clear; once imported nothing needs it (no error report).
        path.unlink(missing_ok=True)
    return job


def _run_guarded(job_id: uuid.UUID) -> None:
    """import_workbook records its own failures; this catches what happens before it runs
    (the stored file vanished, say) so the job page does not wait forever."""
    try:
        run_import(job_id)
    except Exception:
        logger.exception("import job %s could not run", job_id)
        ImportJob.objects.filter(pk=job_id, finished_at__isnull=True).update(
            status=ImportJob.Status.CRASHED, finished_at=timezone.now(),
            errors=[importer.error_dict(None, "", "", "导入未能开始:上传的文件已丢失或无法打开,请重新上传")],
        )


def _run_in_thread(job_id: uuid.UUID) -> None:
    try:
        _run_guarded(job_id)
    finally:
        connection.close()  # a thread's connection is never closed by the request cycle


def start_import(job: ImportJob) -> None:
    """Run the job in a background thread, or inline when settings.WUZHI_IMPORT_INLINE is set
    (tests, and a single-threaded demo server)."""
    if getattr(settings, "WUZHI_IMPORT_INLINE", False):
        _run_guarded(job.pk)
        return
    threading.Thread(target=_run_in_thread, args=(job.pk,), name=f"import-{job.pk}", daemon=True).start()


# ---- pages ---------------------------------------------------------------------------------

class ImportAreaField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        if obj.kind == AreaKind.GRID and obj.parent is not None:
            return f"{obj.parent.name} · {obj.name}"
        return obj.name


class ImportForm(forms.Form):
    area = ImportAreaField(label="导入到", queryset=Area.objects.none(), empty_label=None)
    file = forms.FileField(label="户籍信息表(.xlsx)")

    def __init__(self, *args: Any, areas: QuerySet[Area], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(ImportAreaField, self.fields["area"]).queryset = areas.select_related("parent")
        self.fields["file"].widget.attrs.update({
            "accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "class": "form-control",
        })
        self.fields["area"].widget.attrs["class"] = "form-select"

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = upload.name.lower()
        if name.endswith(".xls"):
            raise forms.ValidationError("不支持旧版 .xls 文件,请在 Excel 或 WPS 中“另存为” .xlsx 格式后再上传")
        if not name.endswith(".xlsx"):
            raise forms.ValidationError("请上传 Excel 工作簿(.xlsx 格式)")
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(f"文件超过{MAX_UPLOAD_MB}MB,请分成几个文件上传")
        return upload


def _export_areas(user: Any) -> QuerySet[Area]:
    return (Area.objects.visible_to(user, Action.EXPORT)
            .filter(kind__in=[AreaKind.GRID, AreaKind.BUILDING]).order_by("path"))


@login_required
def import_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    areas = importer.importable_areas(user)
    form = ImportForm(request.POST or None, request.FILES or None, areas=areas)
    if request.method == "POST" and form.is_valid():
        area, upload = form.cleaned_data["area"], form.cleaned_data["file"]
        job = ImportJob(created_by_id=user.pk, area=area, area_path=area.path, filename=upload.name[:255])
        path = importer.stored_path(job)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        job.save()
        start_import(job)
        return redirect("registry:import_job", pk=job.pk)
    fail_stale_jobs()
    jobs = (ImportJob.objects.visible_to(user, Action.VIEW)
            .filter(created_by=user).select_related("area")[:RECENT_JOBS])
    return render(request, "registry/io/import.html", {
        "form": form, "may_import": areas.exists(),
        "jobs": jobs, "may_export": scope_paths(user, Action.EXPORT) != [],
        "export_areas": _export_areas(user), "statuses": c.PersonStatus.choices,
        "may_reveal": scope_paths(user, Action.REVEAL) != [], "max_mb": MAX_UPLOAD_MB,
    })


@login_required
def import_template(request: HttpRequest) -> HttpResponse:
    return _xlsx(exporter.build_template(), "户籍信息表模板.xlsx")


def _job_or_404(user: Any, pk: uuid.UUID) -> ImportJob:
    fail_stale_jobs()
    qs = ImportJob.objects.visible_to(user, Action.VIEW).select_related("area", "created_by")
    return get_object_or_404(qs, pk=pk)


def _may_download_report(user: Any, job: ImportJob) -> bool:
    # The report repeats the uploaded cells, full ID numbers included: only for the uploader and
    # those who may see full numbers there anyway.
    return job.created_by_id == user.pk or can(user, Action.REVEAL, job.area_path)


def _job_context(user: Any, job: ImportJob) -> dict[str, Any]:
    progress = cache.get(progress_key(job.pk)) or {}
    done, total = progress.get("done", 0), progress.get("total", 0)
    share = done / total if total else 0
    # read 0–5 %, validate 5–50 %, apply 50–100 %: applying is the slow half.
    percent = {"read": 2, "validate": 5 + 45 * share, "apply": 50 + 50 * share}.get(progress.get("phase", ""), 0)
    errors = job.errors or []
    running = job.status in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING)
    return {
        "job": job, "running": running, "percent": int(percent), "done": done, "total": total,
        "phase": PHASES.get(progress.get("phase", ""), "排队等待"),
        "errors": errors[:ERRORS_ON_PAGE], "error_count": len(errors),
        "failed_rows": len(importer.rows_with_errors(errors)),
        "has_row_errors": any(e.get("row") for e in errors),
        "may_download_report": _may_download_report(user, job),
        "unchanged": max(job.total_rows - job.residents_created - job.residents_updated, 0),
    }


@login_required
def import_job(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    return render(request, "registry/io/job.html", _job_context(request.user, _job_or_404(request.user, pk)))


@login_required
def import_job_status(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The part of the job page htmx polls every second until the job is finished."""
    return render(request, "registry/io/_job_status.html", _job_context(request.user, _job_or_404(request.user, pk)))


@login_required
def import_errors(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The failed rows (or, with ?all=1, every row) of the upload with a 错误原因 column."""
    job = _job_or_404(request.user, pk)
    if not _may_download_report(request.user, job):
        return forbidden(request, "错误报告含完整的身份证号,只有上传人和有查看完整号码权限的人员可以下载")
    path = importer.stored_path(job)
    if not any(e.get("row") for e in job.errors or []) or not path.exists():
        raise Http404("没有错误报告")
    only_failed = request.GET.get("all") != "1"
    try:
        with path.open("rb") as fileobj:
            data = exporter.error_report(fileobj, job.errors, only_failed=only_failed)
    except exporter.ExportFailed as exc:
        return _export_failed(request, exc)
    stem = job.filename.rsplit(".", 1)[0] or "户籍信息表"
    return _xlsx(data, f"{stem}_{'错误行' if only_failed else '错误标注'}.xlsx")


# ---- exports -------------------------------------------------------------------------------

def _describe(f: dict[str, Any]) -> str:
    """The filter in words, for the access log: 区域=1网格;标签=独居老人;年龄60-;状态=在住."""
    parts = []
    if f.get("q"):
        parts.append(f"关键词={f['q']}")
    if f.get("area"):
        parts.append(f"区域={f['area'].short_name}")
    tags = f.get("tag")
    if tags:
        parts.append("标签=" + "、".join(t.name for t in (tags if isinstance(tags, list | QuerySet) else [tags])))
    if f.get("age_min") is not None or f.get("age_max") is not None:
        parts.append(f"年龄{f.get('age_min') if f.get('age_min') is not None else ''}-"
                     f"{f.get('age_max') if f.get('age_max') is not None else ''}")
    if f.get("sex"):
        parts.append(f"性别={c.Sex(f['sex']).label}")
    parts.append(f"状态={f['status']}" if f.get("status") else "状态=全部")
    return ";".join(parts)


def _export_filename(kind: str, area: Area | None) -> str:
    return f"{area.name if area else ''}{kind}_{timezone.localdate():%Y%m%d}.xlsx"


@require_GET
@login_required
def export_residents(request: HttpRequest) -> HttpResponse:
    """GET ?q=&area=&tag=…&age_min=&age_max=&status=&sex=&reveal=1, the resident list's filter."""
    user = request.user
    if scope_paths(user, Action.EXPORT) == []:
        return forbidden(request, "您没有导出数据的权限")
    params = request.GET.copy()
    params.setdefault("status", c.PersonStatus.PRESENT)  # as on the list page
    form = ResidentFilterForm(params, user=user)
    if not form.is_valid():
        return HttpResponseBadRequest("筛选条件无效,请回到列表页重新筛选后导出")
    f = form.cleaned_data
    qs = form.filter(Resident.objects.visible_to(user, Action.EXPORT))
    qs = qs.order_by("household__address_key", "household_id", "id")
    try:
        data = exporter.export_residents(actor=user, queryset=qs, reveal=request.GET.get("reveal") == "1",
                                         description=_describe(f), ip=client_ip(request))
    except exporter.ExportFailed as exc:
        return _export_failed(request, exc)
    return _xlsx(data, _export_filename("居民名单", f.get("area")))


@require_GET
@login_required
def export_households(request: HttpRequest) -> HttpResponse:
    """GET ?q=&area=&tag=&status=&reveal=1, the household list's filter."""
    user = request.user
    if scope_paths(user, Action.EXPORT) == []:
        return forbidden(request, "您没有导出数据的权限")
    params = request.GET.copy()
    params.setdefault("status", c.HouseholdStatus.PRESENT)
    form = HouseholdFilterForm(params, user=user)
    if not form.is_valid():
        return HttpResponseBadRequest("筛选条件无效,请回到列表页重新筛选后导出")
    f = form.cleaned_data
    qs = form.filter(Household.objects.visible_to(user, Action.EXPORT))
    try:
        data = exporter.export_households(actor=user, queryset=qs.order_by("address_key", "id"),
                                          reveal=request.GET.get("reveal") == "1", description=_describe(f),
                                          ip=client_ip(request))
    except exporter.ExportFailed as exc:
        return _export_failed(request, exc)
    return _xlsx(data, _export_filename("户列表", f.get("area")))
