"""The demo's 63 unit service boards print as one PDF, one page per unit, each QR code opening
its unit's portal page."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from wuzhi.core.models import Area, AreaKind
from wuzhi.demo.testing import shared_demo

pypdf = pytest.importorskip("pypdf", reason="pypdf is in the dev extra: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    yield from shared_demo(request, django_db_blocker)


def test_the_demo_prints_63_boards_with_working_qr_codes(fuxing, client, db, tmp_path):
    community = Area.objects.get(code="530626100012")
    client.force_login(get_user_model().objects.get(username="shuji"))
    response = client.get(reverse("party:boards_pdf"), {"area": community.pk})
    assert response.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 63
    units = sorted(Area.objects.filter(kind=AreaKind.UNIT, path__startswith=community.path), key=lambda u: u.path)
    assert "单元楼管理服务牌" in reader.pages[0].extract_text()
    assert "待补充" not in "".join(p.extract_text() for p in reader.pages)  # every role is filled
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed (apt-get install poppler-utils): cannot decode the QR code")
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp is in the dev extra")
    from PIL import Image

    (tmp_path / "boards.pdf").write_bytes(response.content)
    subprocess.run(["pdftoppm", "-r", "100", "-f", "1", "-l", "1", "-png", "-singlefile",
                    str(tmp_path / "boards.pdf"), str(tmp_path / "page")], check=True, timeout=60)
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))]
    assert found == [f"{settings.PUBLIC_URL}/p/u/{units[0].code}/"]
