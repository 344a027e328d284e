"""The authorization matrix: every route of every face × five callers → the outcome
the rule table (rules.py) expects. Routes come from the Starlette apps ``build_app``
mounts, so a new route without a rule fails here."""

from __future__ import annotations

import time

from .routes import route_table
from .rules import rule_for
from .runner import observe
from .seed import CALLERS, build


def _meets(expected: str, status: int) -> bool:
    if expected == "2xx":
        return 200 <= status < 300
    if expected == "3xx":
        return 300 <= status < 400
    if expected == "ok":
        return status < 500 and status not in (401, 403)
    return status == int(expected)


def test_every_route_has_a_rule() -> None:
    missing = [f"{m} {t}" for m, t in route_table() if rule_for(m, t) is None]
    assert not missing, "new route without a rule (add it to tests/authz/rules.py):\n" + \
        "\n".join(missing)


async def test_authorization_matrix(cloud) -> None:  # noqa: ANN001 - the quota cloud fixture
    seed = await build(cloud)
    start = time.monotonic()
    routes = [(m, t) for m, t in route_table() if rule_for(m, t) is not None]
    seen = await observe(seed, routes)
    wrong = []
    for (method, template), row in seen.items():
        rule = rule_for(method, template)
        assert rule is not None
        for caller, expected in zip(CALLERS, rule, strict=True):
            if not _meets(expected, row[caller]):
                wrong.append(f"{method} {template}: {caller} got {row[caller]}, "
                             f"expected {expected}")
    cells = len(seen) * len(CALLERS)
    print(f"authorization matrix: {len(seen)} routes x {len(CALLERS)} callers = {cells} "
          f"calls in {time.monotonic() - start:.1f} s")
    assert len(seen) > 400 and cells == len(seen) * 5
    assert not wrong, f"{len(wrong)} of {cells} cells differ from the rules:\n" + \
        "\n".join(wrong)
