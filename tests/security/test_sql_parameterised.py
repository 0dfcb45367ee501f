"""All SQL is parameterised: no statement in src/ is built by string formatting (f-strings, %,
.format, +, join) and then executed. Composition with psycopg.sql (Identifier, Literal) is the way
to vary a statement's shape. No services: the source is read, not run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "mediabuy_sync"
EXECUTORS = {"execute", "executemany", "copy", "stream"}


def _is_formatted(node: ast.AST) -> bool:
    """A string built at run time from pieces: f-string with fields, %, +, .format(), .join()."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(value, ast.FormattedValue) for value in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"format", "join", "replace"}:
        # psycopg.sql.SQL("…{}…").format(sql.Identifier(…)) is composition, not formatting
        return not _is_psycopg_sql(node.func.value)
    return False


def _is_psycopg_sql(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "SQL") or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "SQL")


def formatted_sql(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of every execute-like call whose statement is formatted, directly or through a
    local name assigned a formatted string in the same function."""
    found = []
    for scope in [tree, *[n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]]:
        formatted_names = {
            target.id
            for node in ast.walk(scope) if isinstance(node, (ast.Assign, ast.AugAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name) and (isinstance(node, ast.AugAssign) or _is_formatted(node.value))
        }
        for node in ast.walk(scope):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTORS
                    and node.args):
                continue
            statement = node.args[0]
            if _is_formatted(statement) or (isinstance(statement, ast.Name) and statement.id in formatted_names):
                found.append((node.lineno, ast.unparse(statement)[:80]))
            if _is_psycopg_sql(statement) and statement.args and _is_formatted(statement.args[0]):
                found.append((node.lineno, "sql.SQL(<formatted>): " + ast.unparse(statement)[:60]))
    return sorted(set(found))


def test_no_sql_in_src_is_built_by_string_formatting():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for line, what in formatted_sql(ast.parse(path.read_text(), str(path))):
            offenders.append(f"{path.relative_to(SRC.parent)}:{line}: {what}")
    assert not offenders, "SQL built by string formatting:\n" + "\n".join(offenders)


@pytest.mark.parametrize("code", [
    'conn.execute(f"SELECT * FROM t WHERE id = {x}")',
    'conn.execute("SELECT * FROM t WHERE id = %s" % x)',
    'conn.execute("SELECT * FROM t WHERE id = " + x)',
    'conn.execute("SELECT * FROM t WHERE id = {}".format(x))',
    'cur.executemany(" ".join(parts), rows)',
    'def f(x):\n    q = f"DELETE FROM t WHERE id = {x}"\n    conn.execute(q)',
    'def f(x):\n    q = "SELECT 1"\n    q += x\n    conn.execute(q)',
    'conn.execute(sql.SQL(f"DROP TABLE {name}"))',
])
def test_the_scan_finds_formatted_sql(code):
    assert formatted_sql(ast.parse(code))


@pytest.mark.parametrize("code", [
    'conn.execute("SELECT * FROM t WHERE id = %s", (x,))',
    'conn.execute(Q["get_agent"], {"agent_id": agent_id})',
    'conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(db)))',
    'conn.execute(f"SELECT 1")',  # an f-string with no fields is a constant
])
def test_the_scan_lets_parameters_and_composition_pass(code):
    assert not formatted_sql(ast.parse(code))
