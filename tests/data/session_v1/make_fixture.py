"""Writes tests/data/session_v1/{ended,open}: sessions saved by alnb before the round got one owner."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, "tests")  # conftest's tiny CLIP and colour images

import torch
from conftest import COLOR_NAMES, color_images, tiny_clip_config
from datasets import ClassLabel, Dataset, Features
from datasets import Image as ImageFeature
from transformers import CLIPImageProcessor, CLIPModel

from alnb import ActiveLearner, DatasetOracle, Pool, Trainer, TrainerConfig
from alnb.embedded.tokenizer import build_tokenizer
from alnb.models import load_classifier

NAMES = list(COLOR_NAMES)


def main() -> None:
    """Run by hand (``python tests/data/session_v1/make_fixture.py`` from the repository root) with the alnb
    version whose format the fixtures are to keep; never imported by the tests (it rewrites the fixtures)."""
    clip = Path(tempfile.mkdtemp()) / "tiny_clip"
    torch.manual_seed(0)
    CLIPModel(tiny_clip_config()).save_pretrained(clip)
    build_tokenizer(32).save_pretrained(clip)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(clip)
    images, labels = color_images()
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=NAMES)})
    data = Dataset.from_dict({"image": images, "label": labels}, features=features)
    timages, tlabels = color_images(seed=1, per_class=6)
    test = Dataset.from_dict({"image": timages, "label": tlabels}, features=features)
    out = Path("tests/data/session_v1")
    shutil.rmtree(out, ignore_errors=True)

    def learner():
        classifier = load_classifier(str(clip), NAMES, adapter="coop", n_ctx=4)
        trainer = Trainer(TrainerConfig(epochs=2, batch_size=8, lr=0.01, calibration="uc", seed=0, quiet=True))
        return ActiveLearner(classifier, Pool(data, NAMES), trainer, "entropy+pcb", None, test=test, seed=0)

    a = learner()
    a.run(2, progress=False)
    a.save(out / "ended")  # a restart right after a round ended
    a.query()
    q = a.pending
    print("next query after ended:", q.indices.tolist())
    a.teach(q.indices, DatasetOracle(data)(q.indices))
    a.save(out / "open")  # labels of round 2 given, not fitted yet
    a.fit()
    print("next after fit open:", a.query().indices.tolist())
    for p in sorted(out.rglob("*")):
        print(p, p.stat().st_size if p.is_file() else "")


if __name__ == "__main__":
    main()
