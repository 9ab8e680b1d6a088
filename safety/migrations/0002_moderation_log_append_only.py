"""On PostgreSQL the database itself refuses UPDATE and DELETE on the moderation log, so not even
raw SQL from the application can rewrite it (the ORM refuses them on every database)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION safety_moderation_action_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the moderation log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER safety_moderation_action_append_only
    BEFORE UPDATE OR DELETE ON safety_moderationaction
    FOR EACH ROW EXECUTE FUNCTION safety_moderation_action_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS safety_moderation_action_append_only ON safety_moderationaction;
DROP FUNCTION IF EXISTS safety_moderation_action_append_only();
"""


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("safety", "0001_initial")]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]
