"""Write fashionnet/samples/: the first image of each class in the official test set, as 28x28 PNGs,
with their true labels in samples.json. Run once by the maintainers (`make samples`); the files ship."""

import json
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fashionnet import CLASSES, data  # noqa: E402


def main() -> None:
    folder = ROOT / "fashionnet" / "samples"
    folder.mkdir(exist_ok=True)
    split = data.load_split("test")
    records = []
    for label, name in enumerate(CLASSES):
        index = int((split.labels == label).nonzero()[0])
        slug = name.lower().replace("/", "-").replace(" ", "-")
        file = f"{label}-{slug}.png"
        Image.fromarray(split.images[index].numpy(), mode="L").save(folder / file)
        records.append({"file": file, "label": name, "index": label, "test_set_index": index})
    (folder / "samples.json").write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {len(records)} samples to {folder}")


if __name__ == "__main__":
    main()
