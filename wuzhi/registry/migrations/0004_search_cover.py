"""Covering search indexes (issue 9): the indexes the search box uses carry what a search page
needs of each match before it knows the page (models.SEARCH_COVER), so that a city-wide search
of thousands of matches is answered from the indexes alone. The name's pattern index of 0003 is
PostgreSQL-only; it is rebuilt here with the same columns. Other databases ignore INCLUDE."""

from django.db import migrations, models

NAME_PREFIX = "registry_resident_name_prefix"


def cover_name_prefix(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME_PREFIX}")
    schema_editor.execute(f'CREATE INDEX {NAME_PREFIX} ON "registry_resident" ("name" varchar_pattern_ops) '
                          'INCLUDE ("id", "household_id", "status", "area_path")')


def uncover_name_prefix(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME_PREFIX}")
    schema_editor.execute(f'CREATE INDEX {NAME_PREFIX} ON "registry_resident" ("name" varchar_pattern_ops)')


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0003_search_indexes'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='resident',
            name='resident_pinyin',
        ),
        migrations.RemoveIndex(
            model_name='resident',
            name='resident_initials',
        ),
        migrations.RemoveIndex(
            model_name='resident',
            name='resident_id_tail',
        ),
        migrations.RemoveIndex(
            model_name='resident',
            name='resident_phone_tail',
        ),
        migrations.AddIndex(
            model_name='resident',
            index=models.Index(fields=['name_pinyin'], include=('id', 'household', 'status', 'area_path'), name='resident_pinyin_cover', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='resident',
            index=models.Index(fields=['name_initials'], include=('id', 'household', 'status', 'area_path'), name='resident_initials_cover', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='resident',
            index=models.Index(fields=['id_tail'], include=('id', 'household', 'status', 'area_path'), name='resident_id_tail_cover'),
        ),
        migrations.AddIndex(
            model_name='resident',
            index=models.Index(fields=['phone_tail'], include=('id', 'household', 'status', 'area_path'), name='resident_phone_tail_cover'),
        ),
        migrations.RunPython(cover_name_prefix, uncover_name_prefix),
    ]
