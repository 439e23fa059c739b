"""SQL helpers shared by the report models, the warehouses and the Gemini analyst.

Pure functions that import nothing of ours:

- :func:`split_sql` cuts SQL into code and literal chunks (strings, quoted identifiers,
  comments), so window markers are found (:func:`find_window_parameters`) and bound only in code;
- :func:`is_sql` tells a report's SQL from a plain-language prompt;
- :func:`check_read_only` accepts exactly one read-only query over the warehouse's tables, built
  from an allow-list of functions and table functions. Every report's SQL and every query the
  Gemini analyst writes passes it; the warehouse's own sandbox (read-only engine settings, no
  file or network access) is the fence behind it.

sqlglot is imported on first use: the code location imports this module through the report
models, and sqlglot's import (about 0.2 s here) is only worth paying once a query is looked at.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

WINDOW_PARAMETERS = ("window_start_date", "window_end_date", "window_start", "window_end")
PARAMETER_PATTERN = re.compile(r"(?<![\w@])@(" + "|".join(WINDOW_PARAMETERS) + r")\b")
MAX_REASON_CHARS = 200

_DIALECTS = (None, "bigquery", "duckdb", "postgres")
# Table functions a query may read from (FROM name(...)): they generate rows and read nothing.
# Every other table function (DuckDB's read_* and duckdb_* catalogs, pragma_*, sqlite_scan,
# PostgreSQL's dblink, ...) is refused.
TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "generate_array", "generate_date_array", "generate_timestamp_array"}
)
# Functions report SQL may call besides those in sqlglot's function catalog for the dialects
# above (aggregates, date, string, math, window functions: computations on values). A function
# that is in neither is refused by name, so a side effect (pg_sleep, set_config, nextval, setval,
# pg_terminate_backend, lo_unlink), a catalog or settings reader (current_setting,
# duckdb_settings) or anything a new engine version adds never runs through a report.
EXTRA_FUNCTIONS = frozenset(
    {
        "now", "date_part", "datepart", "epoch", "epoch_ms", "quantile_cont", "quantile_disc",
        "strftime", "strptime", "julianday", "printf", "make_date", "make_timestamp", "age",
        "justify_interval", "width_bucket", "list_value", "regexp_matches", "pg_typeof",
    }
)  # fmt: skip
# Functions in that catalog that read files, URLs, other databases, settings or the
# environment, or change a sequence: refused although sqlglot knows them.
_OUTSIDE_FUNCTIONS = frozenset(
    {
        "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json",
        "read_json_auto", "read_json_objects", "read_ndjson", "read_ndjson_auto",
        "read_ndjson_objects", "read_text", "read_blob", "read_xlsx", "sniff_csv", "glob",
        "getenv", "query", "query_table", "sqlite_scan", "postgres_scan", "postgres_query",
        "mysql_query", "iceberg_scan", "delta_scan", "current_setting", "pg_read_file",
        "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import", "lo_export", "dblink",
        "dblink_exec", "external_query", "next_value_for", "to_file", "parse_url",
    }
)  # fmt: skip
# A table name that is a path or a data file: DuckDB's replacement scans read it from disk.
_FILE_TABLE = re.compile(
    r"[/\\]|\.(?:csv|tsv|txt|json|jsonl|ndjson|parquet|xlsx|gz|zst|db|duckdb|sqlite)$",
    re.IGNORECASE,
)
_ANY_PARAMETER = re.compile(r"(?<![\w@])@@?[A-Za-z_]\w*")
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_SQL_START = re.compile(
    r"(?:SELECT\b|WITH\s+(?:RECURSIVE\s+)?(?:[\w$]+|\"[^\"]+\"|`[^`]+`)\s*(?:\([^)]*\)\s*)?AS\b)",
    re.IGNORECASE,
)


def split_sql(sql: str) -> list[tuple[str, str]]:
    """Split SQL into ("code" | "literal", text) chunks.

    Literals are quoted strings ('...' with '' escapes), quoted identifiers ("..." and `...`),
    and comments (-- and /* */): parameters are only recognised outside them, so
    ``'bob@window_start.io'`` or ``-- uses @window_start`` stay untouched.
    """
    chunks: list[tuple[str, str]] = []
    code_start = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        end = None
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            end = n if j == -1 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            end = n if j == -1 else j + 2
        if end is None:
            i += 1
            continue
        if code_start < i:
            chunks.append(("code", sql[code_start:i]))
        chunks.append(("literal", sql[i:end]))
        i = code_start = end
    if code_start < n:
        chunks.append(("code", sql[code_start:]))
    return chunks


def find_window_parameters(sql: str) -> list[str]:
    """The window parameters a query uses, outside string literals, identifiers and comments."""
    used: list[str] = []
    for kind, chunk in split_sql(sql):
        if kind == "code":
            for match in PARAMETER_PATTERN.finditer(chunk):
                if match.group(1) not in used:
                    used.append(match.group(1))
    return used


@dataclass(frozen=True)
class _Grammar:
    """The sqlglot names the checks use, built once on first use."""

    sqlglot: Any
    exp: Any
    token_type: Any
    parse_error: type[Exception]
    token_error: type[Exception]
    query_start: frozenset
    write_tokens: frozenset
    write_nodes: dict
    functions: frozenset


@functools.cache
def _grammar() -> _Grammar:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError
    from sqlglot.tokens import TokenType

    return _Grammar(
        sqlglot=sqlglot,
        exp=exp,
        token_type=TokenType,
        parse_error=ParseError,
        token_error=TokenError,
        query_start=frozenset({TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN}),
        # Reserved words that only occur in writes, grants and row locks. Words that are also
        # ordinary column or function names (set, copy, call, load, truncate) are caught in the
        # parsed tree.
        write_tokens=frozenset(
            {
                TokenType.INSERT, TokenType.UPDATE, TokenType.DELETE, TokenType.MERGE,
                TokenType.CREATE, TokenType.DROP, TokenType.ALTER, TokenType.GRANT,
                TokenType.REVOKE, TokenType.PRAGMA, TokenType.ATTACH, TokenType.DETACH,
            }
        ),  # fmt: skip
        write_nodes={
            exp.Insert: "INSERT",
            exp.Update: "UPDATE",
            exp.Delete: "DELETE",
            exp.Merge: "MERGE",
            exp.Create: "CREATE",
            exp.Drop: "DROP",
            exp.Alter: "ALTER",
            exp.Grant: "GRANT",
            exp.Revoke: "REVOKE",
            exp.Copy: "COPY",
            exp.Attach: "ATTACH",
            exp.Detach: "DETACH",
            exp.Pragma: "PRAGMA",
            exp.Set: "SET",
            exp.TruncateTable: "TRUNCATE",
            exp.Into: "SELECT ... INTO",
            exp.Lock: "a row lock (FOR UPDATE / FOR SHARE)",
            exp.LoadData: "LOAD DATA",
            exp.Use: "USE",
            exp.Transaction: "a transaction",
            exp.Commit: "COMMIT",
            exp.Rollback: "ROLLBACK",
            # sqlglot's fallback for statements it does not model: CALL, EXECUTE, VACUUM ...
            exp.Command: "a command",
        },
        functions=frozenset(
            name.lower()
            for dialect in _DIALECTS
            for name in sqlglot.Dialect.get_or_raise(dialect).parser_class.FUNCTIONS
        )
        | EXTRA_FUNCTIONS,
    )


def check_read_only(sql: str) -> str:
    """Return ``sql`` ready to run if it is one read-only query, else raise ``ValueError``.

    Read-only means exactly one statement, a SELECT or WITH ... SELECT (set operations of them
    included), with no INSERT, UPDATE, DELETE, MERGE, CREATE, DROP, ALTER, GRANT, REVOKE, COPY,
    ATTACH, DETACH, PRAGMA, SET, CALL, TRUNCATE, SELECT ... INTO or row lock anywhere in it —
    not even in a CTE — that reads only tables (by name, never a file path), subqueries, VALUES
    and the generators in ``TABLE_FUNCTIONS``, and calls only functions on the allow-list: those
    sqlglot models for these dialects plus ``EXTRA_FUNCTIONS``, less ``_OUTSIDE_FUNCTIONS``.

    The SQL is parsed with sqlglot in the generic, BigQuery, DuckDB and PostgreSQL dialects;
    every dialect that parses it must agree it is read-only, so a comment or quoting rule of one
    dialect cannot hide a second statement from the check. Window parameters (``@window_start``
    ...) are accepted. The returned text is ``sql`` itself, trimmed of surrounding whitespace
    and trailing semicolons, because sqlglot's rewrite could change its meaning in the
    warehouse's dialect. The warehouses run every report query through it and then on a
    sandboxed connection (read-only, no file or network access), which holds on its own.
    """
    g = _grammar()
    statement = re.sub(r"[\s;]+$", "", sql.strip())
    if not statement:
        raise ValueError("the query is empty")
    if any(kind == "literal" and chunk.startswith("/*!") for kind, chunk in split_sql(statement)):
        # MySQL runs the inside of /*! ... */ as SQL; every parser here reads it as a comment.
        raise ValueError("executable comments (/*! ... */) are not allowed")
    prepared = _without_parameters(statement)
    parsed_any = False
    first_error = ""
    for dialect in _DIALECTS:
        try:
            tokens = g.sqlglot.tokenize(prepared, read=dialect)
        except g.token_error as err:
            first_error = first_error or _first_line(err)
            continue
        if not tokens:
            raise ValueError("the query has no SQL in it, only comments")
        if tokens[0].token_type not in g.query_start:
            raise ValueError(
                "only SELECT queries may run (a SELECT or WITH ... SELECT); this one starts with "
                f"{tokens[0].text.upper()}"
            )
        for previous, token in zip([None, *tokens], tokens):
            if token.token_type in g.write_tokens:
                raise ValueError(f"only read-only queries may run; found {token.text.upper()}")
            if token.token_type is g.token_type.STRING and previous is not None and (
                previous.token_type in (g.token_type.FROM, g.token_type.JOIN)
            ):
                # DuckDB reads FROM 'path' as a file (or a URL).
                raise ValueError(
                    f"only the warehouse's tables may be read; found FROM '{token.text}'"
                )
        try:
            statements = _statements(prepared, dialect)
        except g.parse_error as err:
            first_error = first_error or _syntax_error(err)
            continue
        parsed_any = True
        if len(statements) != 1:
            raise ValueError(f"only one statement may run; found {len(statements)}")
        tree = statements[0]
        if not isinstance(tree, g.exp.Query):
            raise ValueError(f"only SELECT queries may run; found {_node_name(tree)}")
        for node in tree.walk():
            if isinstance(node, tuple(g.write_nodes)):
                raise ValueError(f"only read-only queries may run; found {_node_name(node)}")
            _check_stays_in_warehouse(node)
    if not parsed_any:
        raise ValueError(f"the SQL could not be parsed: {first_error}")
    return statement


def is_sql(text: str) -> bool:
    """Whether a report's ``query`` is SQL (run as is) rather than a plain-language prompt.

    True when the text starts with SELECT, or with WITH followed by a CTE (``WITH name AS (``),
    after any leading comments, or when sqlglot parses it as exactly one query (``(SELECT ...)``,
    DuckDB's ``FROM t``). Window parameters such as ``@window_start`` do not disturb the check.
    A prompt that itself begins with the word "select" reads as SQL: the warehouse's syntax
    error then says so, which is better than sending real SQL to the model by mistake.
    """
    prepared = _without_parameters(text).strip()
    if not prepared:
        return False
    body = _LEADING_COMMENTS.sub("", prepared)
    if _SQL_START.match(body):
        return True
    g = _grammar()
    for dialect in _DIALECTS:
        try:
            tokens = g.sqlglot.tokenize(prepared, read=dialect)
        except g.token_error:
            continue
        if not tokens or tokens[0].token_type not in (g.token_type.L_PAREN, g.token_type.FROM):
            # Only these can open a query besides SELECT / WITH; parsing prose that starts with
            # "Show" or "Set" would only log sqlglot's fallback warnings.
            continue
        try:
            statements = _statements(prepared, dialect)
        except g.parse_error:
            continue
        if len(statements) == 1 and isinstance(statements[0], g.exp.Query):
            return True
    return False


def _without_parameters(sql: str) -> str:
    """``sql`` with each ``@name`` outside literals and comments replaced by ``NULL``.

    Only for parsing: the generic and PostgreSQL dialects do not read ``@name`` parameters, and
    NULL fits wherever a bound value may stand.
    """
    return "".join(
        _ANY_PARAMETER.sub("NULL", chunk) if kind == "code" else chunk
        for kind, chunk in split_sql(sql)
    )


def _check_stays_in_warehouse(node: Any) -> None:
    g = _grammar()
    exp = g.exp
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Func):
        name = _function_name(node.this)
        if name not in TABLE_FUNCTIONS:
            raise ValueError(
                f"only the warehouse's tables may be read; the table function {name}() is not "
                f"allowed (allowed: {', '.join(sorted(TABLE_FUNCTIONS))})"
            )
    elif isinstance(node, exp.Func):
        name = _function_name(node)
        if name in _OUTSIDE_FUNCTIONS:
            raise ValueError(f"only the warehouse's tables may be read; {name}() reaches outside them")
        if isinstance(node, exp.Anonymous) and name not in g.functions:
            raise ValueError(
                f"the function {name}() is not on the list of functions report SQL may call "
                "(SQL's aggregate, date, string, math and window functions are)"
            )
    elif isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        name = ".".join(part.name for part in node.parts)
        if _FILE_TABLE.search(name):
            raise ValueError(f"only the warehouse's tables may be read; {name!r} is a file")


def _function_name(node: Any) -> str:
    exp = _grammar().exp
    name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
    # sqlglot's name for generate_series in the dialects where it yields rows.
    return "generate_series" if name == "exploding_generate_series" else name


def _statements(sql: str, dialect: str | None) -> list[Any]:
    # A trailing semicolon parses as an empty statement (None), which is no statement at all.
    return [tree for tree in _grammar().sqlglot.parse(sql, read=dialect) if tree is not None]


def _node_name(node: Any) -> str:
    g = _grammar()
    for kind, name in g.write_nodes.items():
        if isinstance(node, kind):
            if kind is g.exp.Command and node.this:
                return str(node.this).upper()
            return name
    return node.key.upper()


def _syntax_error(err: Exception) -> str:
    """``syntax error at line 1, column 64 near "GROUP"`` from sqlglot's ParseError."""
    found = (getattr(err, "errors", None) or [{}])[0]
    near = (found.get("highlight") or "").split()
    if not found.get("line") or not near:
        return _first_line(err)
    return f'syntax error at line {found["line"]}, column {found["col"]} near "{near[0]}"'


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= MAX_REASON_CHARS else line[: MAX_REASON_CHARS - 1] + "…"
