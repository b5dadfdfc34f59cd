"""单元楼管理服务牌: the board is read from role grants when asked for, one PDF page per unit,
Chinese embedded so it prints anywhere, a QR code that opens the unit's portal page, scoped."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import time

import pytest
from django.conf import settings
from django.urls import include, path, reverse
from django.utils import timezone

from wuzhi import urls as project_urls
from wuzhi.core import services as core_services
from wuzhi.core.models import Grant
from wuzhi.core.roles import Role
from wuzhi.party import boards

# party/urls.py (which includes urls_boards under the "party" namespace) comes from another
# change; until the project's URLs include it, mount the board URLs the way it will.
urlpatterns = list(project_urls.urlpatterns)
if not any(getattr(p, "namespace", None) == "party" for p in urlpatterns):
    urlpatterns.append(path("party/", include(("wuzhi.party.urls_boards", "party"))))
pytestmark = pytest.mark.urls(__name__)

pypdf = pytest.importorskip("pypdf", reason="pypdf is in the dev extra: pip install -e '.[dev]'")

# The `people` fixture already made 楼长甲 the 楼长 of building 1.
BUILDING_STAFF = {
    Role.PARTY_MEMBER: ("dangyuan", "陈党员"),
    Role.VOLUNTEER: ("zhiyuan", "刘志愿"),
    Role.POLICE: ("jingwu", "杨警官"),
    Role.DOCTOR: ("yisheng", "周医生"),
}


@pytest.fixture
def roster(tree, people, make_user):
    """Building 1 has all five roles; building 2 has only its 楼长 (the other four are gaps)."""
    staff = {role: make_user(username, role, tree.buildings[0], name=name)
             for role, (username, name) in BUILDING_STAFF.items()}
    staff[Role.BUILDING_HEAD] = people.head
    staff["head2"] = make_user("louzhang2", Role.BUILDING_HEAD, tree.buildings[1], name="吴楼长")
    return staff


def pdf_pages(content: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages]


def login(client, user):
    client.force_login(user)
    return client


# ---- content ---------------------------------------------------------------------------------


def test_board_names_everyone_who_serves_the_unit(tree, people, roster):
    board = boards.board_for(tree.units[0])
    assert board.place == "福兴社区 1网格 1栋 1单元"
    assert [d.label for d in board.duties] == ["网格长", "专职网格员", "楼长", "党员", "志愿者", "警务长", "家庭医生"]
    assert board.duty(Role.SECRETARY).names == "李书记"  # the community secretary, inherited
    assert board.duty(Role.GRID_WORKER).names == "王网格"
    assert board.duty(Role.BUILDING_HEAD).names == "楼长甲"
    for role, (_username, name) in BUILDING_STAFF.items():
        assert board.duty(role).names == name
    assert board.gaps == []
    assert board.hotline == "0870-7622345"
    assert board.portal_url == f"{settings.PUBLIC_URL}/p/u/{tree.units[0].code}/"


def test_missing_roles_show_as_gaps(tree, people, roster):
    board = boards.board_for(tree.units[2])  # building 2
    assert board.duty(Role.GRID_WORKER).names == "赵网格"
    assert board.duty(Role.BUILDING_HEAD).names == "吴楼长"
    assert board.gaps == ["党员", "志愿者", "警务长", "家庭医生"]
    assert board.duty(Role.DOCTOR).names == "待补充"


def test_a_grid_worker_never_appears_on_another_grids_board(tree, people, roster):
    names = {b.unit.pk: b.duty(Role.GRID_WORKER).names for b in boards.boards_for(tree.community)}
    assert names == {tree.units[0].pk: "王网格", tree.units[1].pk: "王网格",
                     tree.units[2].pk: "赵网格", tree.units[3].pk: "赵网格"}


def test_hotline_comes_from_settings(tree, people, settings):
    settings.SERVICE_HOTLINE = "0870-1234567"
    assert boards.board_for(tree.units[0]).hotline == "0870-1234567"


def test_boards_for_an_area_cost_the_same_queries_whatever_its_size(tree, people, roster,
                                                                    django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert len(boards.boards_for(tree.community)) == 4
    with django_assert_max_num_queries(6):
        assert len(boards.boards_for(tree.units[3])) == 1


def test_changing_the_building_head_changes_the_board(client, tree, people, roster, make_user):
    url = reverse("party:board", args=[tree.units[0].pk])
    login(client, people.secretary)
    assert "楼长甲" in client.get(url).content.decode()

    # There is no service to end a grant yet: end it the way the grants page will, by its valid_to.
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    old = Grant.objects.get(user=roster[Role.BUILDING_HEAD], role=Role.BUILDING_HEAD)
    Grant.objects.filter(pk=old.pk).update(valid_from=yesterday - dt.timedelta(days=30), valid_to=yesterday)
    html = client.get(url).content.decode()
    assert "楼长甲" not in html and "待补充" in html

    make_user("louzhang-new", Role.BUILDING_HEAD, tree.buildings[0], name="孙楼长")
    html = client.get(url).content.decode()
    assert "孙楼长" in html and "楼长甲" not in html
    text = pdf_pages(client.get(reverse("party:boards_pdf"), {"area": tree.units[0].pk}).content)[0]
    assert "孙楼长" in text and "楼长甲" not in text


# ---- the HTML board -------------------------------------------------------------------------


def test_board_page_shows_the_board_and_its_qr(client, tree, people, roster):
    response = login(client, people.worker1).get(reverse("party:board", args=[tree.units[1].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "单元楼管理服务牌" in html and "1栋 2单元" in html
    assert "<svg" in html and f"/p/u/{tree.units[1].code}/" in html
    assert "0870-7622345" in html and "@media print" in html


def test_a_building_head_sees_the_grid_head_on_their_board(client, tree, people, roster):
    """The roster is read above the viewer's own grant: the 网格长 sits on the community."""
    html = login(client, roster[Role.BUILDING_HEAD]).get(reverse("party:board", args=[tree.units[0].pk])).content.decode()
    assert "李书记" in html and "王网格" in html


