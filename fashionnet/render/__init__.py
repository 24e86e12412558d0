"""Rich renderables for every command. Nothing here computes model results; it only draws them."""


def json_safe(obj):
    """The same data with NaN and infinity as null (what json.dumps would print for them is not JSON),
    and every string valid JSON (outside_text.for_json: `path_bytes` beside a name that is not UTF-8)."""
    from fashionnet.outside_text import for_json

    return _finite(for_json(obj))


def _finite(obj):
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def json_rows(obj, level: int = 0) -> str:
    """JSON indented like json.dumps(indent=2), except that a list of plain values (a row of a 28x28
    picture, a shape) stays on one line: a picture is 28 lines instead of 812."""
    import json

    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {json_rows(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            return json.dumps(list(obj), allow_nan=False)
        return "[\n" + ",\n".join(inner + json_rows(v, level + 1) for v in obj) + f"\n{pad}]"
    return json.dumps(obj, allow_nan=False)
