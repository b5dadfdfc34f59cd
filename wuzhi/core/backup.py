"""Backup, restore and key rotation.

A backup is one .tar.gz: `manifest.json` (format, time, database vendor, the identifiers of the
encryption keys its ciphertexts need — never the keys — and the row count of every table), the
database (SQLite: an online backup through SQLite's backup API, consistent while the site keeps
writing; PostgreSQL: `pg_dump -Fc`, one snapshot transaction) and the uploaded files (case
photos). The keys are deliberately not in it: a stolen backup must not decrypt itself. Restoring
checks that the keys it needs are configured before touching anything, then compares the row
counts with the manifest.

Encrypted columns are found by convention: every model field named `*_enc` holds
`crypto.encrypt()` output. `rotate_keys` re-encrypts those with the current (first) key."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dj_database_url
from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction

from . import crypto

FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, in Chinese."""


def key_ids() -> list[str]:
    return [part.strip().partition(":")[0] for part in settings.FIELD_KEYS.split(",") if part.strip()]


def index_key_fingerprint() -> str:
    """Identifies the blind-index key without revealing it: restored digests only match lookups
    made with the same key."""
    key = crypto._b64decode(settings.INDEX_KEY)
    return hmac.new(key, b"wuzhi index key fingerprint", hashlib.sha256).hexdigest()[:16]


def encrypted_fields() -> Iterator[tuple[type[models.Model], str]]:
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.name.endswith("_enc"):
                yield model, field.name


