"""alnb.models: loading, logits against independent computations, the CoOp text path, VPT tower stages, LoRA
targets, validation and registry."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import COLOR_NAMES, color_images
from PIL import Image
from transformers import AutoTokenizer, CLIPModel

from alnb.models import (
    Adapter,
    AdapterConfig,
    ModelNotAvailableError,
    VisionClassifier,
    VisionLanguageClassifier,
    available_adapters,
    load_classifier,
    register_adapter,
)
from alnb.models.adapters.lora import LORA_TARGET_ALIASES
from alnb.models.base import Classifier
from alnb.models.registry import _REGISTRY
from alnb.models.towers import vision_tower

NAMES = list(COLOR_NAMES)


@pytest.fixture(scope="module")
def pixels(clip_dir: str) -> torch.Tensor:
    images, _ = color_images(seed=5, per_class=2)
    return load_classifier(clip_dir, NAMES, adapter="zeroshot").preprocess(images)


def _reference_clip(clip_dir: str) -> tuple[CLIPModel, object]:
    """The checkpoint loaded straight with transformers, independent of alnb."""
    return CLIPModel.from_pretrained(clip_dir).eval(), AutoTokenizer.from_pretrained(clip_dir)


def _text_features(model: CLIPModel, tokenizer: object, texts: list[str]) -> torch.Tensor:
    tokens = tokenizer(texts, padding=True, return_tensors="pt")
    return model.get_text_features(**tokens).pooler_output


# ---------------------------------------------------------------------------------------------- loading


def test_families(model_dirs: dict[str, str]) -> None:
    clip = load_classifier(model_dirs["clip"], NAMES, adapter="zeroshot")
    assert isinstance(clip, VisionLanguageClassifier) and clip.family == "vision_language"
    for name in ("vit", "dinov2"):
        clf = load_classifier(model_dirs[name], NAMES, adapter="linear")
        assert isinstance(clf, VisionClassifier) and clf.model_type == name
        assert clf.head.in_features == 32 and clf.head.out_features == 4
    assert clip.class_names == tuple(NAMES) and clip.num_classes == 4


def test_missing_model_offline_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    start = time.perf_counter()
    with pytest.raises(ModelNotAvailableError) as info:
        load_classifier("alnb-test/no-such-model", NAMES, adapter="zeroshot")
    assert time.perf_counter() - start < 20
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert "'alnb-test/no-such-model'" in message and "HF_HUB_OFFLINE=1" in message
    assert "local folder" in message and "save_pretrained" in message


def test_missing_local_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        load_classifier(str(tmp_path / "nothing"), NAMES)
    with pytest.raises(ModelNotAvailableError, match=r"no config\.json"):
        load_classifier(str(tmp_path), NAMES)


@pytest.mark.parametrize(
    ("class_names", "match"),
    [
        (None, "must be a sequence of strings"),
        ([], "at least one class"),
        ("red", "must be a sequence of strings"),
        (["red", "red", "blue"], r"unique, got duplicates \['red'\]"),
        (["red", ""], "non-empty strings"),
        (["red", 3], "non-empty strings"),
    ],
)
def test_class_names_validated(clip_dir: str, class_names: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_classifier(clip_dir, class_names, adapter="zeroshot")  # type: ignore[arg-type]


def test_options_and_adapter_names_validated(clip_dir: str, vit_dir: str) -> None:
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['n_context'\].*n_ctx, class_specific"):
        load_classifier(clip_dir, NAMES, adapter="coop", n_context=4)
    with pytest.raises(
        ValueError,
        match="unknown adapter 'prefix'; expected one of 'coop', 'linear', 'lora', 'vpt', 'zeroshot'",
    ):
        load_classifier(clip_dir, NAMES, adapter="prefix")
    with pytest.raises(ValueError, match="n_ctx must be a non-negative integer"):
        load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=-1)
    with pytest.raises(ValueError, match="towers must be one of"):
        load_classifier(clip_dir, NAMES, adapter="lora", towers="audio")
    with pytest.raises(ValueError, match=r"containing '\{\}' exactly once"):
        load_classifier(clip_dir, NAMES, adapter="zeroshot", templates=["a photo"])
    with pytest.raises(ValueError, match="templates only apply to vision-language models"):
        load_classifier(vit_dir, NAMES, adapter="linear", templates=["a {}"])


@pytest.mark.parametrize(("model", "adapter"), [("vit", "coop"), ("dinov2", "coop"), ("vit", "zeroshot")])
def test_unsupported_combination_is_a_clear_error(
    model_dirs: dict[str, str], model: str, adapter: str
) -> None:
    with pytest.raises(
        ValueError, match=rf"adapter '{adapter}' does not support.*Adapters for this model: linear, lora, vpt"
    ):
        load_classifier(model_dirs[model], NAMES, adapter=adapter)


def test_forward_needs_exactly_one_input(clip_dir: str, pixels: torch.Tensor) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    with pytest.raises(ValueError, match="exactly one"):
        clf()
    with pytest.raises(ValueError, match="exactly one"):
        clf(pixel_values=pixels, image_features=clf.encode_images(pixels))
    torch.testing.assert_close(clf(pixel_values=pixels), clf(image_features=clf.encode_images(pixels)))


def test_preprocess_converts_to_rgb(clip_dir: str) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    gray = Image.new("L", (40, 24), color=128)
    out = clf.preprocess([gray, Image.new("RGBA", (32, 32))])
    assert out.shape == (2, 3, 32, 32)
    assert torch.allclose(out[0, 0], out[0, 1], atol=0.2)  # gray: channels differ only by normalisation
    with pytest.raises(ValueError, match="at least one image"):
        clf.preprocess([])


# ---------------------------------------------------------------------------------------------- logits


def test_zero_shot_logits_match_transformers(clip_dir: str, pixels: torch.Tensor) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    model, tokenizer = _reference_clip(clip_dir)
    with torch.no_grad():
        image = F.normalize(model.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
        text = F.normalize(_text_features(model, tokenizer, [f"a photo of a {n}." for n in NAMES]), dim=-1)
        expected = model.logit_scale.exp() * image @ text.t()
        torch.testing.assert_close(clf(pixel_values=pixels), expected)
        # The temperature is clamped at 100, as in CLIP.
        clf.backbone.logit_scale.fill_(math.log(1000.0))
        torch.testing.assert_close(clf(pixel_values=pixels), 100.0 * image @ text.t())


@pytest.fixture(scope="module")
def biased_siglip_dir(siglip_dir: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny SigLIP with a temperature above CLIP's clamp (e^s = 300) and a non-trivial bias (-4.5)."""
    import shutil

    from transformers import SiglipModel

    path = shutil.copytree(siglip_dir, tmp_path_factory.mktemp("biased") / "siglip")
    model = SiglipModel.from_pretrained(siglip_dir)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(300.0))
        model.logit_bias.fill_(-4.5)
    model.save_pretrained(path)
    return str(path)


