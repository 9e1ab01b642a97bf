"""Run axe-core in a Playwright page and report what matters."""

from __future__ import annotations

# WCAG 2.1 A and AA rules, plus axe's best practices (landmarks, heading order, …).
RUN_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}
BLOCKING = {"serious", "critical"}


def axe_violations(page, axe_source: str) -> list[str]:
    """Serious and critical violations on the page, one line each (rule, impact, first nodes).

    axe is injected with ``page.evaluate`` (the DevTools protocol), which the page's
    Content-Security-Policy does not apply to, so the policy under test stays as served.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate("async (options) => await axe.run(document, options)", RUN_OPTIONS)
    lines = []
    for violation in result["violations"]:
        if violation["impact"] in BLOCKING:
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
            lines.append(f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']} — {targets}")
    return lines
