"""Saved adapters other tools and sessions can read (issue 11): ``load_classifier(folder)`` rebuilds the classifier from
the folder alone for every registered adapter (generated from the registry, like tests/contracts.py), on the tiny test
models and the embedded CLIP; the support check runs from the config before any weight is read; bf16 backbones and
device placement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COLOR_NAMES, color_images
from contracts import TEST_MODELS, adapter_pairs, trainer_config
from datasets import Dataset

from alnb._paths import resolve_model_name
from alnb.embedded import DEFAULT_MODEL
from alnb.models import ModelNotAvailableError, available_adapters, default_device, load_classifier
from alnb.models.base import ADAPTER_CONFIG_FILE, Classifier
from alnb.training import Trainer

NAMES = list(COLOR_NAMES)
#: Not the default template, so a reload that forgot the templates would give other logits.
TEMPLATES = ["a {} thing.", "a photo of a {}."]
TRAIN = np.arange(16, dtype=np.int64)

#: Every registered adapter on every test model it supports, plus the embedded CLIP.
FOLDER_PAIRS = [*adapter_pairs(), *(("embedded", a) for a in available_adapters("vision_language", "clip"))]


@pytest.fixture(scope="module")
def pixels(clip_dir: str) -> torch.Tensor:
    images, _ = color_images(seed=7, per_class=2)
    return load_classifier(clip_dir, NAMES, adapter="zeroshot").preprocess(images)


def _model_dir(model_dirs: dict[str, str], model: str) -> str:
    return DEFAULT_MODEL if model == "embedded" else model_dirs[model]


def _vision_language(model: str) -> bool:
    return model == "embedded" or TEST_MODELS[model][0] == "vision_language"


def _perturb(clf: Classifier, seed: int = 0) -> None:
    """Move every trainable tensor away from its initial value (as training would), seeded."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in sorted(clf.named_parameters()):
            if param.requires_grad:
                param.add_(0.05 * torch.randn(param.shape, generator=generator).to(param.dtype))


def _logits(clf: Classifier, pixel_values: torch.Tensor) -> torch.Tensor:
    clf.eval()
    with torch.no_grad():
        return clf(pixel_values=pixel_values)


@pytest.mark.parametrize(("model", "adapter"), FOLDER_PAIRS, ids=[f"{m}-{a}" for m, a in FOLDER_PAIRS])
def test_load_classifier_from_the_folder_alone_gives_the_same_logits(
    model_dirs: dict[str, str], tmp_path: Path, model: str, adapter: str
) -> None:
    model_dir = _model_dir(model_dirs, model)
    templates = TEMPLATES if _vision_language(model) else None
    clf = load_classifier(model_dir, NAMES, adapter=adapter, templates=templates, seed=5)
    _perturb(clf)
    images, _ = color_images(seed=7, per_class=1)
    x = clf.preprocess(images)
    folder = clf.save_adapter(tmp_path / "saved")

    described = json.loads((folder / ADAPTER_CONFIG_FILE).read_text())
    assert described["format_version"] == 2
    assert described["model"] == resolve_model_name(model_dir) and Path(described["model"]).is_absolute()
    assert described["embedded_model"] is (model == "embedded")
    assert described["model_class"] == type(clf.backbone).__name__
    assert (described["adapter"], described["class_names"], described["seed"]) == (adapter, NAMES, 5)
    assert described["templates"] == templates and described["dtype"] == "float32"
    assert all((folder / name).is_file() for name in described["files"])

    reloaded = load_classifier(folder)
    assert type(reloaded) is type(clf) and type(reloaded.adapter) is type(clf.adapter)
    assert reloaded.class_names == clf.class_names and reloaded.adapter_config == clf.adapter_config
    assert reloaded.seed == 5 and getattr(reloaded, "templates", None) == getattr(clf, "templates", None)
    expected = _logits(clf, x)
    assert torch.equal(_logits(reloaded, x), expected)
    # The check has teeth: the same model without the saved state gives other logits.
    fresh = load_classifier(model_dir, NAMES, adapter=adapter, seed=6)
    assert not torch.allclose(_logits(fresh, x), expected, atol=1e-4)


