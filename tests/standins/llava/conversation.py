"""The one conversation template lmms-eval's `llava` wrapper uses by default (`vicuna_v1`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field


@dataclass
class Conversation:
    system: str
    roles: tuple[str, str]
    separators: tuple[str, str]
    messages: list[list[str | None]] = field(default_factory=list)

    def append_message(self, role: str, message: str | None) -> None:
        self.messages.append([role, message])

    def get_prompt(self) -> str:
        prompt = self.system + self.separators[0]
        for index, (role, message) in enumerate(self.messages):
            prompt += f"{role}: {message}{self.separators[index % 2]}" if message else f"{role}:"
        return prompt

    def copy(self) -> Conversation:
        return copy.deepcopy(self)


conv_templates = {
    "vicuna_v1": Conversation(
        system="A chat between a curious user and an artificial intelligence assistant. "
        "The assistant gives helpful, detailed, and polite answers to the user's questions.",
        roles=("USER", "ASSISTANT"),
        separators=(" ", "</s>"),
    )
}
