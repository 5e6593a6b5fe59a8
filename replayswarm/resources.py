"""Files that travel with the package: Alembic migrations and the web UI's templates and assets.

Inside a wheel they live under the package (`replayswarm/_migrations`, `replayswarm/_ui`); in a
checkout they sit at the top of the repository (`migrations/`, `ui/`).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str, marker: str) -> Path:
    for candidate in (_PACKAGE / f"_{name}", _PACKAGE.parent / name):
        if (candidate / marker).exists():
            return candidate
    raise RuntimeError(f"replayswarm is installed without its {name}/ directory")


def migrations_dir() -> Path:
    return resource_dir("migrations", "env.py")


def ui_dir() -> Path:
    return resource_dir("ui", "templates")


def plotly_path() -> Path:
    """Plotly's JavaScript, from inside its Python wheel: the charts need no CDN."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