def test_siglip_logits_are_the_models_own_logits_per_image(biased_siglip_dir: str) -> None:
    from transformers import SiglipModel

    clf = load_classifier(biased_siglip_dir, NAMES, adapter="zeroshot")
    images, _ = color_images(seed=4, per_class=1)
    pixel_values = clf.preprocess(images)
    model = SiglipModel.from_pretrained(biased_siglip_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(biased_siglip_dir)
    # SigLIP reads the last position of prompts padded to full length, without an attention mask.
    ids = tokenizer(
        [f"a photo of a {n}." for n in NAMES], padding="max_length", max_length=16, return_tensors="pt"
    )
    with torch.no_grad():
        expected = model(input_ids=ids["input_ids"], pixel_values=pixel_values).logits_per_image
        ours = clf(pixel_values=pixel_values)
        torch.testing.assert_close(ours, expected)
        assert float(clf.logit_scale) == pytest.approx(300.0, rel=1e-5)  # not clamped at 100
        assert float(clf.logit_bias) == pytest.approx(-4.5)
        # The premise: the old rule (clamped at 100, no bias) gives other logits on this model.
        cosines = (expected - model.logit_bias) / model.logit_scale.exp()
        assert not torch.allclose(100.0 * cosines, expected, atol=1.0)
        # Probabilities are the softmax over classes (single-label AL), which the bias does not change.
        torch.testing.assert_close(ours.softmax(-1), (ours + 4.5).softmax(-1))
        # The linear probe keeps the model's scale and bias: untrained, it gives the zero-shot logits.
        probe = load_classifier(biased_siglip_dir, NAMES, adapter="linear")
        torch.testing.assert_close(probe(pixel_values=pixel_values), expected)
    for adapter in ("coop", "vpt"):
        with pytest.raises(ValueError, match=f"adapter '{adapter}' does not support.*siglip"):
            load_classifier(biased_siglip_dir, NAMES, adapter=adapter)


def test_template_ensemble_is_normalised_mean(clip_dir: str) -> None:
    templates = ["a photo of a {}.", "a drawing of a {} shape."]
    clf = load_classifier(clip_dir, NAMES, adapter="zeroshot", templates=templates)
    model, tokenizer = _reference_clip(clip_dir)
    with torch.no_grad():
        per_template = [
            F.normalize(_text_features(model, tokenizer, [t.format(n) for n in NAMES]), dim=-1)
            for t in templates
        ]
        expected = F.normalize((per_template[0] + per_template[1]) / 2, dim=-1)
        torch.testing.assert_close(clf.class_text_features(), expected)


def test_linear_probe_starts_at_zero_shot(clip_dir: str, pixels: torch.Tensor) -> None:
    zero = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    probe = load_classifier(clip_dir, NAMES, adapter="linear")
    zeros = load_classifier(clip_dir, NAMES, adapter="linear", init="zeros")
    with torch.no_grad():
        torch.testing.assert_close(probe(pixel_values=pixels), zero(pixel_values=pixels))
        assert torch.equal(zeros(pixel_values=pixels), torch.zeros(len(pixels), 4))


def test_untrained_lora_leaves_the_model_unchanged(model_dirs: dict[str, str], pixels: torch.Tensor) -> None:
    zero = load_classifier(model_dirs["clip"], NAMES, adapter="zeroshot")
    lora = load_classifier(model_dirs["clip"], NAMES, adapter="lora")
    with torch.no_grad():
        torch.testing.assert_close(lora(pixel_values=pixels), zero(pixel_values=pixels))


# ---------------------------------------------------------------------------------------------- CoOp


def test_coop_text_path_reproduces_get_text_features(clip_dir: str) -> None:
    model, tokenizer = _reference_clip(clip_dir)
    with torch.no_grad():
        empty = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=0)
        assert torch.equal(
            empty.adapter.class_text_features(empty),
            _text_features(model, tokenizer, [f"{n}." for n in NAMES]),
        )
        reference = _text_features(model, tokenizer, [f"a photo of a {n}." for n in NAMES])
        for class_specific in (True, False):
            phrase = load_classifier(
                clip_dir, NAMES, adapter="coop", ctx_init="a photo of a", class_specific=class_specific
            )
            assert phrase.adapter.n_ctx == 4
            assert torch.equal(phrase.adapter.class_text_features(phrase), reference)


