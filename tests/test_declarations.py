"""Issue #10: declarations are checked at start-up, and a register needs nothing but its declarations."""
import json
import os
import subprocess
import sys
from pathlib import Path

from kernel import checks

ROOT = Path(__file__).resolve().parent.parent

PLANTED = [  # one message per kind of mistake in tests/declarations/planted_mistakes.py
    "broken_register.grants: unknown role 'janitor'",
    "broken_register.grants: unknown operation 'approve' for role 'cs_admin'",
    "broken_register.name: unknown validator 'shouting'",
    "broken_register.name: unknown field hint 'colour'",
    "broken_register.initial_state: 'draft' is not a state",
    "broken_register.locked_states: 'gone' is not a state",
    "broken_register.open_states: 'pending' is not a state",
    "broken_register.go: source 'nowhere' is not a state",
    "broken_register.go: target 'elsewhere' is not a state",
    "broken_register.go: unknown role 'wizard'",
    "broken_register.go: 'ghost' is not a column or relationship",
    "broken_register.go: 'phantom' is not a step of broken_register",
    "broken_register.deadlines[broken.late]: 'begun_at' is not a column",
    "broken_register.deadlines[broken.late]: open state 'limbo' is not a state",
    "broken_register.verify.shown: 'colour' is not a field",
    "broken_register.verify.guard_step: 'fly' is not a step",
    "broken_register.verify: the model needs a `verdict` property",
    "broken_register.column_list: 'colour' is not a column or relationship",
    "broken_register.column_filters: 'unit.planet' is not a column or relationship",
    "broken_register.search_prefix: 'serial' is not a column or relationship",
    "broken_register.lookups: 'name' is not a relationship",
    "broken_register.daily: 'begun_at' is not a column or relationship",
    "broken_register.action_operations: 'obliterate' of 'shred' is not an operation",
    "broken_register.print_template: 'print/missing.html' does not exist",
    "broken_register.print_parts: a printable register declares its copies (e.g. 存根)",
    "broken_register.print_in_force: 'printed' is not a state",
    "unitless_register.search_units: the register has no unit to search by",
    "orphan_register.grants: no screen serves this register",
    "broken_register.not_edited_by: 'subject_id' is not a column",
    "broken_register.edited_only_by: 'author_id' is not a column",
    "broken_register.visible_rows: unknown role 'wizard'",
    "broken_register.visible_rows: role 'guard' may not list this register",
    "broken_register.retention: start 'kept_since' is not a column",
    "broken_register.plain_id: personal data must be stored encrypted (use kernel.pii.encrypted_field)",
    "broken_register.plain_id: personal data needs a blind index for exact search (kernel.pii.blind_index)",
    "broken_register.search: 'plain_id' holds personal data (exact full-number search only, for the desk)",
    "voided_register.void: voiding needs a reason (comment_required) and is destructive",
    "voided_register.grants: 'clerk' may delete a business record (void it instead)",
    "voided_register.grants: 'reveal' on a register without personal data",
    # issue 18: imports
    "voided_register.grants: 'cs_admin' may import, but the register declares no `importable`",
    "broken_register.importable: nobody is granted 'import'",
    "broken_register.importable: 'state' is kept by the system and never imported",
    "broken_register.importable: 'colour' is not a column or relationship",
    "broken_register.importable: virtual column 'tags' needs `import_current` on the model",
    "broken_register.importable: virtual column 'tags' needs `import_write` on the model",
    "broken_register.importable.keys: 'serial' is not one of its columns",
]


def _run(args, **env):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def test_the_app_as_shipped_has_no_declaration_mistakes(app):
    assert checks.run(app) == []


def test_flask_check_reports_no_problems():
    r = _run(["-m", "flask", "--app", "wsgi", "check"], DATABASE_URL="sqlite://")
    assert r.returncode == 0 and "no problems found" in r.stdout, r.stdout + r.stderr


def test_each_planted_mistake_fails_start_up_with_its_message():
    r = _run(["tests/declarations/planted_mistakes.py"])
    assert r.returncode == 0, r.stdout + r.stderr  # exit 1 would mean the app started despite the mistakes
    found = json.loads(r.stdout.strip().splitlines()[-1])
    missing = [m for m in PLANTED if m not in found]
    assert not missing, f"not reported: {missing}\nreported: {found}"


def test_a_new_register_gets_list_scope_permissions_audit_and_the_matrix_by_declaration():
    """The generated suites, run with one throwaway register added, cover it without a line written for it."""
    r = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "parcel_locker or throwaway",
              "tests/test_permission_matrix.py", "tests/test_hostile_input.py",
              "tests/declarations/throwaway_behaviour.py"],
             FD_THROWAWAY="1", TEST_DATABASE_URL="", REQUIRE_POSTGRES="0")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    summary = r.stdout.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed == 14, summary  # 11 matrix rows (10 roles + anonymous), the property sweep, hostile input, behaviour


def test_every_public_function_of_the_kernel_is_annotated():
    import importlib
    import inspect
    import pkgutil

    import kernel
    missing = []
    for info in pkgutil.iter_modules(kernel.__path__):
        module = importlib.import_module(f"kernel.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            functions = [(name, obj)] if inspect.isfunction(obj) else []
            if inspect.isclass(obj):
                functions = [(f"{name}.{n}", f) for n, f in vars(obj).items()
                             if inspect.isfunction(f) and (not n.startswith("_") or n == "__init__")
                             and f.__qualname__.startswith(f"{name}.")]  # not SQLAlchemy's generated __init__
            for qual, fn in functions:
                sig = inspect.signature(fn)
                params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
                if any(p.annotation is inspect.Parameter.empty for p in params) or (
                        sig.return_annotation is inspect.Signature.empty and not qual.endswith("__init__")):
                    missing.append(f"{module.__name__}.{qual}")
    assert not missing, missing
