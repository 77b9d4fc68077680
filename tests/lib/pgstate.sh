# shellcheck shell=bash
# The data of a PostgreSQL cluster as a few lines of text, to compare a restored copy with the state a test
# recorded before an accident: one line per ordinary table of every database that allows connections
# (templates left out), "database|schema.table|rows|md5", the md5 over the rows' text in a fixed order.
#
#   pg_state [PSQL_ARG...]   PSQL_ARG select the cluster (-h SOCKDIR -p PORT ...); PG* variables apply.
#                            Fails when a database cannot be read.

_pgstate_sql=$(
  cat <<'SQL'
SELECT format('%s|%s|%s', current_database(), t.tbl,
              (xpath('/row/c/text()', query_to_xml(format(
                 'SELECT count(*) || ''|'' || coalesce(md5(string_agg(x::text, '','' ORDER BY x::text)), '''') AS c '
                 'FROM %s x', t.tbl), false, true, '')))[1]::text)
FROM (SELECT c.oid::regclass::text AS tbl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\_toast%') t
ORDER BY 1
SQL
)

pg_state() {
  local db dbs
  dbs=$(psql "$@" -d postgres -qAtX -v ON_ERROR_STOP=1 \
    -c "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1") || return 1
  for db in $dbs; do
    psql "$@" -d "$db" -qAtX -v ON_ERROR_STOP=1 -c "$_pgstate_sql" || return 1
  done
}