def test_board_outside_scope_is_404(client, tree, people, roster):
    login(client, people.worker1)
    assert client.get(reverse("party:board", args=[tree.units[2].pk])).status_code == 404
    assert client.get(reverse("party:boards_pdf"), {"area": tree.grids[1].pk}).status_code == 404
    assert client.get(reverse("party:boards_pdf"), {"area": tree.community.pk}).status_code == 404
    login(client, roster[Role.DOCTOR])  # a 家庭医生 of building 1 sees building 1 only
    assert client.get(reverse("party:board", args=[tree.units[2].pk])).status_code == 404
    assert client.get(reverse("party:board", args=[tree.units[0].pk])).status_code == 200


def test_board_of_something_that_is_not_a_unit_is_404(client, tree, people):
    login(client, people.secretary)
    assert client.get(reverse("party:board", args=[tree.buildings[0].pk])).status_code == 404


def test_boards_need_a_login(client, tree):
    response = client.get(reverse("party:board", args=[tree.units[0].pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(reverse("party:boards_pdf"), {"area": tree.community.pk}).status_code == 302


def test_pdf_without_an_area_is_a_bad_request(client, people):
    login(client, people.secretary)
    assert client.get(reverse("party:boards_pdf")).status_code == 400
    assert client.get(reverse("party:boards_pdf"), {"area": "x"}).status_code == 400


# ---- the PDF --------------------------------------------------------------------------------


def test_pdf_has_one_page_per_unit_with_chinese_text(client, tree, people, roster):
    response = login(client, people.secretary).get(reverse("party:boards_pdf"), {"area": tree.community.pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"boards-{tree.community.code}.pdf" in response["Content-Disposition"]
    pages = pdf_pages(response.content)
    assert len(pages) == len(tree.units) == 4
    # Extractable Chinese proves the font is embedded with its Unicode map, not drawn as boxes.
    first = pages[0]
    for text in ("单元楼管理服务牌", "福兴社区", "1网格", "1栋 1单元", "李书记", "王网格", "楼长甲", "陈党员",
                 "刘志愿", "杨警官", "周医生", "警务长", "家庭医生", "扫码反映问题、提出建议、查看公告", "0870-7622345",
                 f"打印日期 {timezone.localdate():%Y年%m月%d日}"):
        assert text in first, text
    assert "待补充" not in first
    assert "2栋 1单元" in pages[2] and "吴楼长" in pages[2] and "待补充" in pages[2] and "赵网格" in pages[2]


def test_pdf_embeds_its_fonts_and_uses_no_other(client, tree, people):
    """Every font on the page is our subset, embedded (no reliance on the reader's fonts)."""
    content = login(client, people.secretary).get(reverse("party:boards_pdf"), {"area": tree.units[0].pk}).content
    reader = pypdf.PdfReader(io.BytesIO(content))
    fonts = [f.get_object() for page in reader.pages for f in page["/Resources"]["/Font"].values()]
    assert {str(f["/BaseFont"]).split("+")[-1] for f in fonts} == {"NotoSansSC-wuzhi", "NotoSansSC-wuzhi-Bold"}
    for font in fonts:
        # reportlab writes a TrueType subset as a simple font whose descriptor holds the file.
        assert "/FontFile2" in font["/FontDescriptor"].get_object()


def test_a_character_outside_the_font_does_not_break_the_pdf(tree, people, make_user):
    make_user("rare", Role.DOCTOR, tree.buildings[0], name="王䶮𠀀")
    content = boards.render_pdf(boards.boards_for(tree.buildings[0]))
    assert len(pdf_pages(content)) == 2


def test_qr_code_on_the_page_opens_the_units_portal_page(client, tree, people, roster, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed (apt-get install poppler-utils): cannot rasterise the PDF")
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp is in the dev extra: pip install -e '.[dev]'")
    from PIL import Image

    unit = tree.units[1]
    content = login(client, people.secretary).get(reverse("party:boards_pdf"), {"area": tree.community.pk}).content
    (tmp_path / "boards.pdf").write_bytes(content)
    subprocess.run(["pdftoppm", "-r", "100", "-f", "2", "-l", "2", "-png", "-singlefile",
                    str(tmp_path / "boards.pdf"), str(tmp_path / "page")], check=True, timeout=60)
    found = zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))
    assert [r.text for r in found] == [f"{settings.PUBLIC_URL}/p/u/{unit.code}/"]
    # And the address it encodes is the portal page of that unit, open without a login.
    client.logout()
    page = client.get(f"/p/u/{unit.code}/")
    assert page.status_code == 200 and "1栋 2单元" in page.content.decode()


# ---- a community of the demo's size -------------------------------------------------------


@pytest.fixture
def community63(db):
    """3 grids × 7 buildings × 3 units = 63 units, the number of boards in 福兴社区."""
    county = core_services.area_create(actor=None, parent=None, segment="530626", name="绥江县")
    town = core_services.area_create(actor=None, parent=county, segment="100", name="中城镇")
    community = core_services.area_create(actor=None, parent=town, segment="012", name="福兴社区")
    for g in range(1, 4):
        grid = core_services.area_create(actor=None, parent=community, segment=f"{g:02d}", name=f"{g}网格")
        for b in range(1, 8):
            building = core_services.area_create(actor=None, parent=grid, segment=f"{b:02d}", name=f"{(g - 1) * 7 + b}栋")
            for u in range(1, 4):
                core_services.area_create(actor=None, parent=building, segment=str(u), name=f"{u}单元")
    return community


def test_63_boards_in_one_pdf_quickly(client, community63, make_user):
    """The request includes registering the fonts when it is the first PDF of the process."""
    secretary = make_user("shuji", Role.SECRETARY, community63, name="李书记")
    started = time.perf_counter()
    response = login(client, secretary).get(reverse("party:boards_pdf"), {"area": community63.pk})
    elapsed = time.perf_counter() - started
    pages = pdf_pages(response.content)
    assert len(pages) == 63
    assert "21栋 3单元" in pages[-1] and "李书记" in pages[-1]
    assert elapsed < 10, f"63 boards took {elapsed:.1f} s"


def test_a_phone_appears_on_the_board_only_with_its_holders_consent(client, tree, people, roster):
    from django.core.exceptions import ValidationError

    from wuzhi.core.errors import NotAllowed

    unit = tree.units[0]
    worker = people.worker1
    with pytest.raises(NotAllowed):  # nobody consents on someone else's behalf
        core_services.profile_update(actor=people.secretary, user=worker, phone="13900001111", publish_phone=True)
    core_services.profile_update(actor=worker, user=worker, phone="13900001111", publish_phone=False)
    assert "13900001111" not in str(boards.board_for(unit).grid_duties)
    client.force_login(worker)
    response = client.post(reverse("my_profile"), {"phone": "13900001111", "publish_phone": "on"})
    assert response.status_code == 302
    assert "13900001111" in str(boards.board_for(unit).grid_duties)
    with pytest.raises(ValidationError):
        core_services.profile_update(actor=worker, user=worker, phone="123", publish_phone=True)
