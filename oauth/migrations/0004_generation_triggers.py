"""The generation that what workers remember of tokens and apps (oauth.principal_cache) is
trusted under, kept by the database: one row of `doorman_generation`, given a new value by
triggers in the same transaction as any change to a table those facts are computed from. No
code path (a queryset `.update()`, raw SQL, an administrator in psql) can change them without
it, and a reader that reads the generation before the data it remembers can never store data
older than the generation it stores it under (READ COMMITTED: the new value and the change
commit together).

A row, not a sequence: `nextval` is outside transactions, so a reader could see a new value
before the change it stands for commits, read the old data and keep it under the new value.
On PostgreSQL the values still come from a sequence (`doorman_generation_values`), so that no
value is ever used twice: a transaction that advanced the generation, read under the new
value and then rolled back leaves a value nobody will ever see again, where `value + 1` would
be reached again by the next change and make what was read in the rolled-back transaction
look current. SQLite (development and tests) has no sequence; a random 64-bit value serves.

Tables watched, and the columns whose changes alone are ignored (bookkeeping the hot paths
write that nothing remembered is computed from):
- accounts_user (`last_login`, written by every sign-in): a token's user, their org;
- connected_apps_connectedapp (`last_used_at`, written by token issuance): a token's app,
  the token endpoint's client;
- connected_apps_appscope: the scopes an app holds;
- connected_apps_orgappsettings: an org's switch and allowlist toggle;
- connected_apps_allowlistentry: the scopes an org approved for an app;
- oauth_accesstoken, updates only, and only those keeping the checksum (`updated` ignored):
  a token's own scope, expiry, user or family changed in place. Its inserts and deletes
  advance nothing: every bearer request asks whether its token's row still exists
  (oauth.principal_cache.lookup), so a revocation (a delete) needs no generation, and
  issuing tokens never waits on this row's lock.

The price is a row lock: a transaction that changes a watched table holds this row's lock
from that change until it commits, so such transactions (administrators' writes; the hot
paths write only ignored columns, or nothing watched) run one at a time from that point, and
two that then lock each other's rows in opposite order deadlock (PostgreSQL aborts one).

On PostgreSQL a TRUNCATE of a watched table advances it too. On SQLite a table that a later
migration rebuilds loses its triggers, and an UPDATE trigger lists the columns it compares:
tests/oauth/test_generation.py checks every watched table's triggers and columns, so such a
migration must install them again (`install(apps, schema_editor)` here).
"""

from django.db import migrations

GENERATION = "doorman_generation"
VALUES = "doorman_generation_values"
OLD_SEQUENCE = "doorman_app_generation"  # 0003's, which this replaces

# (app label, model, columns whose changes alone are ignored)
WATCHED = (
    ("accounts", "User", ("last_login",)),
    ("connected_apps", "ConnectedApp", ("last_used_at",)),
    ("connected_apps", "AppScope", ()),
    ("connected_apps", "OrgAppSettings", ()),
    ("connected_apps", "AllowlistEntry", ()),
)
# Updates only, keeping the checksum (a new checksum leaves the old one unknown: refused).
TOKEN = ("oauth", "AccessToken", ("updated",))

POSTGRESQL_GENERATION = (
    f"CREATE SEQUENCE {VALUES}",
    f"""CREATE TABLE {GENERATION} (
        id smallint PRIMARY KEY CHECK (id = 1),
        value bigint NOT NULL
    )""",
    f"INSERT INTO {GENERATION} (id, value) VALUES (1, nextval('{VALUES}'))",
    f"""CREATE FUNCTION doorman_generation_advance() RETURNS trigger AS $$
    BEGIN
        UPDATE {GENERATION} SET value = nextval('{VALUES}') WHERE id = 1;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql""",
    f"DROP SEQUENCE IF EXISTS {OLD_SEQUENCE}",
)
SQLITE_GENERATION = (
    f"""CREATE TABLE {GENERATION} (
        id integer PRIMARY KEY CHECK (id = 1),
        value integer NOT NULL
    )""",
    f"INSERT INTO {GENERATION} (id, value) VALUES (1, random())",
)
SQLITE_ADVANCE = f"UPDATE {GENERATION} SET value = random() WHERE id = 1;"


