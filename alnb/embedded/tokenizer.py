"""The embedded tiny CLIP's word-level tokenizer, built offline from the procedural world's vocabulary."""

from __future__ import annotations

from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from alnb.embedded.world import vocabulary

__all__ = ["BOS", "EOS", "PAD", "UNK", "build_tokenizer"]

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<|startoftext|>", "<|endoftext|>"


def build_tokenizer(context_length: int = 32) -> PreTrainedTokenizerFast:
    """A lower-casing word-level tokenizer that wraps text as ``BOS words EOS`` and pads to ``context_length``.

    The end-of-text id is kept different from 2: transformers' CLIP text model falls back to a legacy pooling rule when
    ``eos_token_id == 2``.
    """
    specials = [PAD, UNK, "<reserved>", BOS, EOS]
    vocab = {token: i for i, token in enumerate(specials)}
    for word in vocabulary():
        vocab.setdefault(word, len(vocab))
    core = Tokenizer(WordLevel(vocab=vocab, unk_token=UNK))
    core.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=context_length,
        padding_side="right",
    )
