"""A relationship graph as plain geometry, for a server-rendered SVG (no JavaScript, prints and exports)."""

import math
from dataclasses import dataclass

KIND_COLOURS = {
    "family": "#8e6c8a",
    "friend": "#4c8c6a",
    "ally": "#3d7ea6",
    "romantic": "#c0587e",
    "mentor": "#b8893a",
    "rival": "#d07a2f",
    "enemy": "#b3261e",
    "colleague": "#6b7b8c",
    "other": "#888888",
}


@dataclass
class Node:
    character_id: int
    name: str
    role: str
    importance: int
    x: float
    y: float
    r: float


@dataclass
class Edge:
    source: Node
    target: Node
    kind: str
    label: str
    strength: int
    colour: str
    width: float
    # Two edges between the same pair bend to opposite sides so both stay readable.
    path: str
    label_x: float
    label_y: float


def layout(cast, relationships, size=640):
    """Characters on a circle (most important at the top), relationships as curved arrows between them."""
    centre, radius = size / 2, size / 2 - 90
    members = sorted(cast, key=lambda m: (-m.importance, m.character.name))
    nodes = {}
    for index, member in enumerate(members):
        angle = -math.pi / 2 + 2 * math.pi * index / max(len(members), 1)
        spread = radius if len(members) > 1 else 0
        nodes[member.character_id] = Node(
            character_id=member.character_id,
            name=member.character.name,
            role=member.get_role_display(),
            importance=member.importance,
            x=round(centre + spread * math.cos(angle), 1),
            y=round(centre + spread * math.sin(angle), 1),
            r=14 + member.importance * 1.6,
        )
    edges = []
    for rel in relationships:
        source, target = nodes.get(rel.source_id), nodes.get(rel.target_id)
        if source is None or target is None:
            continue
        dx, dy = target.x - source.x, target.y - source.y
        length = math.hypot(dx, dy) or 1
        # Bend perpendicular to the line; stop the arrow at the target's rim.
        bend = 28
        mx, my = (source.x + target.x) / 2 - dy / length * bend, (source.y + target.y) / 2 + dx / length * bend
        end_x, end_y = target.x - dx / length * (target.r + 4), target.y - dy / length * (target.r + 4)
        start_x, start_y = source.x + dx / length * source.r, source.y + dy / length * source.r
        edges.append(
            Edge(
                source=source,
                target=target,
                kind=rel.kind,
                label=f"{rel.get_kind_display()} {rel.strength}",
                strength=rel.strength,
                colour=KIND_COLOURS.get(rel.kind, KIND_COLOURS["other"]),
                width=round(0.8 + rel.strength * 0.45, 2),
                path=f"M{start_x:.1f},{start_y:.1f} Q{mx:.1f},{my:.1f} {end_x:.1f},{end_y:.1f}",
                label_x=round((source.x + target.x) / 4 + mx / 2, 1),
                label_y=round((source.y + target.y) / 4 + my / 2, 1),
            )
        )
    return {"size": size, "nodes": list(nodes.values()), "edges": edges, "colours": KIND_COLOURS}
