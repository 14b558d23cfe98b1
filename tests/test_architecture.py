"""The package's shape: imports flow one way (no cycle, lazy imports included), each decision has one home (splits in the
plans, trainer internals in the model), and a module far over 500 lines is a smell worth a look (never a reason to squeeze)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ser_lightning"
SMELL_LINES = 500  # a hint to look for two jobs in one module; split by responsibility, never squeeze to meet it


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its body (``from .x import y`` counts ``x``, and ``x.y`` if a module)."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                found |= {t for t in [target, *(f"{target}.{alias.name}" for alias in node.names)] if t in paths}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name in paths}
        graph[name] = found - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert "ser_lightning.data.plans" in graph["ser_lightning.data.datamodule"], "the graph misses relative imports"
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_far_over_500_lines():
    long = {module_name(path): n for path in PACKAGE.rglob("*.py") if (n := len(path.read_text(encoding="utf-8").splitlines())) > SMELL_LINES}
    assert long == {}, f"look for two jobs in these (split by responsibility): {long}"


def called_names(tree: ast.AST) -> set[str]:
    """Names of every function called, bare (``f()``) or as an attribute (``module.f()``, ``obj.f()``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                names.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return names


def test_split_decisions_live_in_the_plans_only():
    """Only data/plans.py calls the functions that split utterances (the DataModule and its aliases build plans)."""
    callers = set()
    for path in PACKAGE.rglob("*.py"):
        if called_names(ast.parse(path.read_text(encoding="utf-8"))) & {"speaker_split", "protocol_split", "adaptation_split", "draw_shots"}:
            callers.add(module_name(path))
    # fewshot.adaptation_split reuses speaker_split for a count of adaptation speakers: a building block of the plans
    assert callers == {"ser_lightning.data.plans", "ser_lightning.data.fewshot"}


def test_calls_through_a_module_are_found_too():
    assert called_names(ast.parse("from . import splits\nsplits.speaker_split(x)\nother.y.draw_shots()")) == {"speaker_split", "draw_shots"}


def test_only_the_model_reads_the_trainers_loop_internals():
    """``trainer.fit_loop`` / ``epoch_loop`` / ``batch_progress`` are Lightning internals: the LightningModule may read them
    (per-batch reseeding), other classes take what they need from hooks or their own state."""
    readers = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Attribute) and node.attr in ("fit_loop", "epoch_loop", "batch_progress") for node in ast.walk(tree)):
            readers.add(module_name(path))
    assert readers <= {"ser_lightning.models.module"}, readers


def test_only_the_run_recorder_writes_into_a_runs_log_folder():
    """Run files (split.json, shots.jsonl, bad_audio.csv, results.json, the test rows) are written by one callback,
    as Lightning's SaveConfigCallback writes config.yaml: the DataModule, the model and the CLI only hold what they know.
    (The prediction writer, a callback too, writes ``predict``'s output there.)"""

    def trainer_log_dir(node: ast.AST) -> bool:
        if not isinstance(node, ast.Attribute) or node.attr != "log_dir":
            return False
        owner = node.value
        return (isinstance(owner, ast.Name) and owner.id == "trainer") or (isinstance(owner, ast.Attribute) and owner.attr == "trainer")

    readers = set()
    for path in PACKAGE.rglob("*.py"):
        if any(trainer_log_dir(node) for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))):
            readers.add(module_name(path))
    assert readers == {"ser_lightning.run_files", "ser_lightning.predictions"}, readers


OTHERS = ("trainer", "pl_module", "datamodule", "_datamodule", "model", "backbone")  # objects a module must not write into
# Lightning's public flags that a callback is documented to set (EarlyStopping, Optuna's pruning callback do the same)
LIGHTNING_FLAGS = {"trainer.should_stop"}


def writes_into_others(tree: ast.AST) -> list[str]:
    """Assignments to an attribute (or an item of an attribute) of another object: ``trainer.x = ``,
    ``self.datamodule.x = ``, ``self._datamodule.datasets[k] = `` (a module's own ``self.x`` is fine)."""

    def names(node: ast.AST) -> list[str]:
        found = []
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Attribute):
                found.append(node.attr)
            node = node.value
        return found + ([node.id] if isinstance(node, ast.Name) else [])

    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            if isinstance(target, (ast.Attribute, ast.Subscript)):
                chain = names(target)[1:]  # the objects the written attribute or item belongs to
                if "config" not in chain and any(name in OTHERS for name in chain):  # a parsed config is data, not an object
                    found.append(ast.unparse(target))
    return found


def test_no_module_writes_the_attributes_of_the_trainer_the_model_or_the_datamodule():
    """Facts flow by CLI links, hooks or explicit methods (``SERDataModule.use_inputs``), never by one object writing
    another's attributes (DESIGN.md)."""
    writers = {}
    for path in PACKAGE.rglob("*.py"):
        found = [write for write in writes_into_others(ast.parse(path.read_text(encoding="utf-8"))) if write not in LIGHTNING_FLAGS]
        if found:
            writers[module_name(path)] = found
    assert writers == {}, writers


def test_the_write_finder_finds_writes_into_others():
    code = "self.x = 1\nself.datamodule.min_seconds = 2\nself._datamodule.datasets[k] = d\ntrainer.y += 1\nconfig.trainer.b = 3"
    assert writes_into_others(ast.parse(code)) == ["self.datamodule.min_seconds", "self._datamodule.datasets[k]", "trainer.y"]


def test_no_module_rewrites_the_command_line():
    """The CLI reads ``sys.argv`` and parses what it derives from it; it never writes it back (Lightning's DDP launcher
    starts the other processes from ``sys.argv``, and they derive the same again)."""
    writers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
            if any("sys.argv" in ast.unparse(target) for target in targets):
                writers.add(module_name(path))
    # the sweep's job runner hides submitit's own command line while a run's CLI runs in its process, and restores it
    assert writers <= {"ser_lightning.experiments.job"}
