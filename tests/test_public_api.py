"""The package's public names: lazy (no torch on `import sbrzoo`) and each the object it names."""

from __future__ import annotations


def test_the_public_api_imports_lazily() -> None:
    """``import sbrzoo`` loads no torch; every public name resolves to the object it documents."""
    import subprocess
    import sys

    code = ("import sys, sbrzoo; assert 'torch' not in sys.modules, 'torch imported'; "
            "names = [n for n in sbrzoo.__all__ if n != '__version__']; "
            "objects = [getattr(sbrzoo, n) for n in names]; "
            "assert sbrzoo.load_run.__name__ == 'load_recommender'; "
            "assert 'tagnnpp' in sbrzoo.list_models() and sbrzoo.Trainer.__name__ == 'Trainer'; print(len(objects))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "8"
