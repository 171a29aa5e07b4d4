from django.db import migrations

# The customer search (CustomerQuerySet.search) finds a name that contains the text. No index
# served UPPER(name) LIKE '%TEXT%', so the list read the scope's customers in name order until
# it had a page of matches: at 1M customers 3.6 s for an admin looking for one customer by name,
# 0.4 s for a team manager. A trigram index (pg_trgm, shipped with PostgreSQL and trusted since
# 13: the database owner may create it) serves it — but not on the customer table, where every
# customer whose tier a re-grade moves would be written into it too (a full re-grade at 1M, runs
# interleaved: 28.8 and 30.5 s, against 28.1 and 27.5 s without). It sits on a table of its own,
# the customer's id and upper-cased name, kept by triggers: rows inserted and deleted per
# statement, a name changed per row and only when an UPDATE sets the name (a re-grade never
# does). PostgreSQL only: SQLite databases are small, and there the search compares the names.
TABLE = "customers_name_search"
SQL = f"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE {TABLE} (id bigint PRIMARY KEY, name_upper text NOT NULL);
INSERT INTO {TABLE} (id, name_upper) SELECT id, UPPER(name) FROM customers_customer;
CREATE INDEX {TABLE}_trgm ON {TABLE} USING gin (name_upper gin_trgm_ops);

CREATE FUNCTION {TABLE}_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} (id, name_upper) SELECT id, UPPER(name) FROM new_rows;
    RETURN NULL;
END $$;
CREATE TRIGGER {TABLE}_inserted AFTER INSERT ON customers_customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_inserted();

CREATE FUNCTION {TABLE}_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {TABLE} s USING old_rows o WHERE s.id = o.id;
    RETURN NULL;
END $$;
CREATE TRIGGER {TABLE}_deleted AFTER DELETE ON customers_customer
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_deleted();

CREATE FUNCTION {TABLE}_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {TABLE} SET name_upper = UPPER(NEW.name) WHERE id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER {TABLE}_renamed AFTER UPDATE OF name ON customers_customer
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION {TABLE}_renamed();

CREATE FUNCTION {TABLE}_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE {TABLE};
    RETURN NULL;
END $$;
CREATE TRIGGER {TABLE}_emptied AFTER TRUNCATE ON customers_customer
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_emptied();
"""
REVERSE = f"""
DROP TRIGGER IF EXISTS {TABLE}_inserted ON customers_customer;
DROP TRIGGER IF EXISTS {TABLE}_deleted ON customers_customer;
DROP TRIGGER IF EXISTS {TABLE}_renamed ON customers_customer;
DROP TRIGGER IF EXISTS {TABLE}_emptied ON customers_customer;
DROP FUNCTION IF EXISTS {TABLE}_inserted(), {TABLE}_deleted(), {TABLE}_renamed(), {TABLE}_emptied();
DROP TABLE IF EXISTS {TABLE};
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE)


class Migration(migrations.Migration):
    dependencies = [("customers", "0017_customer_autovacuum")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