def test_a_moved_adapter_folder_and_a_moved_base_model(
    clip_dir: str, tmp_path: Path, pixels: torch.Tensor
) -> None:
    base = shutil.copytree(clip_dir, tmp_path / "models" / "clip")
    clf = load_classifier(base, NAMES, adapter="coop", n_ctx=4)
    _perturb(clf)
    expected = _logits(clf, pixels)
    saved = clf.save_adapter(tmp_path / "a")
    moved = shutil.move(str(saved), str(tmp_path / "elsewhere" / "b"))  # the folder holds no relative paths
    assert torch.equal(_logits(load_classifier(moved), pixels), expected)

    new_base = shutil.move(str(base), str(tmp_path / "new_models" / "clip"))
    with pytest.raises(
        ModelNotAvailableError, match=r"trained on the local model .*/models/clip.*base_model="
    ):
        load_classifier(moved)
    assert torch.equal(_logits(load_classifier(moved, base_model=new_base), pixels), expected)
    with pytest.raises(ValueError, match=r"base_model=.* only applies when model is an adapter folder"):
        load_classifier(new_base, NAMES, base_model=new_base)


def test_the_embedded_model_is_found_again_in_another_installation(tmp_path: Path) -> None:
    clf = load_classifier(DEFAULT_MODEL, NAMES, adapter="linear")
    _perturb(clf)
    folder = clf.save_adapter(tmp_path / "a")
    described = json.loads((folder / ADAPTER_CONFIG_FILE).read_text())
    described["model"] = "/somewhere/else/site-packages/alnb/embedded/tiny_clip"  # saved on another machine
    (folder / ADAPTER_CONFIG_FILE).write_text(json.dumps(described))
    images, _ = color_images(seed=2, per_class=1)
    x = clf.preprocess(images)
    reloaded = load_classifier(folder)
    assert reloaded.model_name == resolve_model_name(DEFAULT_MODEL)
    assert torch.equal(_logits(reloaded, x), _logits(clf, x))


def test_what_is_given_for_a_folder_must_match_what_it_holds(clip_dir: str, tmp_path: Path) -> None:
    folder = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4).save_adapter(tmp_path / "a")
    assert load_classifier(folder, NAMES, adapter="coop").class_names == tuple(NAMES)  # the same: fine
    with pytest.raises(
        ValueError, match=r"class_names=\['red', 'green', 'blue', 'cyan'\] differs from the class_names"
    ):
        load_classifier(folder, ["red", "green", "blue", "cyan"])
    with pytest.raises(ValueError, match=r"adapter='lora' differs from the adapter saved in .*'coop'"):
        load_classifier(folder, adapter="lora")
    with pytest.raises(ValueError, match=r"adapter options \['n_ctx'\] cannot be given .*'n_ctx': 4"):
        load_classifier(folder, n_ctx=8)
    (folder / ADAPTER_CONFIG_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=r"alnb_adapter\.json is not valid JSON"):
        load_classifier(folder)
    (folder / ADAPTER_CONFIG_FILE).write_text(json.dumps({"adapter": "coop", "format_version": 99}))
    with pytest.raises(ValueError, match=r"lacks the key\(s\) \['config', 'family'"):
        load_classifier(folder)


def test_a_lora_folder_without_alnb_json_loads_with_class_names(
    clip_dir: str, tmp_path: Path, pixels: torch.Tensor
) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="lora", towers="vision", targets=("q", "o"))
    _perturb(clf)
    folder = clf.save_adapter(tmp_path / "lora")
    (folder / ADAPTER_CONFIG_FILE).unlink()  # what peft alone writes
    (folder / "adapter.safetensors").unlink()
    with pytest.raises(ValueError, match=r"peft adapter folder without alnb_adapter\.json.*class_names="):
        load_classifier(folder)
    reloaded = load_classifier(folder, NAMES)
    assert (
        reloaded.adapter.target_modules == clf.adapter.target_modules and reloaded.image_tower_frozen is False
    )
    assert torch.equal(_logits(reloaded, pixels), _logits(clf, pixels))