def test_coop_context_shapes_and_init(clip_dir: str) -> None:
    specific = load_classifier(clip_dir, NAMES, adapter="coop", seed=3)
    shared = load_classifier(clip_dir, NAMES, adapter="coop", class_specific=False)
    assert specific.adapter.ctx.shape == (4, 16, 32) and shared.adapter.ctx.shape == (16, 32)
    # N(0, 0.02²): 2,048 draws, the sample std lies within 10% of 0.02.
    assert abs(float(specific.adapter.ctx.detach().std()) - 0.02) < 0.002
    assert abs(float(specific.adapter.ctx.detach().mean())) < 0.002
    with pytest.raises(
        ValueError, match="n_ctx=3 does not match ctx_init='a photo of a', which has 4 tokens"
    ):
        load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=3, ctx_init="a photo of a")


def test_coop_context_must_fit_the_text_model(clip_dir: str) -> None:
    with pytest.raises(ValueError, match=r"n_ctx=30 context positions plus 4 .* max_position_embeddings=32"):
        load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=30)


# ---------------------------------------------------------------------------------------------- VPT and LoRA


@pytest.mark.parametrize("model", ["clip", "vit", "dinov2"])
def test_tower_stages_reproduce_image_features(model_dirs: dict[str, str], model: str) -> None:
    adapter = "zeroshot" if model == "clip" else "linear"
    clf = load_classifier(model_dirs[model], NAMES, adapter=adapter)
    images, _ = color_images(seed=9, per_class=1)
    pixel_values = clf.preprocess(images)
    with torch.no_grad():
        torch.testing.assert_close(vision_tower(clf)(pixel_values), clf.backbone_image_features(pixel_values))


