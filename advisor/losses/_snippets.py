"""The PyTorch / Keras snippets: the header every snippet shares, and the templates' renderer.

Every snippet starts with comment lines saying what it is, which output layer it expects
(``# Output layer: ...``) and, when the user's network ends in another activation, what to
change. The code below the header comes from the loss's Jinja template,
``templates/<loss id>.torch.py.j2`` or ``templates/<loss id>.keras.py.j2``, rendered with the
derived values. Numbers are written with the :func:`num` and :func:`nums` filters so that a
value in the derived parameters appears verbatim in the code.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..options import a_or_an

if TYPE_CHECKING:  # pragma: no cover
    from ._link import Link

FRAMEWORK_NAMES = {"pytorch": "PyTorch", "keras": "Keras"}
#: The framework's part of a template's file name.
_TEMPLATE_SUFFIX = {"pytorch": "torch", "keras": "keras"}

#: Links whose raw outputs are logits or scores, not values: they need a linear output layer.
_LOGIT_LINKS = frozenset({"logit", "softmax", "ordinal", "margin"})


def num(value: Any) -> str:
    """A number as Python source (shortest float repr, ints unchanged, None as None)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    return repr(float(value))


def nums(values: Iterable[Any]) -> str:
    """A list of numbers as Python source: ``[0.5, 1.25]``."""
    return "[" + ", ".join(num(value) for value in values) + "]"


def index_dict(values: Iterable[Any]) -> str:
    """A list of numbers as a Python dict keyed by position: ``{0: 1.0, 1: 2.5}``."""
    return "{" + ", ".join(f"{index}: {num(value)}" for index, value in enumerate(values)) + "}"


def class_note(classes: Sequence[str], what: str = "classes", limit: int = 20) -> str:
    """A comment line naming the order of the classes a vector is aligned with."""
    shown = [repr(str(label)) for label in classes[:limit]]
    more = f", ... ({len(classes)} in all)" if len(classes) > limit else ""
    return f"# order of the {what}: [{', '.join(shown)}{more}]"


def output_layer(framework: str, width: int, activation: str, link: Link) -> str:
    """Text of the ``# Output layer:`` line."""
    meaning = link.meaning
    if framework == "pytorch":
        layer = f"nn.Linear(hidden_units, {width})"
        if activation == "exp":
            return f"{layer} followed by torch.exp (the output is the mean)"
        return f"{layer} with no activation; it returns {meaning}"
    layer = f"keras.layers.Dense({width}"
    if activation == "exp":
        return f'{layer}, activation="exponential") (the output is the mean)'
    return f"{layer}) with no activation; it returns {meaning}"


def activation_advice(user: str, expected: str, link: Link) -> str | None:
    """A comment telling the user how to change their output activation, or None."""
    if user in ("auto", expected):
        return None
    if expected == "exp":
        if user == "linear":
            return ('# Your network ends in a linear output: add activation="exponential" '
                    "(this loss takes the mean, not its log).")
        return (f"# Your network ends in {user}: use the exponential activation instead "
                "(it matches the log link and keeps the mean positive).")
    if link.name in _LOGIT_LINKS:
        if user in ("sigmoid", "softmax"):
            applied = "softmax" if link.name == "softmax" else "sigmoid"
            if link.name == "margin":
                return (f"# Your network ends in {user}: remove it; margin losses work on raw "
                        "scores.")
            return (f"# Your network ends in {user}: remove it and return the raw logits; "
                    f"the loss applies the {applied} itself, which is numerically stable.")
        return (f"# Your network ends in {user}, which cannot produce logits: replace it "
                "with a linear output layer.")
    if link.name == "log":
        if user in ("exp", "softplus"):
            return (f"# Your network ends in {user}: drop it and let the layer return the log "
                    "of the mean; the loss exponentiates it itself.")
        return (f"# Your network ends in {user}: replace it with a linear output (the log of "
                "the mean can be any real number).")
    return (f"# Your network ends in {user}: that bounds the predictions; a linear output is "
            f"the usual choice here (keep {user} only if every target lies in its range).")


def header(*, loss_id: str, title: str, task: str, framework: str, output_layer: str,
           expected_activation: str, user_activation: str, link: Link) -> str:
    """The comment lines every snippet starts with."""
    lines = [
        f"# loss-advisor: {title} ({loss_id}) for {a_or_an(task)} target, {FRAMEWORK_NAMES[framework]}.",
        f"# Output layer: {output_layer}",
    ]
    advice = activation_advice(user_activation, expected_activation, link)
    if advice:
        lines.append(advice)
    return "\n".join(lines) + "\n"


def template_name(loss_id: str, framework: str) -> str:
    """File name of the template of ``loss_id``'s snippet for ``framework``."""
    return f"{loss_id}.{_TEMPLATE_SUFFIX[framework]}.py.j2"


def render(loss_id: str, framework: str, context: Mapping[str, Any],
           directory: str | None = None) -> str:
    """The code of ``loss_id``'s template for ``framework``, without surrounding blank lines.

    The templates are the package's own, unless the loss keeps them in ``directory`` (a loss
    defined outside this package, e.g. in the user's own code)."""
    template = _environment(directory).get_template(template_name(loss_id, framework))
    return template.render(context).strip()


@functools.lru_cache(maxsize=8)
def _environment(directory: str | None) -> Any:
    """Jinja2, imported on first use; Python source, so no HTML autoescaping. An undefined
    name is an error, so a template cannot silently print nothing for a missing value."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

    loader: Any = PackageLoader("advisor.losses", "templates")
    if directory is not None:
        loader = ChoiceLoader([FileSystemLoader(directory), loader])
    environment = Environment(loader=loader, autoescape=False,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)
    environment.filters.update({"num": num, "nums": nums, "index_dict": index_dict,
                                "class_note": class_note})
    return environment
