"""The layers: ``sim`` (the model) never imports ``experiments`` or ``innosim``; ``experiments``
never imports ``innosim`` (the command line sits above both); no import cycle between
modules at import time; and ``innosim ... | head`` ends quietly on the closed pipe."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sim", "experiments", "innosim")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # also imports under a top-level try/if (still run at import time)
        nodes = [n for top in tree.body for n in ([top] if isinstance(top, (ast.Import, ast.ImportFrom))
                                                   else ast.walk(top) if isinstance(top, (ast.Try, ast.If)) else [])]
    out = set()
    for n in nodes:
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = package.split(".")[: len(package.split(".")) - (n.level - 1)]
                mod = ".".join(base + ([n.module] if n.module else []))
            else:
                mod = n.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in n.names}  # `from pkg import module`
    return out


def _sources(pkg: str):
    return sorted(p for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts)


def test_sim_never_imports_experiments_or_the_cli_anywhere():
    bad = [(str(p.relative_to(ROOT)), m) for p in _sources("sim") for m in _imports(p, top_level_only=False)
           if m.split(".")[0] in ("experiments", "innosim")]
    assert bad == []


def test_experiments_never_import_the_cli():
    bad = [(str(p.relative_to(ROOT)), m) for p in _sources("experiments") for m in _imports(p, top_level_only=False)
           if m.split(".")[0] == "innosim"]
    assert bad == []


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    f = ROOT / "sim" / "_layering_probe_tmp.py"
    try:
        f.write_text("def g():\n    from experiments.compare import run_paired\n    from .scenario import load_scenario\n")
        found = _imports(f, top_level_only=False)
        assert "experiments.compare" in found and "sim.scenario" in found
        assert _imports(f, top_level_only=True) == set()
    finally:
        f.unlink()


def test_no_import_cycle_at_import_time():
    modules = {_module_name(p): p for pkg in PACKAGES for p in _sources(pkg)}
    graph = {m: sorted({i for i in _imports(p, top_level_only=True) if i in modules and i != m})
             for m, p in modules.items()}
    # a package's __init__ importing its own submodules is the normal layout, not a cycle
    for m in graph:
        graph[m] = [i for i in graph[m] if not m.startswith(i + ".") or modules[i].name != "__init__.py"]
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in graph[m]:
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


def test_importing_the_model_loads_no_experiment_code():
    code = ("import sys, importlib, pkgutil, sim\n"
            "for m in pkgutil.walk_packages(sim.__path__, 'sim.'):\n"
            "    if m.name != 'sim.viz': importlib.import_module(m.name)\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('experiments', 'innosim'))\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr


def test_closed_pipe_ends_quietly():
    """`innosim levers | head -1`: the reader is gone before the first write; no traceback,
    nothing on stderr, exit status 141 (128 + SIGPIPE, what a shell reports)."""
    p = subprocess.Popen([sys.executable, "-m", "innosim", "levers"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=ROOT)
    p.stdout.close()  # before the interpreter has even started: every write meets a closed pipe
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141 and err == ""
    r = subprocess.run(f"'{sys.executable}' -m innosim levers | head -1", shell=True, capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert r.stdout.count("\n") == 1 and "Traceback" not in r.stderr and r.stderr == ""
