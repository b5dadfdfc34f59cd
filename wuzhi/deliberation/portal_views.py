"""The resident side and the public notice board (公开栏), no login.

Proposing: from the unit's QR page (/p/d/u/<unit code>/propose/), the unit decides the building,
grid and community; the phone number is required because it is the resident's key to the topic,
as in the case portal. Following: topic number plus that phone; once verified (or just
proposed) the topic's id is kept in the session.

The board lists only published disclosures of one community. It never shows a resident's name or
phone: proposers appear by role ("居民", "网格员"), objections without their sender, and digit
runs a resident typed into an objection are masked (models.scrub)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.pagination import keyset_page
from wuzhi.core.views import apply_errors

from . import services
from .forms import ObjectionForm, ProposeForm, TrackForm
from .models import STEPS, Disclosure, Source, Topic, TopicEvent

SESSION_KEY = "wuzhi_tracked_topics"
PAGE_SIZE = 20
# Timeline rows the proposer may read: what happened, never who did it.
PUBLIC_EVENT_KINDS = (TopicEvent.Kind.TRANSITION, TopicEvent.Kind.MEETING, TopicEvent.Kind.VOTE,
                      TopicEvent.Kind.DISCLOSURE, TopicEvent.Kind.PROGRESS, TopicEvent.Kind.OBJECTION)


def _unit(code: str) -> Area:
    return get_object_or_404(Area.objects.select_related("parent__parent__parent"), code=code, kind=AreaKind.UNIT)


def _community(area: Area) -> Area:
    return Area.objects.get(path=area.ancestor_paths()[2])


def _published(community: Area) -> QuerySet[Disclosure]:
    return (Disclosure.objects.filter(community_path=community.path, published_at__lte=timezone.now())
            .select_related("topic"))


def unit_home(request: HttpRequest, unit_code: str) -> HttpResponse:
    unit = _unit(unit_code)
    community = _community(unit)
    return render(request, "deliberation/portal_unit.html", {
        "unit": unit, "community": community,
        "recent": list(_published(community).order_by("-published_at", "-id")[:3]),
        "tracked": list(Topic.objects.filter(pk__in=request.session.get(SESSION_KEY, []))
                        .order_by("-proposed_at")[:5]),
    })


def propose(request: HttpRequest, unit_code: str) -> HttpResponse:
    unit = _unit(unit_code)
    form = ProposeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            area = services.level_area(d["level"], unit)
            topic = services.topic_propose(actor=None, actor_name=services.RESIDENT, title=d["title"],
                                           description=d["description"], level=d["level"], area=area,
                                           source=Source.RESIDENT, proposer_phone=d["phone"],
                                           proposer_name=services.RESIDENT)
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "proposer_phone" in exc.error_dict:
                exc.error_dict["phone"] = exc.error_dict.pop("proposer_phone")
            apply_errors(form, exc)
        else:
            _remember(request, topic)
            messages.success(request, _("您的议题已提交,编号 %(number)s,社区两委将在审议后答复") % {"number": topic.number})
            return redirect(reverse("delib_portal:topic", args=[topic.number]))
    return render(request, "deliberation/portal_propose.html", {"form": form, "unit": unit},
                  status=400 if form.errors else 200)


def _remember(request: HttpRequest, topic: Topic) -> None:
    tracked = set(request.session.get(SESSION_KEY, []))
    tracked.add(topic.pk)
    request.session[SESSION_KEY] = sorted(tracked)


def track(request: HttpRequest) -> HttpResponse:
    form = TrackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        topic = services.track(form.cleaned_data["number"], form.cleaned_data["phone"])
        if topic is None:
            form.add_error(None, _("编号或手机号码不正确"))
        else:
            _remember(request, topic)
            return redirect(reverse("delib_portal:topic", args=[topic.number]))
    return render(request, "deliberation/portal_track.html", {"form": form}, status=400 if form.errors else 200)


def topic_status(request: HttpRequest, number: str) -> HttpResponse:
    topic = Topic.objects.filter(number=number).select_related("merged_into", "area").first()
    if topic is None or topic.pk not in request.session.get(SESSION_KEY, []):
        return redirect("delib_portal:track")
    events = list(topic.events.filter(kind__in=PUBLIC_EVENT_KINDS).order_by("at", "id"))
    return render(request, "deliberation/portal_topic.html", {
        "topic": topic, "events": events, "bar": [label for label, _s in STEPS], "current": topic.step_index,
        "disclosures": list(topic.disclosures.filter(published_at__lte=timezone.now()).order_by("published_at")),
        "community": _community(topic.area),
    })


def board(request: HttpRequest, community_code: str) -> HttpResponse:
    community = get_object_or_404(Area, code=community_code, kind=AreaKind.COMMUNITY)
    qs = _published(community).annotate(n_objections=Count("objections"), n_answered=Count(
        "objections", filter=Q(objections__answered_at__isnull=False)))
    page = keyset_page(qs, ["-published_at", "-id"], request.GET.get("after"), PAGE_SIZE)
    now = timezone.now()
    return render(request, "deliberation/portal_board.html", {
        "community": community, "page": page, "after": request.GET.get("after"), "now": now,
        "decided_year": Topic.objects.filter(community_path=community.path, decided_at__year=now.year).count(),
    })


def board_print(request: HttpRequest, community_code: str) -> HttpResponse:
    """The physical board: this community's notices still in their notice period, plus the most
    recent ones, on A4."""
    community = get_object_or_404(Area, code=community_code, kind=AreaKind.COMMUNITY)
    rows = list(_published(community).order_by("-published_at", "-id")[:8])
    return render(request, "deliberation/print.html", {"community": community, "rows": rows, "now": timezone.now()})


def _notice(pk: int) -> Disclosure:
    return get_object_or_404(Disclosure.objects.select_related("topic"), pk=pk, published_at__lte=timezone.now())


def notice(request: HttpRequest, pk: int) -> HttpResponse:
    d = _notice(pk)
    topic = d.topic
    community = Area.objects.get(path=d.community_path)
    meetings = list(topic.meetings.select_related("body").order_by("held_at", "id"))
    votes = list(topic.votes.select_related("meeting__body").order_by("at", "id"))
    return render(request, "deliberation/portal_notice.html", {
        "d": d, "topic": topic, "community": community, "meetings": meetings, "votes": votes,
        "objections": list(d.objections.order_by("submitted_at", "id")),
        "form": ObjectionForm() if d.in_notice() else None, "open": d.in_notice(),
    })


def notice_print(request: HttpRequest, pk: int) -> HttpResponse:
    d = _notice(pk)
    community = Area.objects.get(path=d.community_path)
    return render(request, "deliberation/print.html", {"community": community, "rows": [d], "now": timezone.now(),
                                                       "single": True})


@require_POST
def object_submit(request: HttpRequest, pk: int) -> HttpResponse:
    d = _notice(pk)
    form = ObjectionForm(request.POST)
    if form.is_valid():
        try:
            services.objection_submit(disclosure=d, text=form.cleaned_data["text"], phone=form.cleaned_data["phone"],
                                      kind=form.cleaned_data["kind"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已收到您的意见,社区两委答复后将在本页公开"))
            return redirect(reverse("delib_portal:notice", args=[d.pk]) + "#objections")
    topic = d.topic
    return render(request, "deliberation/portal_notice.html", {
        "d": d, "topic": topic, "community": Area.objects.get(path=d.community_path),
        "meetings": list(topic.meetings.select_related("body")), "votes": list(topic.votes.select_related(
            "meeting__body")), "objections": list(d.objections.all()), "form": form, "open": d.in_notice(),
    }, status=400)

