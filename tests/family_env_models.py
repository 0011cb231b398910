"""Tiny random-weight models of the families the extra environments serve, built locally.

Each builder writes a loadable model + processor folder from the family's transformers config
classes, a word-level tokenizer built here and the family's published chat template (stored in
tests/data/chat_templates/, source named there). Nothing is downloaded. Answers are noise; the
runs prove what the wrapper hands the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medmim_tasks.sanity.tiny_model import BASE_WORDS

CHAT_TEMPLATES = Path(__file__).resolve().parent / "data" / "chat_templates"
TEXT_LAYERS = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1}
VISION_LAYERS = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}


def published_chat_template(name: str) -> str:
    """The chat template stored as tests/data/chat_templates/NAME.json (key `chat_template`)."""
    return json.loads((CHAT_TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))["chat_template"]


def word_tokenizer(special_tokens: list[str], **named_tokens: str) -> Any:
    """A fast word-level tokenizer: the special tokens first (ids 0..), then a small vocabulary."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    punctuation = list(".,:;?!()[]{}'\"-/|<>_")
    roles = ["User", "Assistant", "user", "assistant", "system", "model"]
    words = [word for word in dict.fromkeys(BASE_WORDS + roles + punctuation + [str(n) for n in range(10)]) if word not in special_tokens]
    vocabulary = {token: index for index, token in enumerate(special_tokens + words)}
    backend = Tokenizer(models.WordLevel(vocab=vocabulary, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special_tokens])
    # input ids and attention mask only, as the families' own tokenizers (no token_type_ids)
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", model_input_names=["input_ids", "attention_mask"], **named_tokens)


def _save(model: Any, processor: Any, output_dir: Path) -> Path:
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return output_dir


def build_tiny_idefics2(output_dir: Path, chat_template_name: str = "mantis_idefics2", seed: int = 0) -> Path:
    """Idefics2 (the architecture of Mantis-8B-Idefics2 and idefics2-8b): SigLIP-like vision,
    perceiver resampler (4 latents = 4 image tokens per image), Mistral text model."""
    import torch
    from transformers import (
        Idefics2Config,
        Idefics2ForConditionalGeneration,
        Idefics2ImageProcessor,
        Idefics2Processor,
    )

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<fake_token_around_image>", "<image>", "<end_of_utterance>"]
    tokenizer = word_tokenizer(specials, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.add_special_tokens({"additional_special_tokens": specials[4:]})
    latents = 4
    config = Idefics2Config(
        vision_config={**VISION_LAYERS, "image_size": 28, "patch_size": 14},
        perceiver_config={"hidden_size": TEXT_LAYERS["hidden_size"], "resampler_n_latents": latents, "resampler_depth": 1, "resampler_n_heads": 2, "resampler_head_dim": 8, "num_key_value_heads": 1},
        text_config={"model_type": "mistral", "vocab_size": len(tokenizer), **TEXT_LAYERS, "max_position_embeddings": 4096, "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id},
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=False,
    )
    image_processor = Idefics2ImageProcessor(do_image_splitting=False, size={"longest_edge": 28, "shortest_edge": 14})
    processor = Idefics2Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=latents, chat_template=published_chat_template(chat_template_name))
    torch.manual_seed(seed)
    return _save(Idefics2ForConditionalGeneration(config).eval(), processor, Path(output_dir))


def build_tiny_idefics3(output_dir: Path, seed: int = 0) -> Path:
    """Idefics3 (SmolVLM): SigLIP-like vision (4x4 patches), pixel shuffle to 4 image tokens, Llama text."""
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    specials = ["<unk>", "<|im_start|>", "<end_of_utterance>", "<|im_end|>", "<fake_token_around_image>", "<image>", "<global-img>"]
    tokenizer = word_tokenizer(specials, bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|im_end|>")
    tokenizer.add_special_tokens({"additional_special_tokens": specials[4:]})
    config = Idefics3Config(
        vision_config={**VISION_LAYERS, "image_size": 56, "patch_size": 14},
        text_config={"model_type": "llama", "vocab_size": len(tokenizer), **TEXT_LAYERS, "max_position_embeddings": 4096, "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id},
        scale_factor=2,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=False,
    )
    image_processor = Idefics3ImageProcessor(do_image_splitting=False, size={"longest_edge": 56}, max_image_size={"longest_edge": 56})
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4, chat_template=published_chat_template("huggingface_smolvlm"))
    torch.manual_seed(seed)
    return _save(Idefics3ForConditionalGeneration(config).eval(), processor, Path(output_dir))


def build_tiny_gemma3(output_dir: Path, seed: int = 0) -> Path:
    """Gemma 3: SigLIP vision (2x2 patches), 4 soft tokens per image, Gemma3 text model."""
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
    )

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
    tokenizer = word_tokenizer(
        specials,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image_soft_token>", "boi_token": "<start_of_image>", "eoi_token": "<end_of_image>"},
    )
    tokens = 4
    config = Gemma3Config(
        text_config={"model_type": "gemma3_text", "vocab_size": len(tokenizer), **TEXT_LAYERS, "head_dim": 16, "max_position_embeddings": 4096, "sliding_window": 64, "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 1},
        vision_config={"model_type": "siglip_vision_model", **VISION_LAYERS, "image_size": 28, "patch_size": 14},
        mm_tokens_per_image=tokens,
        image_token_index=tokenizer.convert_tokens_to_ids("<image_soft_token>"),
        boi_token_index=tokenizer.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tokenizer.convert_tokens_to_ids("<end_of_image>"),
    )
    image_processor = Gemma3ImageProcessor(size={"height": 28, "width": 28}, do_pan_and_scan=False)
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_length=tokens, chat_template=published_chat_template("gemma3_it"))
    torch.manual_seed(seed)
    return _save(Gemma3ForConditionalGeneration(config).eval(), processor, Path(output_dir))


def build_phi_stand_in(output_dir: Path, chat_template_name: str | None = None) -> Path:
    """A local "remote code" folder for the Phi wrappers: tests/standins/phi/standin_phi.py as
    model and processor (trust_remote_code loads it from here), a word-level tokenizer with the
    published chat template when the wrapper uses one."""
    import shutil

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).resolve().parent / "standins" / "phi" / "standin_phi.py", output_dir / "standin_phi.py")
    specials = ["<unk>", "<s>", "<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]
    tokenizer = word_tokenizer(specials, bos_token="<s>", eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    if chat_template_name:
        tokenizer.chat_template = published_chat_template(chat_template_name)
    tokenizer.save_pretrained(output_dir)
    auto_map = {"AutoConfig": "standin_phi.PhiStandInConfig", "AutoModelForCausalLM": "standin_phi.PhiStandInForCausalLM", "AutoProcessor": "standin_phi.PhiStandInProcessor"}
    reply_ids = tokenizer("A", add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    config = {"model_type": "phi_stand_in", "architectures": ["PhiStandInForCausalLM"], "auto_map": auto_map, "reply_ids": reply_ids, "torch_dtype": "float32"}
    (output_dir / "config.json").write_text(json.dumps(config))
    (output_dir / "processor_config.json").write_text(json.dumps({"processor_class": "PhiStandInProcessor", "auto_map": {"AutoProcessor": auto_map["AutoProcessor"]}}))
    # weights, so from_pretrained finds a checkpoint
    from transformers import AutoConfig, AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(output_dir, trust_remote_code=True), trust_remote_code=True)
    model.save_pretrained(output_dir)
    return output_dir