def _ignoring(columns: tuple[str, ...], row: str) -> str:
    """The row as jsonb, without `columns` (PostgreSQL)."""
    names = ", ".join(f"'{column}'" for column in columns)
    return f"(to_jsonb({row}) - ARRAY[{names}]::text[])"


def _postgresql_triggers(table: str, ignored: tuple[str, ...], *, token: bool) -> list[str]:
    changed = f"{_ignoring(ignored, 'OLD')} IS DISTINCT FROM {_ignoring(ignored, 'NEW')}"
    if token:
        changed = f"OLD.token_checksum = NEW.token_checksum AND {changed}"
    statements = [
        f"""CREATE TRIGGER doorman_generation_update AFTER UPDATE ON {table}
            FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION doorman_generation_advance()"""
    ]
    if not token:
        statements += [
            f"""CREATE TRIGGER doorman_generation_rows AFTER INSERT OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION doorman_generation_advance()""",
            f"""CREATE TRIGGER doorman_generation_truncate AFTER TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION doorman_generation_advance()""",
        ]
    return statements


def _sqlite_triggers(table: str, columns: list[str], *, token: bool) -> list[str]:
    changed = " OR ".join(f'OLD."{column}" IS NOT NEW."{column}"' for column in columns)
    if token:
        changed = f"OLD.token_checksum = NEW.token_checksum AND ({changed})"
    statements = [
        f"""CREATE TRIGGER doorman_generation_{table}_update AFTER UPDATE ON {table}
            FOR EACH ROW WHEN {changed} BEGIN {SQLITE_ADVANCE} END"""
    ]
    if not token:
        statements += [
            f"""CREATE TRIGGER doorman_generation_{table}_{event.lower()} AFTER {event}
                ON {table} FOR EACH ROW BEGIN {SQLITE_ADVANCE} END"""
            for event in ("INSERT", "DELETE")
        ]
    return statements


def install(apps, schema_editor) -> None:
    """(Re)create every watched table's triggers, from the models as `apps` has them."""
    vendor = schema_editor.connection.vendor
    for label, name, ignored in (*WATCHED, TOKEN):
        model = apps.get_model(label, name)
        table = model._meta.db_table
        token = (label, name, ignored) == TOKEN
        if vendor == "postgresql":
            statements = [
                f"DROP TRIGGER IF EXISTS doorman_generation_{kind} ON {table}"
                for kind in ("update", "rows", "truncate")
            ]
            statements += _postgresql_triggers(table, ignored, token=token)
        else:
            columns = [
                field.column for field in model._meta.concrete_fields if field.column not in ignored
            ]
            statements = [
                f"DROP TRIGGER IF EXISTS doorman_generation_{table}_{kind}"
                for kind in ("update", "insert", "delete")
            ]
            statements += _sqlite_triggers(table, columns, token=token)
        for statement in statements:
            schema_editor.execute(statement, None)


def forwards(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"doorman_generation needs PostgreSQL or SQLite, not {vendor}")
    for statement in POSTGRESQL_GENERATION if vendor == "postgresql" else SQLITE_GENERATION:
        schema_editor.execute(statement, None)
    install(apps, schema_editor)


def backwards(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for label, name, _ in (*WATCHED, TOKEN):
        table = apps.get_model(label, name)._meta.db_table
        if vendor == "postgresql":
            for kind in ("update", "rows", "truncate"):
                schema_editor.execute(
                    f"DROP TRIGGER IF EXISTS doorman_generation_{kind} ON {table}"
                )
        else:
            for kind in ("update", "insert", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS doorman_generation_{table}_{kind}")
    schema_editor.execute(f"DROP TABLE {GENERATION}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION doorman_generation_advance()")
        schema_editor.execute(f"DROP SEQUENCE {VALUES}")
        schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {OLD_SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [
        ("oauth", "0003_app_generation_sequence"),
        ("accounts", "0004_portal_session"),
        ("connected_apps", "0004_consent_reset_at"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
