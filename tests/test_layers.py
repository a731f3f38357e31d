"""The layers: ``models`` knows nothing of ``indexer`` or ``cli``; ``indexer`` nothing of ``cli``."""

import ast
import subprocess
import sys

from .conftest import ROOT


def _imports(package: str) -> dict[str, set[str]]:
    """Every absolute module each file of ``package`` imports (at any depth of the code)."""
    out = {}
    for path in (ROOT / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        out[str(path.relative_to(ROOT))] = names
    return out


def test_models_imports_neither_indexer_nor_cli():
    bad = {f: sorted(n for n in names if n.startswith(("lookalike.indexer", "lookalike.cli")))
           for f, names in _imports("models").items()}
    assert not {f: n for f, n in bad.items() if n}


def test_indexer_does_not_import_cli():
    bad = {f: sorted(n for n in names if n.startswith("lookalike.cli")) for f, names in _imports("indexer").items()}
    assert not {f: n for f, n in bad.items() if n}


def test_every_models_module_imports_alone_without_the_indexer():
    modules = sorted("lookalike.models." + str(p.relative_to(ROOT / "models").with_suffix("")).replace("/", ".")
                     for p in (ROOT / "models").rglob("*.py") if p.name != "__init__.py")
    code = ("import sys\n"
            f"for m in {modules!r}:\n"
            "    __import__(m)\n"
            "    assert not [k for k in sys.modules if k.startswith(('lookalike.indexer', 'lookalike.cli'))], m\n"
            "print(len(sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_public_names_resolve():
    import lookalike.indexer as indexer
    import lookalike.models as models

    for pkg in (models, indexer):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, (pkg.__name__, name)
