"""Finer statistics on the searched name columns (PostgreSQL). A search page takes each part's
first keys in (household, person) order; the planner either reads the part's matches from its
covering index and sorts them, or walks the household index in order and checks every row,
which wins only when matches are dense. With the default 100-bucket histogram it guessed a
three-letter initial like "yyc" at 23,000 matches of 5 million (2,992 in fact) and walked the
household index: 27 ms instead of 1 ms. A 1,000-bucket histogram puts the guess within a few
percent; one ANALYZE of 5 million residents takes about 10 s. Other databases have no such knob."""

from django.db import migrations

COLUMNS = ("name", "name_pinyin", "name_initials")


def finer(apps, schema_editor, target=1000):
    if schema_editor.connection.vendor != "postgresql":
        return
    alter = ", ".join(f'ALTER COLUMN "{c}" SET STATISTICS {target}' for c in COLUMNS)
    schema_editor.execute(f'ALTER TABLE "registry_resident" {alter}')


def default(apps, schema_editor):
    finer(apps, schema_editor, target=-1)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0004_search_cover"),
    ]

    operations = [migrations.RunPython(finer, default)]
