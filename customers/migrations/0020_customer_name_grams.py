from django.db import migrations

# The trigram index (0018) cannot look up a text without three letters or digits in a row: a
# Chinese firm's usual two-character short name ("华能"), a pair of initials. Those were compared
# with every name the user may see, in list order: at 1M customers a pair in no name took a risk
# officer's or an admin's customer list 4.3-4.7 s, a team manager's 0.3 s. This index holds each
# name's characters and pairs of characters (customers_name_grams, none with an ASCII space in
# it: the same in any locale, as customers.search.text_grams must match it); the search asks it
# for the text's rarest pair, or character (customers.search.short_ids_sql).
FUNCTION = "customers_name_grams"
INDEX = "customers_name_search_grams"
SQL = f"""
CREATE FUNCTION {FUNCTION}(name text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(DISTINCT g), '{{}}')
    FROM generate_series(1, char_length(name)) AS i,
         LATERAL (VALUES (substr(name, i, 1)), (substr(name, i, 2))) AS grams(g)
    WHERE g !~ '[ \\t\\n\\r\\f\\v]'
$$;
CREATE INDEX {INDEX} ON customers_name_search USING gin ({FUNCTION}(name_upper));
"""
REVERSE = f"""
DROP INDEX IF EXISTS {INDEX};
DROP FUNCTION IF EXISTS {FUNCTION}(text);
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE)


class Migration(migrations.Migration):
    dependencies = [("customers", "0019_grade_brin_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
