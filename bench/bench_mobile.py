"""Mobile bundle: export time, sizes, reference-program latency and parity with the server.

On the same generated 12 MP JPEGs (bench/common.py), measures

- ``export``: seconds for ``export_mobile`` (ORT conversion + parity check + files);
- ``sizes``: backbone.ort vs backbone.onnx, the concept classifier, the whole bundle;
- ``reference``: the bundle's own reference.py (onnxruntime + numpy + Pillow, one thread,
  batch 1), median ms per photo split into decode / prepare / backbone+heads;
- ``server``: the server's path for the same photos (load_photo + Engine, one thread);
- ``parity``: label agreement and the largest probability difference between the two.

Prints one JSON object. Figures from a shared 2-core machine are noisy: compare ratios.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import generate_photos  # noqa: E402
from smartalbum.imaging import load_photo  # noqa: E402
from smartalbum.mobile import export_mobile  # noqa: E402
from smartalbum.model.engine import Engine  # noqa: E402

N_PHOTOS = 12


def _ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 2)


def main() -> None:
    photos = generate_photos(BENCH / "out" / "photos-12mp", n=N_PHOTOS)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mobile"
        t0 = time.perf_counter()
        result = export_mobile(out)
        export_s = time.perf_counter() - t0
        files = result.files
        spec = importlib.util.spec_from_file_location("reference", out / "reference.py")
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        model = ref.MobileModel(out)
        engine = Engine.load(threads=1, batch_size=1)
        max_side = 2 * int(model.spec["size"])

        times = {"decode": [], "prepare": [], "model": [], "total": [], "server": []}
        worst, agree = 0.0, 0
        for path in photos:
            t0 = time.perf_counter()
            img = ref.decode(path, max_side)
            t1 = time.perf_counter()
            x = ref.prepare(img, model.spec)
            t2 = time.perf_counter()
            probs = model.head_probabilities(model.embed(x[None]), model.default_head)[0]
            t3 = time.perf_counter()
            server = engine.classify([load_photo(path, max_side=max_side, digest=False).image])[0]
            t4 = time.perf_counter()
            times["decode"].append(t1 - t0)
            times["prepare"].append(t2 - t1)
            times["model"].append(t3 - t2)
            times["total"].append(t3 - t0)
            times["server"].append(t4 - t3)
            labels = model.heads[model.default_head]["labels"]
            ref_label = labels[int(probs.argmax())]
            agree += ref_label == server.label
            worst = max(
                worst,
                *(
                    abs(float(p) - server.probabilities[k])
                    for k, p in zip(labels, probs, strict=True)
                ),
            )

        onnx_bytes = result.manifest["backbone"]["onnx_bytes"]
        print(
            json.dumps(
                {
                    "photos": len(photos),
                    "export_s": round(export_s, 2),
                    "sizes_mb": {
                        "backbone_onnx": round(onnx_bytes / 1e6, 2),
                        "backbone_ort": round(files["backbone.ort"]["bytes"] / 1e6, 2),
                        "ort_vs_onnx": round(files["backbone.ort"]["bytes"] / onnx_bytes, 3),
                        "imagenet_fc": round(files["imagenet_fc.bin"]["bytes"] / 1e6, 2),
                        "heads_json": round(files["heads.json"]["bytes"] / 1e6, 3),
                        "bundle_total": round(sum(f["bytes"] for f in files.values()) / 1e6, 2),
                    },
                    "reference_ms_per_photo": {
                        k: _ms(times[k]) for k in ("decode", "prepare", "model", "total")
                    },
                    "server_ms_per_photo": _ms(times["server"]),
                    "parity": {
                        "label_agreement": agree / len(photos),
                        "max_probability_diff": worst,
                    },
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
