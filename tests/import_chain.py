"""The longest import chain inside a package: ``python -m tests.import_chain [PACKAGE]``.

Counted in *units*: each module directly under the package is a unit, and so is each subpackage
(``services.screening.engine`` with all its modules is one). The chain follows the real import
graph (grimp; imports under ``TYPE_CHECKING`` left out, imports inside functions counted) and
adds a level each time it crosses from one unit into another, so a hop inside the engine does not
count but every hop between the service's modules does.
"""

from __future__ import annotations

import sys
from functools import cache

import grimp

DEFAULT = "services.screening"


def longest_chain(package: str = DEFAULT) -> list[str]:
    """The units of the longest chain, outermost first."""
    top = package.split(".")[0]
    graph = grimp.build_graph(top, exclude_type_checking_imports=True, cache_dir=None)
    depth = package.count(".") + 2
    prefix = package + "."

    def unit(module: str) -> str:
        return ".".join(module.split(".")[:depth])

    @cache
    def longest(module: str) -> tuple[int, tuple[str, ...]]:
        best: tuple[int, tuple[str, ...]] = (1, (unit(module),))
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith(prefix) or imported == module:
                continue
            levels, units = longest(imported)
            if unit(imported) == unit(module):
                candidate = (levels, units)
            else:
                candidate = (levels + 1, (unit(module), *units))
            if candidate[0] > best[0]:
                best = candidate
        return best

    modules = sorted(m for m in graph.modules if m.startswith(prefix))
    _, units = max((longest(m) for m in modules), key=lambda found: found[0])
    return [u.removeprefix(prefix) for u in units]


def main() -> None:
    package = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    chain = longest_chain(package)
    print(f"{len(chain)} levels: {' -> '.join(chain)}")


if __name__ == "__main__":
    main()
