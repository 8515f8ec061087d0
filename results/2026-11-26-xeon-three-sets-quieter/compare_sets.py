"""The three sweeps' answers side by side: each configuration's set per sweep, what no
sweep contradicts, and what moves. Usage: python3 compare_sets.py [DIR] (default: here)."""
import json, pathlib, sys

here = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
sweeps = sorted(p for p in here.glob("sweep-*") if (p / "recommendation.json").exists())
def name(c):
    g = "" if c.get("generation", "serial") == "serial" else f" ({c['generation']})"
    return f"{c['strategy']} on {c['backend']}{g}"
sets = []
for s in sweeps:
    w = json.loads((s / "recommendation.json").read_text())["workloads"][0]
    d = {}
    for key, mark in [("tie_set", "as fast"), ("undecided", "undecided"), ("slower", "slower")]:
        for c in w[key]:
            d[name(c)] = mark
    sets.append(d)
every = sorted(set().union(*sets))
not_slower_all = [c for c in every if all(d.get(c) in ("as fast", "undecided") for d in sets)]
slower_all = [c for c in every if all(d.get(c) == "slower" for d in sets)]
contradicted = [c for c in every if any(d.get(c) == "as fast" for d in sets) and any(d.get(c) == "slower" for d in sets)]
moved = [c for c in every if c not in not_slower_all and c not in slower_all]
print(f"{len(every)} configurations measured in some sweep; {len(slower_all)} slower in every sweep; "
      f"{len(not_slower_all)} not slower in every sweep; {len(contradicted)} as fast in one and slower in another; "
      f"{len(moved)} move between sets or were not measured in every sweep.\n")
print("| configuration | " + " | ".join(s.name for s in sweeps) + " |")
print("|---|" + "---|" * len(sweeps))
for c in not_slower_all + contradicted + [m for m in moved if m not in contradicted]:
    print(f"| {c} | " + " | ".join(d.get(c, "not measured") for d in sets) + " |")