def test_vpt_shapes(model_dirs: dict[str, str]) -> None:
    shallow = load_classifier(model_dirs["clip"], NAMES, adapter="vpt", n_prompts=5)
    deep = load_classifier(model_dirs["dinov2"], NAMES, adapter="vpt", n_prompts=5, deep=True)
    assert shallow.adapter.prompts.shape == (5, 32) and not shallow.adapter.deep_prompts.requires_grad
    assert deep.adapter.deep_prompts.shape == (1, 5, 32)  # 2 layers: new prompts before the second
    bound = math.sqrt(6 / (3 * 8 * 8 + 32))
    assert float(deep.adapter.deep_prompts.detach().abs().max()) <= bound
    assert shallow.trainable_parameters()[0] == 5 * 32
    assert deep.trainable_parameters()[0] == 2 * 5 * 32 + 32 * 4 + 4  # prompts + head


def test_lora_targets_are_resolved_per_tower(model_dirs: dict[str, str]) -> None:
    both = load_classifier(model_dirs["clip"], NAMES, adapter="lora")
    assert len(both.adapter.target_modules) == 2 * 2 * 3  # towers x layers x (q, k, v)
    assert {n.split(".")[0] for n in both.adapter.target_modules} == {"vision_model", "text_model"}
    vision = load_classifier(model_dirs["clip"], NAMES, adapter="lora", towers="vision", targets=("q", "o"))
    assert all(n.startswith("vision_model.") for n in vision.adapter.target_modules)
    assert {n.rsplit(".", 1)[1] for n in vision.adapter.target_modules} == {"q_proj", "out_proj"}
    text = load_classifier(model_dirs["clip"], NAMES, adapter="lora", towers="text")
    assert text.image_tower_frozen and not both.image_tower_frozen and not vision.image_tower_frozen
    aliases = {leaf for names in LORA_TARGET_ALIASES.values() for leaf in names}
    for name in ("vit", "dinov2"):
        clf = load_classifier(model_dirs[name], NAMES, adapter="lora")
        assert len(clf.adapter.target_modules) == 2 * 3
        assert {n.rsplit(".", 1)[1] for n in clf.adapter.target_modules} <= aliases
    with pytest.raises(ValueError, match=r"LoRA target 'gate' matches no linear layer .* named \["):
        load_classifier(model_dirs["vit"], NAMES, adapter="lora", targets=("gate",))
    with pytest.raises(ValueError, match="towers='text' needs a vision-language model"):
        load_classifier(model_dirs["vit"], NAMES, adapter="lora", towers="text")


def test_lora_leaves_out_the_siglip_pooling_heads_multihead_attention(siglip_dir: str) -> None:
    clf = load_classifier(siglip_dir, NAMES, adapter="lora", targets=("q", "k", "v", "o"))
    head = clf.backbone.vision_model.head.attention
    assert isinstance(head, torch.nn.MultiheadAttention)  # the premise: an out_proj LoRA would be inert there
    expected = {
        f"{tower}.encoder.layers.{i}.self_attn.{proj}"
        for tower in ("vision_model", "text_model")
        for i in range(2)
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj")
    }
    assert set(clf.adapter.target_modules) == expected
    assert not any("head" in n for n, p in clf.backbone.named_parameters() if p.requires_grad)
    # Every wrapped module changes the logits once its B is non-zero: none is inert.
    images, _ = color_images(seed=3, per_class=1)
    x = clf.preprocess(images)
    clf.eval()
    with torch.no_grad():
        base = clf(pixel_values=x)
        for name in sorted(expected):
            weight = clf.backbone.get_submodule(name).lora_B["default"].weight
            # Random, not constant: a constant shift of every feature would vanish in the next layer norm.
            weight.copy_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(0)))
            clf.invalidate_caches()  # the text features are cached in eval mode
            assert not torch.allclose(clf(pixel_values=x), base, atol=1e-6), name
            weight.zero_()


