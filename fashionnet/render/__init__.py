"""Rich renderables for every command. Nothing here computes model results; it only draws them."""


def json_safe(obj):
    """The same data with NaN and infinity as null: what json.dumps would print for them is not JSON."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
