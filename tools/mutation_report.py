"""Score per kernel module and the surviving mutants, from mutmut's results under mutants/ (`make mutate`).

Score = killed / (killed + survived + no tests). Functions that run only while the models are imported (class
declarations: `field()`, `Register.__init_subclass__`, ...) execute before mutmut forks a test run, so no test
run can see their mutants; they are counted apart (IMPORT_TIME) and listed, not hidden.
"""
import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent / "mutants"
IMPORT_TIME = (  # mangled function names run at import only (declarations), see the module docstring
    "kernel.register.xǁRegisterǁ__init_subclass__", "kernel.workflow.x__declare_void",
    "kernel.workflow.xǁVoidableǁ__init_subclass__", "kernel.workflow.x__declare_clock",
    "kernel.workflow.xǁServerClockǁ__init_subclass__", "kernel.audit.x_install", "kernel.numbering.x_install",
)


def import_time(name: str) -> bool:
    return any(name.startswith(p) for p in IMPORT_TIME)


def results(roots: list[Path]) -> dict[str, dict[str, int | None]]:
    """{module: {mutant: exit code}}; a later root's checked result replaces an earlier one (a re-run of survivors)."""
    merged: dict[str, dict[str, int | None]] = {}
    for root in roots:
        for meta in sorted(root.glob("kernel/*.py.meta")):
            codes = merged.setdefault(meta.name.removesuffix(".py.meta"), {})
            for name, code in json.load(meta.open())["exit_code_by_key"].items():
                if code is not None or name not in codes:
                    codes[name] = code
    return merged


def main() -> int:
    roots = [ROOT] + [Path(a) / "mutants" for a in sys.argv[1:]]  # extra checkouts whose `mutmut run` re-ran some
    merged = results(roots)
    if not merged:
        print("no results under mutants/: run `make mutate`")
        return 1
    total, survivors, apart = Counter(), [], []
    print(f"{'module':<16}{'killed':>8}{'survived':>10}{'no tests':>10}{'score':>8}   (import-time, apart)")
    for module, codes in sorted(merged.items()):
        counts, at_import = Counter(), Counter()
        for name, code in codes.items():
            status = status_by_exit_code[code]
            status = "killed" if status in ("killed", "timeout", "caught by type check") else status
            if import_time(name):
                at_import[status] += 1
                if status != "killed":
                    apart.append(name)
                continue
            counts[status] += 1
            if status in ("survived", "no tests", "suspicious"):
                survivors.append(f"{name}: {status}")
        total += counts
        measured = counts["killed"] + counts["survived"] + counts["no tests"] + counts["suspicious"]
        score = f"{100 * counts['killed'] / measured:.1f}%" if measured else "-"
        print(f"{module:<16}{counts['killed']:>8}{counts['survived']:>10}{counts['no tests']:>10}{score:>8}"
              f"   ({at_import['killed']}/{sum(at_import.values())})")
    measured = total["killed"] + total["survived"] + total["no tests"] + total["suspicious"]
    if total["not checked"]:
        print(f"not checked yet: {total['not checked']}")
    print(f"{'kernel':<16}{total['killed']:>8}{total['survived']:>10}{total['no tests']:>10}"
          f"{100 * total['killed'] / max(measured, 1):>7.1f}%")
    print("\nsurvivors (inspect one with `.venv/bin/mutmut show <name>`):")
    print("\n".join(f"  {s}" for s in survivors) or "  none")
    print(f"\nimport-time mutants not seen by forked runs: {len(apart)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
