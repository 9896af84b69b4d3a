"""axe-core (from npm, tests/e2e/axe/) in the browser tests: `axe_violations(page)` injects it
into the page and returns its serious and critical violations, each as
"rule-id (impact): N nodes, e.g. <selector>".

`exclude` leaves out a subtree that is not Doorman's markup (the API docs' Swagger UI)."""

from __future__ import annotations

from pathlib import Path

from tests.sso.upstream import prepare_node_modules

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
GRAVE = ("serious", "critical")


def axe_ready() -> Path:
    """axe.min.js, installed by `npm ci` when needed (the test skips without node and npm)."""
    prepare_node_modules(AXE_DIR)
    return AXE_SCRIPT


def axe_violations(page, *, exclude: tuple[str, ...] = ()) -> list[str]:
    page.add_script_tag(path=str(axe_ready()))
    found = page.evaluate(
        """async ({exclude, grave}) => {
            const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
            const result = await axe.run(context, {resultTypes: ["violations"]});
            return result.violations
              .filter((v) => grave.includes(v.impact))
              .map((v) => `${v.id} (${v.impact}): ${v.nodes.length} nodes, e.g. `
                + v.nodes[0].target.join(" "));
        }""",
        {"exclude": list(exclude), "grave": list(GRAVE)},
    )
    return list(found)