def _randomise_lora_b(model: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            if "lora_B" in name:
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))


def test_a_folder_peft_itself_wrote_gives_peft_s_logits(
    clip_dir: str, tmp_path: Path, pixels: torch.Tensor
) -> None:
    import torch.nn.functional as F
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, CLIPModel

    from alnb.models.text import pooled

    model = get_peft_model(
        CLIPModel.from_pretrained(clip_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    _randomise_lora_b(model)
    model.save_pretrained(str(tmp_path / "peft"))
    model.eval()
    tokens = AutoTokenizer.from_pretrained(clip_dir)(
        [f"a photo of a {n}." for n in NAMES], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        text = F.normalize(pooled(model.get_text_features(**tokens)), dim=-1)
        image = F.normalize(pooled(model.get_image_features(pixel_values=pixels)), dim=-1)
        expected = model.logit_scale.exp().clamp(max=100) * image @ text.t()
    clf = load_classifier(tmp_path / "peft", NAMES)
    assert clf.adapter_name == "lora" and clf.adapter_config.r == 4 and clf.adapter_config.alpha == 8
    assert clf.model_name == str(Path(clip_dir).resolve())
    torch.testing.assert_close(_logits(clf, pixels), expected)


def test_a_peft_siglip_folder_with_an_inert_head_lora_loads(siglip_dir: str, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, SiglipModel

    targets = ["q_proj", "k_proj", "v_proj", "out_proj"]  # peft also wraps the pooling head's out_proj
    model = get_peft_model(SiglipModel.from_pretrained(siglip_dir), LoraConfig(r=2, target_modules=targets))
    assert any("head.attention.out_proj.lora_B" in n for n, _ in model.named_parameters())
    _randomise_lora_b(model)
    model.save_pretrained(str(tmp_path / "peft"))
    model.eval()
    clf = load_classifier(tmp_path / "peft", NAMES)
    assert not any(".head." in n for n in clf.adapter.target_modules)
    images, _ = color_images(seed=4, per_class=1)
    x = clf.preprocess(images)
    ids = AutoTokenizer.from_pretrained(siglip_dir)(
        [f"a photo of a {n}." for n in NAMES], padding="max_length", max_length=16, return_tensors="pt"
    )["input_ids"]
    with torch.no_grad():
        expected = model(input_ids=ids, pixel_values=x).logits_per_image
    torch.testing.assert_close(_logits(clf, x), expected)


def test_peft_folders_alnb_cannot_read_are_clear_errors(clip_dir: str, vit_dir: str, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPModel, ViTModel

    vit = get_peft_model(
        ViTModel.from_pretrained(vit_dir), LoraConfig(r=2, target_modules=["q_proj", "v_proj"])
    )
    vit.save_pretrained(str(tmp_path / "vit"))
    with pytest.raises(ValueError, match="is a vision model; a peft folder holds no classification head"):
        load_classifier(tmp_path / "vit", NAMES)
    dora = get_peft_model(
        CLIPModel.from_pretrained(clip_dir), LoraConfig(r=2, target_modules=["q_proj"], use_dora=True)
    )
    dora.save_pretrained(str(tmp_path / "dora"))
    with pytest.raises(ValueError, match=r"settings alnb's LoRA adapter does not have: \{'use_dora': True\}"):
        load_classifier(tmp_path / "dora", NAMES)
    config = json.loads((tmp_path / "dora" / "adapter_config.json").read_text())
    (tmp_path / "dora" / "adapter_config.json").write_text(json.dumps({**config, "peft_type": "IA3"}))
    with pytest.raises(
        ValueError, match="describes a 'IA3' adapter; alnb loads peft adapters of peft_type 'LORA'"
    ):
        load_classifier(tmp_path / "dora", NAMES)
    with pytest.raises(ValueError, match="holds a peft LoRA adapter; adapter='coop' cannot load it"):
        load_classifier(tmp_path / "dora", NAMES, adapter="coop")


def test_version_1_folders_still_load(clip_dir: str, tmp_path: Path, pixels: torch.Tensor) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="vpt", n_prompts=3)
    _perturb(clf)
    folder = clf.save_adapter(tmp_path / "v1")
    described = json.loads((folder / ADAPTER_CONFIG_FILE).read_text())
    v1 = {k: described[k] for k in ("adapter", "config", "family", "model_type", "class_names", "model")}
    (folder / ADAPTER_CONFIG_FILE).write_text(json.dumps({"format_version": 1, **v1}))
    assert torch.equal(_logits(load_classifier(folder), pixels), _logits(clf, pixels))


# ---------------------------------------------------------------------------------------------- support from config


def _without_weights(model_dir: str, target: Path, how: str) -> Path:
    copy = Path(shutil.copytree(model_dir, target))
    weights = copy / "model.safetensors"
    assert weights.is_file()
    if how == "absent":
        weights.unlink()
    else:
        weights.write_bytes(b"these are not weights" * 10)
    return copy


@pytest.mark.parametrize("how", ["absent", "unreadable"])
@pytest.mark.parametrize(
    ("model", "adapter", "supported"),
    [
        ("vit", "coop", "linear, lora, vpt"),
        ("dinov2", "zeroshot", "linear, lora, vpt"),
        ("siglip", "vpt", "linear, lora, zeroshot"),
    ],
)
def test_unsupported_adapter_is_refused_from_the_config_before_the_weights(
    model_dirs: dict[str, str], tmp_path: Path, model: str, adapter: str, supported: str, how: str
) -> None:
    broken = _without_weights(model_dirs[model], tmp_path / model, how)
    model_type = TEST_MODELS[model][1]
    with pytest.raises(
        ValueError,
        match=rf"adapter '{adapter}' does not support model .*\(model_type '{model_type}'.*Adapters for this model: "
        rf"{supported}\.",
    ):
        load_classifier(broken, NAMES, adapter=adapter)
    # The premise: a supported adapter does read the weights, and fails on them.
    with pytest.raises(Exception) as info:  # whatever transformers raises for a broken file
        load_classifier(broken, NAMES, adapter="linear")
    assert "does not support" not in str(info.value)


# ---------------------------------------------------------------------------------------------- dtype and device


@pytest.mark.parametrize("adapter", ["coop", "lora", "vpt", "linear"])
def test_bf16_backbone_keeps_float32_adapter_and_logits(
    clip_dir: str, pixels: torch.Tensor, adapter: str
) -> None:
    full = load_classifier(clip_dir, NAMES, adapter=adapter, torch_dtype=torch.float32)
    half = load_classifier(clip_dir, NAMES, adapter=adapter, torch_dtype=torch.bfloat16)
    frozen = {p.dtype for p in half.backbone.parameters() if not p.requires_grad}
    trainable = {p.dtype for p in half.parameters() if p.requires_grad}
    assert frozen == {torch.bfloat16} and trainable == {torch.float32}
    assert half.backbone_dtype == torch.bfloat16 and full.backbone_dtype == torch.float32
    ours, reference = _logits(half, pixels), _logits(full, pixels)
    assert ours.dtype == torch.float32 and bool(torch.isfinite(ours).all())
    # Logits are 100 × cosine; bf16 keeps about 3 significant digits of each feature.
    torch.testing.assert_close(ours / 100, reference / 100, atol=0.03, rtol=0)


@pytest.mark.parametrize("adapter", ["coop", "lora"])
def test_bf16_backbone_trains_and_round_trips(
    clip_dir: str, color_dataset: Dataset, tmp_path: Path, adapter: str
) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter=adapter, torch_dtype="bf16")
    before = {n: p.detach().clone() for n, p in clf.named_parameters()}
    labels = np.asarray(color_dataset["label"], dtype=np.int64)[TRAIN]
    trainer = Trainer(trainer_config(epochs=2)).fit(clf, color_dataset, TRAIN, labels)
    assert all(np.isfinite(trainer.last_fit_.losses))
    for name, param in clf.named_parameters():
        assert torch.equal(param, before[name]) is (not param.requires_grad), name
    folder = clf.save_adapter(tmp_path / "bf16")
    assert json.loads((folder / ADAPTER_CONFIG_FILE).read_text())["dtype"] == "bfloat16"
    reloaded = load_classifier(folder)  # the saved dtype by default
    assert reloaded.backbone_dtype == torch.bfloat16
    images = color_dataset[[40, 41, 42]]["image"]
    x = clf.preprocess(images)
    assert torch.equal(_logits(reloaded, x), _logits(clf, x))
    assert load_classifier(folder, torch_dtype=torch.float32).backbone_dtype == torch.float32


def test_float32_is_the_default_whatever_the_checkpoint_holds(clip_dir: str, tmp_path: Path) -> None:
    from transformers import CLIPModel

    bf16_dir = shutil.copytree(clip_dir, tmp_path / "bf16_clip")
    CLIPModel.from_pretrained(clip_dir, dtype=torch.bfloat16).save_pretrained(bf16_dir)
    assert load_classifier(bf16_dir, NAMES, adapter="zeroshot").backbone_dtype == torch.float32
    assert (
        load_classifier(bf16_dir, NAMES, adapter="zeroshot", torch_dtype="auto").backbone_dtype
        == torch.bfloat16
    )
    for name in ("float32", "torch.float32"):
        assert (
            load_classifier(clip_dir, NAMES, adapter="zeroshot", torch_dtype=name).backbone_dtype
            == torch.float32
        )


@pytest.mark.parametrize("device_map", ["auto", "cpu", torch.device("cpu")])
def test_device_map_puts_the_whole_classifier_on_one_device(vit_dir: str, device_map: object) -> None:
    clf = load_classifier(vit_dir, NAMES, adapter="vpt", device_map=device_map)
    expected = default_device() if device_map == "auto" else torch.device("cpu")
    assert {p.device for p in clf.parameters()} == {expected}
    assert clf.device == expected
    images, _ = color_images(seed=1, per_class=1)
    assert _logits(clf, clf.preprocess(images).to(expected)).shape == (4, 4)


def test_the_trainer_uses_the_same_device_pick(clip_dir: str) -> None:
    trainer = Trainer(trainer_config())
    assert trainer._accelerator().device.type == default_device().type


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"torch_dtype": "int8"}, r"torch_dtype must be None \(float32\), 'auto' .* got 'int8'"),
        ({"torch_dtype": torch.int64}, "torch_dtype must be .* got torch.int64"),
        ({"device_map": {"": 0}}, "device_map must be None, 'auto', .* got a dict .* on one device"),
        ({"device_map": "nope"}, "device_map='nope' is not a device torch knows"),
        ({"device_map": True}, "device_map must be .* got True"),
    ],
)
def test_bad_dtype_and_device_name_the_argument(clip_dir: str, options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_classifier(clip_dir, NAMES, adapter="zeroshot", **options)


def test_an_absent_device_is_refused(clip_dir: str) -> None:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    message = rf"device_map='cuda:{count}' asks for cuda:{count}, but this machine has {count} CUDA"
    with pytest.raises(ValueError, match=message):
        load_classifier(clip_dir, NAMES, adapter="zeroshot", device_map=f"cuda:{count}")
