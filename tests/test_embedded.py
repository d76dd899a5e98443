"""The shipped tiny CLIP, its procedural world and tokenizer, and the pretraining script's machinery."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alnb.embedded import DEFAULT_MODEL, default_model_path
from alnb.embedded.tokenizer import build_tokenizer
from alnb.embedded.world import (
    DIGIT_NAMES,
    LETTERS,
    SHAPES,
    caption_for,
    glyph_phrase,
    kind_of,
    render_digit_like_sklearn,
    render_scene,
    render_sklearn_like,
    sample_scene,
    sklearn_like_scene,
)


def test_shipped_folder_is_a_complete_small_hf_model():
    folder = Path(default_model_path())
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "preprocessor_config.json",
        "README.md",
    ):
        assert (folder / name).is_file(), name
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 20 * 2**20
    card = (folder / "README.md").read_text()
    assert "Recipe" in card and "sklearn_digits" in card


def test_shipped_model_loads_through_from_pretrained_and_reads_digits():
    from transformers import AutoTokenizer, CLIPModel

    model = CLIPModel.from_pretrained(DEFAULT_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL)
    assert model.config.text_config.eos_token_id == tokenizer.eos_token_id != 2
    ids = tokenizer("a photo of a digit seven .")["input_ids"]
    assert (
        tokenizer.unk_token_id not in ids
        and ids[0] == tokenizer.bos_token_id
        and ids[-1] == tokenizer.eos_token_id
    )


@pytest.mark.slow
def test_zero_shot_on_sklearn_digits_clears_a_loose_floor():
    """The benchmark script reports the real figure; this floor only catches a broken model or pipeline."""
    from alnb.datasets import class_names, load
    from alnb.models import load_classifier
    from alnb.training import Trainer, TrainerConfig

    test = load("digits")["test"]
    classifier = load_classifier(DEFAULT_MODEL, class_names(test), adapter="zeroshot")
    predictions = Trainer(TrainerConfig(quiet=True)).predict(classifier, test, np.arange(len(test)))
    accuracy = float((predictions.predicted == np.asarray(test["label"])).mean())
    assert accuracy > 0.35


def test_world_is_deterministic_and_captions_are_in_vocabulary():
    tokenizer = build_tokenizer()
    first = [sample_scene(np.random.default_rng(7)) for _ in range(2)]
    assert first[0] == first[1]
    assert np.array_equal(np.asarray(render_scene(first[0])), np.asarray(render_scene(first[1])))
    rng = np.random.default_rng(0)
    for _ in range(200):
        scene = sample_scene(rng)
        image = render_scene(scene)
        assert image.size == (32, 32) and image.mode == "RGB"
        caption = caption_for(scene, rng)
        assert f" {glyph_phrase(scene).split()[-1]} " in f" {caption} "
        assert tokenizer.unk_token_id not in tokenizer(caption)["input_ids"]
    kinds = {sample_scene(rng).kind for _ in range(100)}
    assert kinds == {"digit", "letter", "shape"}
    for name in (*(f"digit {d}" for d in DIGIT_NAMES), *(f"letter {x}" for x in LETTERS), *SHAPES):
        assert tokenizer.unk_token_id not in tokenizer(f"a photo of a {name} .")["input_ids"]


def test_letters_and_kinds():
    rng = np.random.default_rng(3)
    scene = sample_scene(rng, name="q")
    assert (scene.kind, glyph_phrase(scene)) == ("letter", "letter q")
    assert scene.style in ("printed", "bold", "italic")
    assert np.asarray(render_scene(scene)).std() > 0
    assert [kind_of(n) for n in ("seven", "k", "star")] == ["digit", "letter", "shape"]
    with pytest.raises(ValueError, match="name='seven!' is not a digit name, letter or shape"):
        kind_of("seven!")


def test_sklearn_like_digits_are_made_like_the_real_ones():
    """A 32×32 binary bitmap counted in 4×4 blocks: the 8×8 grid has values 0–16, shown exactly as the real digits."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(0)
    fake = np.stack(
        [np.asarray(render_sklearn_like(sklearn_like_scene(rng)), dtype=np.float32) for _ in range(50)]
    )
    real = np.stack(
        [np.asarray(render_digit_like_sklearn(x), dtype=np.float32) for x in load_digits().images[:50]]
    )
    assert fake.shape == real.shape == (50, 32, 32, 3)
    assert fake[:, :4].max() == 0 and fake[:, :, :4].max() == 0  # the same black frame
    assert np.all(fake[..., 0] == fake[..., 2])  # white ink
    assert abs(fake.mean() - real.mean()) < 0.35 * real.mean()  # similar amount of ink
    scene = sklearn_like_scene(np.random.default_rng(5), name="four")
    assert np.array_equal(np.asarray(render_scene(scene)), np.asarray(render_sklearn_like(scene)))


def test_warm_start_grows_the_vision_tower_without_changing_its_output(tmp_path):
    """Extra vision layers start as identity blocks; every other weight is copied, token embeddings by word."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    from alnb.embedded.pretrain import warm_start

    tokenizer = build_tokenizer(32)

    def config(layers: int) -> CLIPConfig:
        return CLIPConfig(
            text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
                         "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 32,
                         "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                         "pad_token_id": tokenizer.pad_token_id},
            vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": layers,
                           "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
            projection_dim=16,
        )  # fmt: skip

    torch.manual_seed(0)
    old = CLIPModel(config(2)).eval()
    old.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    grown = CLIPModel(config(3)).eval()
    warm_start(grown, tokenizer, tmp_path)
    pixels = torch.randn(3, 3, 32, 32)
    ids = tokenizer(["a photo of a letter q .", "a red star ."], padding=True, return_tensors="pt")
    with torch.no_grad():
        for a, b in (
            (old.get_image_features(pixel_values=pixels), grown.get_image_features(pixel_values=pixels)),
            (old.get_text_features(**ids), grown.get_text_features(**ids)),
        ):
            a, b = getattr(a, "pooler_output", a), getattr(b, "pooler_output", b)
            assert torch.allclose(a, b, atol=1e-5)


def test_sklearn_digit_renderer_checks_its_input():
    image = render_digit_like_sklearn(np.full((8, 8), 16))
    pixels = np.asarray(image)
    assert image.size == (32, 32) and pixels[:4].max() == 0 and pixels[16, 16, 0] == 255
    with pytest.raises(ValueError, match=r"values in \[0, 16\]"):
        render_digit_like_sklearn(np.full((8, 8), 255))


def test_pretraining_script_exports_and_resumes(tmp_path):
    """Two tiny steps of the pretraining machinery (not the real run): export, then resume where it stopped."""
    from transformers import CLIPModel

    from alnb.embedded.pretrain import main

    run, out = tmp_path / "run", tmp_path / "model"
    common = [
        "--batch-size",
        "8",
        "--eval-every",
        "2",
        "--run-dir",
        str(run),
        "--out",
        str(out),
        "--threads",
        "1",
    ]
    main(["--steps", "2", *common])
    assert CLIPModel.from_pretrained(out).config.projection_dim == 128
    main(["--steps", "4", "--resume", *common])
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4]
    figures = json.loads(
        (out / "training_figures.json").read_text()
    )  # the best evaluation so far is exported
    assert figures["figures"]["step"] in (2, 4) and "sklearn_digits" in figures["figures"]
