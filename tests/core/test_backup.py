"""Backup and restore round trips (SQLite and PostgreSQL, whichever the suite runs on), the key
checks that stop a restore that could not decrypt, and key rotation."""

from __future__ import annotations

import sqlite3
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from wuzhi.core import backup, crypto
from wuzhi.core.backup import BackupError
from wuzhi.registry.models import Resident


@pytest.fixture
def restore_target(tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind to restore into, as a URL; dropped afterwards."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    import psycopg

    db = connection.settings_dict
    name = f"{db['NAME']}_restore_{uuid.uuid4().hex[:6]}"
    params = {k: v for k, v in {"host": db.get("HOST"), "port": db.get("PORT"), "user": db.get("USER"),
                                "password": db.get("PASSWORD")}.items() if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        user = f"{db['USER']}@" if db.get("USER") else ""
        yield f"postgres://{user}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read the restored database directly, not through Django's configured connection."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def people_on_disk(transactional_db, tree, make_household) -> list[Resident]:
    # Committed rows (transactional_db): pg_dump reads with its own connection.
    make_household(tree.dwellings[0], [("张黎", {"phone": "13912345678"}), ("李娜", {})])
    make_household(tree.dwellings[1], [("王芳", {"phone": "13800001111"})])
    return list(Resident.objects.order_by("pk"))


def test_round_trip_keeps_every_row_and_every_secret(people_on_disk, tmp_path, restore_target):
    archive = tmp_path / "b.tar.gz"
    manifest = backup.backup(archive)
    assert manifest["counts"]["registry_resident"] == 3
    assert manifest["field_key_ids"] == [crypto.current_key_id()]
    # The archive carries identifiers, never key material.
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        text = tar.extractfile("manifest.json").read().decode()
    assert "manifest.json" in names
    from django.conf import settings
    for part in settings.FIELD_KEYS.split(","):
        assert part.partition(":")[2] not in text
    assert settings.INDEX_KEY not in text

    counts = backup.restore(archive, to_url=restore_target)
    assert counts == manifest["counts"]
    rows = dict(query(restore_target, "SELECT name, id_number_enc FROM registry_resident"))
    for person in people_on_disk:
        assert crypto.decrypt(rows[person.name]) == crypto.decrypt(person.id_number_enc)


def test_restore_refuses_when_a_needed_key_is_not_configured(people_on_disk, tmp_path, restore_target, settings):
    archive = tmp_path / "b.tar.gz"
    backup.backup(archive)
    settings.FIELD_KEYS = "k9:" + "A" * 43  # a different key set: k1 is gone
    with pytest.raises(BackupError, match="需要密钥 k1"):
        backup.restore(archive, to_url=restore_target)
    settings.FIELD_KEYS = settings.FIELD_KEYS  # restored by the settings fixture


def test_restore_refuses_another_index_key(people_on_disk, tmp_path, restore_target, settings):
    archive = tmp_path / "b.tar.gz"
    backup.backup(archive)
    settings.INDEX_KEY = "B" * 43
    with pytest.raises(BackupError, match="检索密钥"):
        backup.restore(archive, to_url=restore_target)


def test_a_damaged_archive_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a backup")
    with pytest.raises(BackupError, match="不是有效的备份文件"):
        backup.read_manifest(bad)


def test_backup_and_restore_commands(people_on_disk, tmp_path, restore_target):
    from io import StringIO

    out = StringIO()
    archive = tmp_path / "cmd.tar.gz"
    call_command("backup", "--out", str(archive), stdout=out)
    assert "已备份到" in out.getvalue() and "不含密钥" in out.getvalue()
    out = StringIO()
    call_command("restore", str(archive), "--to", restore_target, stdout=out)
    assert "与备份一致" in out.getvalue()
    manifest = backup.read_manifest(archive)
    assert manifest["counts"]["registry_household"] == 2


def test_rotate_keys_re_encrypts_everything_and_keeps_lookups(db, tree, make_household, settings):
    make_household(tree.dwellings[0], [("张黎", {"phone": "13912345678"}), ("李娜", {})])
    before = {r.pk: (crypto.decrypt(r.id_number_enc), crypto.decrypt(r.phone_enc), r.id_number_hash)
              for r in Resident.objects.all()}
    settings.FIELD_KEYS = "k2:" + "Q" * 43 + "," + settings.FIELD_KEYS
    changed = backup.rotate_keys(batch=1)
    assert changed["registry.Resident.id_number_enc"] == 2 and changed["registry.Resident.phone_enc"] == 1
    for r in Resident.objects.all():
        assert r.id_number_enc.startswith("k2:")
        assert (crypto.decrypt(r.id_number_enc), crypto.decrypt(r.phone_enc), r.id_number_hash) == before[r.pk]
    # Nothing left under the old key: a second run changes nothing, and the old key can go.
    assert sum(backup.rotate_keys().values()) == 0


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    from wuzhi.demo.testing import shared_demo

    yield from shared_demo(request, django_db_blocker)


def test_the_demo_round_trips(fuxing, db, tmp_path, restore_target):
    archive = tmp_path / "demo.tar.gz"
    manifest = backup.backup(archive)
    assert manifest["counts"]["registry_resident"] == 6820 and manifest["counts"]["registry_household"] == 1775
    assert backup.restore(archive, to_url=restore_target) == manifest["counts"]
    # A sample of decrypted ID and phone numbers: the same people, the same numbers.
    sample = list(Resident.objects.exclude(phone_enc="").order_by("pk")[::400])
    restored = dict((pk, (i, p)) for pk, i, p in query(
        restore_target, "SELECT id, id_number_enc, phone_enc FROM registry_resident"))
    assert len(sample) >= 10
    for person in sample:
        id_enc, phone_enc = restored[person.pk]
        assert crypto.decrypt(id_enc) == crypto.decrypt(person.id_number_enc)
        assert crypto.decrypt(phone_enc) == crypto.decrypt(person.phone_enc)