def _table_counts(cursor: Any, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 — table names come from the models
        counts[table] = cursor.fetchone()[0]
    return counts


def _model_tables() -> list[str]:
    return sorted({m._meta.db_table for m in apps.get_models() if m._meta.managed and not m._meta.proxy})


def _key_ids_in_use() -> list[str]:
    """Which key ids the stored ciphertexts actually carry (what a restore needs configured)."""
    used: set[str] = set()
    for model, name in encrypted_fields():
        for value in model._default_manager.exclude(**{name: ""}).values_list(name, flat=True).distinct()[:100000]:
            used.add(value.partition(":")[0])
    return sorted(used)


@dataclass(frozen=True)
class Target:
    """Where a restore writes: the configured database or another one given by URL."""

    vendor: str
    settings: dict[str, Any]

    @classmethod
    def from_url(cls, url: str | None) -> Target:
        if not url:
            return cls(connection.vendor, dict(connection.settings_dict))
        parsed = dj_database_url.parse(url)
        vendor = "sqlite" if "sqlite" in parsed["ENGINE"] else "postgresql"
        return cls(vendor, dict(parsed))


def _pg_env(db: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if db.get(key):
            env[var] = str(db[key])
    return env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{args[0]} 失败:{done.stderr.strip()[-500:]}")


def backup(out: Path) -> dict[str, Any]:
    """Write a backup archive to `out`; returns its manifest."""
    tables = _model_tables()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        connection.ensure_connection()
        if connection.vendor == "sqlite":
            dump = work / "db.sqlite3"
            target = sqlite3.connect(dump)
            if connection.in_atomic_block:
                # Inside a caller's transaction (the tests) SQLite's backup API can wait for ever
                # on that transaction's own pending write; an SQL dump reads the same snapshot
                # through the same connection.
                target.executescript("\n".join(connection.connection.iterdump()))
            else:
                with target:
                    connection.connection.backup(target)  # SQLite's online backup: a consistent copy
            counts = _table_counts(target.cursor(), tables)
            target.close()
        elif connection.vendor == "postgresql":
            dump = work / "db.dump"
            db = connection.settings_dict
            # pg_dump reads the snapshot exported by our own repeatable-read transaction, so the
            # manifest's counts describe exactly the rows in the dump. A connection of its own:
            # Django's may already be inside a transaction.
            with _pg_connect(db) as conn, conn.cursor() as cursor:
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                _run(["pg_dump", "-Fc", f"--snapshot={snapshot}", "-f", str(dump), db["NAME"]], _pg_env(db))
                counts = _table_counts(cursor, tables)
        else:
            raise BackupError(f"不支持的数据库:{connection.vendor}")
        manifest = {
            "format": FORMAT, "created_at": dt.datetime.now(dt.UTC).isoformat(), "vendor": connection.vendor,
            "database_file": dump.name, "field_key_ids": _key_ids_in_use(), "configured_key_ids": key_ids(),
            "index_key_fingerprint": index_key_fingerprint(), "counts": counts,
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        try:
            with tarfile.open(partial, "w:gz") as tar:
                data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                tar.add(dump, arcname=dump.name)
                media = Path(settings.MEDIA_ROOT)
                if media.exists():
                    tar.add(media, arcname="media")
            partial.replace(out)  # a half-written archive never carries the final name
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest: dict[str, Any] = json.loads(member.read())
    except (OSError, KeyError, tarfile.TarError, json.JSONDecodeError) as exc:
        raise BackupError(f"不是有效的备份文件:{exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError("备份格式版本不符,无法恢复")
    return manifest


def check_keys(manifest: dict[str, Any]) -> None:
    missing = sorted(set(manifest["field_key_ids"]) - set(key_ids()))
    if missing:
        raise BackupError(f"备份中的加密数据需要密钥 {', '.join(missing)},当前未配置(WUZHI_FIELD_KEYS);"
                          "恢复后将无法解密,已停止")
    if manifest["index_key_fingerprint"] != index_key_fingerprint():
        raise BackupError("当前的检索密钥(WUZHI_INDEX_KEY)与备份时不同:恢复后无法按证件号和电话查找,已停止")


def restore(archive: Path, *, to_url: str | None = None) -> dict[str, int]:
    """Restore `archive` into the configured database (or `to_url`); returns the restored row
    counts, which equal the manifest's or the restore is reported as failed."""
    manifest = read_manifest(archive)
    check_keys(manifest)
    target = Target.from_url(to_url)
    if target.vendor != manifest["vendor"]:
        raise BackupError(f"备份来自 {manifest['vendor']},不能恢复到 {target.vendor}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(work, filter="data")
        dump = work / manifest["database_file"]
        if target.vendor == "sqlite":
            counts = _restore_sqlite(dump, target, list(manifest["counts"]))
        else:
            counts = _restore_postgres(dump, target, list(manifest["counts"]))
        media = work / "media"
        if media.exists() and to_url is None:
            shutil.copytree(media, settings.MEDIA_ROOT, dirs_exist_ok=True)
    if counts != manifest["counts"]:
        diff = {t: (manifest["counts"].get(t), counts.get(t)) for t in set(counts) | set(manifest["counts"])
                if counts.get(t) != manifest["counts"].get(t)}
        raise BackupError(f"恢复后的记录数与备份不一致:{diff}")
    return counts


def _restore_sqlite(dump: Path, target: Target, tables: list[str]) -> dict[str, int]:
    source = sqlite3.connect(dump)
    try:
        if target.settings is connection.settings_dict or target.settings.get("NAME") == connection.settings_dict[
                "NAME"]:
            connection.ensure_connection()
            dest = connection.connection
            source.backup(dest)
            with connection.cursor() as cursor:
                return _table_counts(cursor, tables)
        dest = sqlite3.connect(target.settings["NAME"])
        try:
            source.backup(dest)
            return _table_counts(dest.cursor(), tables)
        finally:
            dest.close()
    finally:
        source.close()


def _restore_postgres(dump: Path, target: Target, tables: list[str]) -> dict[str, int]:
    db = target.settings
    if db["NAME"] == connection.settings_dict["NAME"]:
        connection.close()  # our own session would hold locks on the tables pg_restore drops
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "-d", db["NAME"], str(dump)],
         _pg_env(db))
    with _pg_connect(db) as conn, conn.cursor() as cursor:
        return _table_counts(cursor, tables)


def _pg_connect(db: dict[str, Any]) -> Any:
    import psycopg

    conninfo = {k: v for k, v in {"dbname": db["NAME"], "host": db.get("HOST"), "port": db.get("PORT"),
                                  "user": db.get("USER"), "password": db.get("PASSWORD")}.items() if v}
    return psycopg.connect(autocommit=True, **conninfo)


def rotate_keys(*, batch: int = 1000) -> dict[str, int]:
    """Re-encrypt every `*_enc` value not under the current key; returns rows changed per field.
    Run after prepending a new key to WUZHI_FIELD_KEYS; afterwards the old key can be removed."""
    current = crypto.current_key_id() + ":"
    changed: dict[str, int] = {}
    for model, name in encrypted_fields():
        label = f"{model._meta.label}.{name}"
        stale = model._default_manager.exclude(**{name: ""}).exclude(**{f"{name}__startswith": current})
        changed[label] = 0
        while True:
            with transaction.atomic():
                rows = list(stale.select_for_update().only("pk", name).order_by("pk")[:batch])
                if not rows:
                    break
                for row in rows:
                    setattr(row, name, crypto.encrypt(crypto.decrypt(getattr(row, name))))
                model._default_manager.bulk_update(rows, [name])
                changed[label] += len(rows)
    return changed