def test_lora_scaling_and_parameter_count(clip_dir: str) -> None:
    rs = load_classifier(clip_dir, NAMES, adapter="lora")
    layer = rs.backbone.vision_model.encoder.layers[0].self_attn.q_proj
    assert layer.scaling["default"] == pytest.approx(4 / math.sqrt(4))  # rsLoRA: alpha / sqrt(r)
    assert layer.lora_dropout["default"].p == 0.25
    assert torch.equal(layer.lora_B["default"].weight, torch.zeros(32, 4))
    plain = load_classifier(clip_dir, NAMES, adapter="lora", r=8, alpha=4, use_rslora=False)
    assert plain.backbone.text_model.encoder.layers[1].self_attn.v_proj.scaling["default"] == pytest.approx(
        0.5
    )
    count, share = rs.trainable_parameters()
    assert count == 12 * (4 * 32 + 32 * 4)
    assert share == pytest.approx(count / sum(p.numel() for p in rs.parameters()))


@pytest.mark.parametrize(
    ("model", "adapter", "options", "expected"),
    [
        ("clip", "zeroshot", {}, set()),
        ("clip", "coop", {}, {"adapter.ctx"}),
        ("clip", "linear", {}, {"adapter.probe.weight", "adapter.probe.bias"}),
        ("clip", "vpt", {}, {"adapter.prompts"}),
        ("vit", "linear", {}, {"head.weight", "head.bias"}),
        (
            "dinov2",
            "vpt",
            {"deep": True},
            {"head.weight", "head.bias", "adapter.prompts", "adapter.deep_prompts"},
        ),
    ],
)
def test_only_adapter_parameters_train(
    model_dirs: dict[str, str], model: str, adapter: str, options: dict, expected: set[str]
) -> None:
    clf = load_classifier(model_dirs[model], NAMES, adapter=adapter, **options)
    assert {n for n, p in clf.named_parameters() if p.requires_grad} == expected


def test_only_lora_parameters_train(dinov2_dir: str) -> None:
    clf = load_classifier(dinov2_dir, NAMES, adapter="lora")
    trainable = {n for n, p in clf.named_parameters() if p.requires_grad}
    assert trainable - {"head.weight", "head.bias"} == {n for n in trainable if ".lora_" in n}
    assert len(trainable) == 2 + 6 * 2  # head + (A, B) for 2 layers x (q, k, v)


def test_fingerprint_identifies_the_frozen_image_path(model_dirs: dict[str, str]) -> None:
    clip = model_dirs["clip"]
    prints = {
        adapter: load_classifier(clip, NAMES, adapter=adapter, **opts).fingerprint()
        for adapter, opts in [("zeroshot", {}), ("coop", {}), ("linear", {}), ("lora", {"towers": "text"})]
    }
    assert len(set(prints.values())) == 1  # same frozen image tower and preprocessing: features can be shared
    assert load_classifier(clip, ["a", "b"], adapter="zeroshot").fingerprint() == prints["zeroshot"]
    assert load_classifier(model_dirs["vit"], NAMES, adapter="linear").fingerprint() != prints["zeroshot"]
    other = load_classifier(clip, NAMES, adapter="zeroshot")
    with torch.no_grad():
        other.backbone.visual_projection.weight.mul_(2)
    other._fingerprint = None  # recompute after the (test-only) weight change
    assert other.fingerprint() != prints["zeroshot"]


# ---------------------------------------------------------------------------------------------- registry


def test_registry_lists_and_registers() -> None:
    assert available_adapters() == ["coop", "linear", "lora", "vpt", "zeroshot"]
    assert available_adapters("vision") == ["linear", "lora", "vpt"]
    assert available_adapters("vision_language", "siglip") == ["linear", "lora", "zeroshot"]

    @dataclass
    class ScaleConfig(AdapterConfig):
        factor: float = 2.0

    @register_adapter("scaled_zeroshot_test", ScaleConfig)
    class Scaled(Adapter):
        families = frozenset({"vision_language"})

        def classify(self, classifier: Classifier, embeddings: torch.Tensor) -> torch.Tensor:
            return self.config.factor * classifier.default_classify(embeddings)

    try:
        assert "scaled_zeroshot_test" in available_adapters("vision_language")
        assert register_adapter("scaled_zeroshot_test", ScaleConfig)(Scaled) is Scaled  # the same: a no-op

        class Other(Scaled):
            pass

        with pytest.raises(ValueError, match="already registered"):
            register_adapter("scaled_zeroshot_test", ScaleConfig)(Other)
    finally:
        _REGISTRY.unregister("scaled_zeroshot_test")
    with pytest.raises(ValueError, match="AdapterConfig subclass"):
        register_adapter("x", dict)  # type: ignore[arg-type]
