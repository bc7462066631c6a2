"""Chat prompts in the model's own template (the Jinja text stored in the GGUF).

Rendering goes through llama-cpp-python's `Jinja2ChatFormatter`, the same sandboxed Jinja set-up
Hugging Face uses, so SmolLM2's template gives exactly the prompt it was trained on. A model
without a template, or with one that does not compile, gets ChatML, the most common format, and
`from_model` says so.
"""

from __future__ import annotations

import logging

import jinja2
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from cocoon_desktop.engine.process.inference_types import InvalidRequest
from cocoon_desktop.engine.process.llama_native import NativeModel

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
log = logging.getLogger(__name__)
ROLES = ("system", "user", "assistant", "tool", "developer")


class ChatRenderer:
    """Renders a list of `{"role", "content"}` messages into one prompt string."""

    def __init__(self, model: NativeModel) -> None:
        eos, bos = model.token_text(model.eos_token), model.token_text(model.bos_token)
        template = model.chat_template()
        self.from_model = False
        if template is not None:
            try:
                self._formatter = _formatter(template, eos, bos)
                self.from_model = True
            except jinja2.TemplateError as exc:
                log.warning("the model's chat template does not compile (%s); using ChatML", exc)
        if not self.from_model:
            self._formatter = _formatter(CHATML_TEMPLATE, eos, bos)

    def render(self, messages: list[dict[str, str]]) -> str:
        _check_messages(messages)
        try:
            return self._formatter(messages=messages).prompt
        except (jinja2.TemplateError, ValueError, TypeError) as exc:
            raise InvalidRequest(f"The model's chat template rejected these messages: {exc}. "
                                 "Check the roles and their order.") from exc


def _formatter(template: str, eos: str, bos: str) -> Jinja2ChatFormatter:
    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                               add_generation_prompt=True)


def _check_messages(messages: list[dict[str, str]]) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty list of {role, content} objects.")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages[{index}] must be an object with role and content.")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise InvalidRequest(f"messages[{index}].role must be one of {', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise InvalidRequest(f"messages[{index}].content must be text.")
