"""Search at city scale (issue 9), on PostgreSQL only: trigram indexes for the "contains" parts of
the one search box (a name, part of an address) and a pattern index for a name's first
characters (the database's C.UTF-8 collation keeps the plain btree of 0001 from serving
LIKE '张伟%'). Other databases keep the indexes of 0001; SQLite searches a community's rows
fast enough without them. Kept out of the models' Meta because they are PostgreSQL-only."""

from django.db import migrations

INDEXES = [
    ("registry_resident_name_trgm", "registry_resident", 'USING gin ("name" gin_trgm_ops)'),
    ("registry_household_address_trgm", "registry_household", 'USING gin ("address" gin_trgm_ops)'),
    ("registry_resident_name_prefix", "registry_resident", '("name" varchar_pattern_ops)'),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, how in INDEXES:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {name} ON "{table}" {how}')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_visit_created_by_blank")]

    operations = [migrations.RunPython(create, drop)]
