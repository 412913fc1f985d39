"""Geometry for the style report's charts, drawn server-side as SVG by templates/agents/_chart_*.svg (no
JavaScript, no CDN): numbers in, coordinates out."""

WIDTH, HEIGHT, MARGIN = 560, 180, 32


def bars(counts: list[int], labels: list[str]) -> dict:
    """A bar per count, scaled to the tallest; each bar keeps its label and count for the axis and the title."""
    top = max(counts, default=0) or 1
    step = (WIDTH - 2 * MARGIN) / max(len(counts), 1)
    drawn = []
    for index, (count, label) in enumerate(zip(counts, labels, strict=True)):
        height = (HEIGHT - 2 * MARGIN) * count / top
        drawn.append({
            "x": round(MARGIN + index * step + 2, 1), "width": round(step - 4, 1),
            "y": round(HEIGHT - MARGIN - height, 1), "height": round(height, 1),
            "label": label, "count": count, "label_x": round(MARGIN + (index + 0.5) * step, 1),
        })  # fmt: skip
    return {"width": WIDTH, "height": HEIGHT, "base": HEIGHT - MARGIN, "bars": drawn, "top": top}


def lines(series: list[tuple[str, list[float]]], labels: list[str]) -> dict:
    """One polyline per series across the chapters, each scaled to its own maximum (they have different units),
    with a dot per chapter carrying its value for the tooltip."""
    count = len(labels)
    step = (WIDTH - 2 * MARGIN) / max(count - 1, 1)
    drawn = []
    for index, (name, values) in enumerate(series):
        top = max(values, default=0) or 1
        dots = [
            {"x": round(MARGIN + i * step, 1), "y": round(HEIGHT - MARGIN - (HEIGHT - 2 * MARGIN) * v / top, 1),
             "value": v, "label": labels[i]}
            for i, v in enumerate(values)
        ]  # fmt: skip
        drawn.append({"name": name, "index": index, "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
                      "dots": dots, "top": top})  # fmt: skip
    ticks = [{"x": round(MARGIN + i * step, 1), "label": label} for i, label in enumerate(labels)]
    # Label at most about 12 chapters on the axis so the numbers stay readable.
    every = max(1, count // 12 + (count % 12 > 0))
    return {"width": WIDTH, "height": HEIGHT, "base": HEIGHT - MARGIN, "series": drawn, "ticks": ticks[::every]}
