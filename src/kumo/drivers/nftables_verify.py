"""Reading the security-group tables back from the kernel and naming what differs.

``read_kernel`` summarises the tables as a Plan (each chain as its rules' comments, each
map and set with its elements); ``compare`` names every chain, map entry or set that is
not what was programmed. Deep reads list every rule (seconds at tens of thousands);
shallow ones list chains, maps and sets only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import nftables_render as r
from .nftables_lib import Nft

Key = tuple[str, str]  # (family, chain or map name)


@dataclass
class Plan:
    chains: dict[Key, list[str]] = field(default_factory=dict)
    maps: dict[Key, dict[str, str]] = field(default_factory=dict)  # key text -> chain
    sets: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)

    def rules(self) -> int:
        return sum(len(v) for v in self.chains.values())

    def elements(self) -> int:
        return sum(len(e) for _, e in self.sets.values())



def _elem_text(e: Any) -> str:
    if isinstance(e, dict) and "prefix" in e:
        return f"{e['prefix']['addr']}/{e['prefix']['len']}"
    if isinstance(e, dict) and "range" in e:
        return "-".join(e["range"])
    if isinstance(e, dict) and "elem" in e:
        return _elem_text(e["elem"]["val"])
    return str(e)


def _key_text(k: Any) -> str:
    return f"{k:#x}" if isinstance(k, int) else f'"{k}"'


def _listing(nft: Nft, fam: str, deep: bool) -> list[dict[str, Any]]:
    if deep:
        return nft.list_json(f"table {fam} {r.TABLE}")
    out = []
    for what in ("chains", "maps", "sets"):
        out += [o for o in nft.list_json(f"{what} {fam}")
                if next(iter(o.values())).get("table") == r.TABLE]
    return out


def read_kernel(nft: Nft, *, deep: bool = True) -> Plan:
    """The tables as the kernel has them, summarised like a Plan: each chain as its rule
    count and last comment (``deep``; else the chain alone), each map and set with its
    elements."""
    seen = Plan()
    for fam in ("bridge", "inet"):
        for obj in _listing(nft, fam, deep):
            if "chain" in obj:
                seen.chains.setdefault((fam, obj["chain"]["name"]), [])
            elif "rule" in obj:
                rule = obj["rule"]
                seen.chains.setdefault((fam, rule["chain"]), []).append(rule.get("comment", ""))
            elif "map" in obj:
                m = obj["map"]
                seen.maps[(fam, m["name"])] = {
                    _key_text(k): v.get("jump", {}).get("target", "") if isinstance(v, dict)
                    else str(v)
                    for k, v in m.get("elem", [])}
            elif "set" in obj:
                s = obj["set"]
                version = 6 if s["type"] == "ipv6_addr" else 4
                seen.sets[s["name"]] = (version, frozenset(_elem_text(e)
                                                           for e in s.get("elem", [])))
    return seen


def compare(want: Plan, seen: Plan, *, rules: bool = True) -> list[str]:
    drift = []
    base = r.BASE_RULES
    for key, lines in want.chains.items():
        got = seen.chains.get(key)
        last = lines[-1].rsplit('comment "', 1)[-1].rstrip('"') if lines else ""
        if got is None:
            drift.append(f"chain {key[0]} {key[1]} missing")
        elif rules and (len(got) != len(lines) or (got[-1] if got else "") != last):
            drift.append(f"chain {key[0]} {key[1]} differs")
    for key in set(seen.chains) - set(want.chains) - set(base):
        drift.append(f"chain {key[0]} {key[1]} unexpected")
    for key, count in base.items():
        if key not in seen.chains or (rules and len(seen.chains[key]) != count):
            drift.append(f"base chain {key[0]} {key[1]} differs")
    for key, entries in want.maps.items():
        if seen.maps.get(key) != entries:
            drift.append(f"map {key[0]} {key[1]} differs")
    for name, (_, elems) in want.sets.items():
        if seen.sets.get(name, (0, None))[1] != elems:
            drift.append(f"set {name} differs")
    return drift
