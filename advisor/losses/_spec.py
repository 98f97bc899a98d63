"""A catalog entry's spec: what a loss is, where it applies, and how its settings come from data.

A :class:`LossSpec` is data (as Ludwig's loss schema is): id, title, tasks, the output
activations it sits on per task and the vetoes for the others, its parameters with bounds,
formula and citation, and the derivation (data -> parameters). It binds its math to the
derived parameters and the task (:meth:`LossSpec.bind`) and renders its snippets from its
two templates (``templates/<id>.torch.py.j2``, ``templates/<id>.keras.py.j2``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import OptionError
from ..options import FRAMEWORKS, check_choice
from . import _math, _snippets
from ._activation import Veto
from ._base import LossMath, ParamSpec, TargetInterval

if TYPE_CHECKING:  # pragma: no cover
    from ..profile import Profile
    from ._plans import DecisionPlan

#: data -> parameters: ``derive(profile, options)`` with the user's loss options.
Derivation = Callable[["Profile", dict[str, Any]], dict[str, Any]]
#: What a snippet's template needs besides the task, the classes and the parameters:
#: ``values(framework, task, params, profile)``.
SnippetValues = Callable[[str, str, dict[str, Any], "Profile"], dict[str, Any]]


def no_snippet_values(framework: str, task: str, params: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """For templates that need nothing but the task, the classes and the parameters."""
    return {}


@dataclass(frozen=True)
class ParamSearch:
    """A parameter whose best value depends on the data, so the experiment searches it: on
    each training fold, one network per ``grid`` value trains on the fold less a held-out
    fifth and the value that scores best there on the user's metric is refitted on the whole
    fold (:mod:`advisor.experiment.search`); the recommendation takes the value chosen most
    often."""

    name: str
    grid: tuple[float, ...]          # in order of preference: ties go to the earlier value
    why: str                         # why the value depends on the data, with its source


@dataclass(frozen=True, eq=False)
class LossSpec:
    """One catalog entry: metadata, derivation and the math class it binds."""

    #: Canonical, task-generic id (``cross_entropy`` is BCE on binary, CE on multiclass).
    id: str
    title: str
    #: One paragraph: what the loss does and how its parameters are chosen.
    description: str
    #: Output activations of the user's network the loss sits on, per task it applies to
    #: (``linear`` = logits / raw values), possibly with a framework flag such as
    #: ``from_logits=False``.
    activations: Mapping[str, frozenset[str]]
    math: type[LossMath]
    formula: str
    citation: str
    #: The situations that rule the loss out, each with its reason (see ``_activation``).
    vetoes: tuple[Veto, ...] = ()
    params: tuple[ParamSpec, ...] = ()
    #: None: every parameter at its default.
    derivation: Derivation | None = None
    snippet_values: SnippetValues = no_snippet_values
    #: The last layer's activation the snippet expects, per framework (``linear`` otherwise).
    output_activations: Mapping[str, str] | None = None
    #: ``output_layer(framework, width)``: the snippet's ``# Output layer:`` text, when the
    #: loss needs a layer of its own (CORAL).
    output_layer: Callable[[str, int], str] | None = None
    #: What each raw output means, ``(name, meaning)`` in output order, for losses with several
    #: outputs per target (a distribution); empty: one output per target, read through the link.
    outputs: tuple[tuple[str, str], ...] = ()
    #: How the outputs become the one-number prediction (``LossMath.predict``); empty: the link's.
    prediction: str = ""
    #: Folder of the two templates when the loss is defined outside this package (None: the
    #: package's ``templates/``).
    template_dir: str | None = None
    #: A plan's decision rule, tuned on validation data (``_plans``); None: the plain argmax /
    #: 0.5 rule of the loss itself.
    decision: DecisionPlan | None = None
    #: The id whose templates the snippet renders (a plan's base loss); None: this loss's own.
    template_id: str | None = None
    #: A parameter the experiment searches on each training fold; None: the derived values.
    search: ParamSearch | None = None

    def __repr__(self) -> str:
        return f"<LossSpec {self.id}>"

    # ----- metadata ----------------------------------------------------------------------
    @property
    def tasks(self) -> frozenset[str]:
        """Task families the loss applies to (see ``advisor.options.TASKS``)."""
        return frozenset(self.activations)

    @property
    def all_activations(self) -> frozenset[str]:
        """Every output activation the loss sits on, on some task."""
        return frozenset().union(*self.activations.values())

    @property
    def target_interval(self) -> TargetInterval:
        """Targets the loss is defined for."""
        return self.math.target_interval

    @property
    def standardize_target(self) -> bool:
        """Whether the proxy trains on a standardised target."""
        return self.math.standardize_target

    def supports(self, task: str) -> bool:
        """Whether the loss applies to ``task``."""
        return task in self.activations

    def accepts_activation(self, task: str, activation: str) -> bool:
        """Whether a network ending in ``activation`` can feed this loss on ``task`` unchanged.

        ``auto`` always fits (the snippet then sets the output layer itself).
        """
        return activation == "auto" or activation in self.activations.get(task, frozenset())

    def output_activation(self, framework: str) -> str:
        """The activation of the last layer the snippet for ``framework`` expects."""
        return (self.output_activations or {}).get(framework, "linear")

    def in_target_range(self, y: np.ndarray) -> bool:
        """Whether every target value lies in the loss's domain (:attr:`target_interval`)."""
        return self.target_interval.contains(y)

    def param_spec(self, name: str) -> ParamSpec:
        """The :class:`ParamSpec` called ``name``."""
        for spec in self.params:
            if spec.name == name:
                return spec
        raise OptionError(f"{self.id} parameter", name, [spec.name for spec in self.params])

    def defaults(self) -> dict[str, Any]:
        """Every declared parameter at its default."""
        return {spec.name: spec.default for spec in self.params}

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check every declared numeric parameter in ``params`` against its bounds.

        Returns ``params`` unchanged; raises :class:`OptionError` naming the loss, the
        parameter, the allowed range and the value received.
        """
        for spec in self.params:
            value = params.get(spec.name)
            if value is None or spec.low is None and spec.high is None:
                continue
            values = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
            if not all(spec.contains(item) for item in values):
                raise OptionError(f"{self.id}.{spec.name}", value, spec.allowed_text())
        return params

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe metadata of the loss (for documentation and reports)."""
        return {
            "id": self.id, "title": self.title, "tasks": sorted(self.tasks),
            "activations": sorted(self.all_activations),
            "links": sorted({self.math.link_for(task).name for task in self.tasks}),
            "target_range": str(self.target_interval), "formula": self.formula,
            "citation": self.citation, "params": [spec.to_dict() for spec in self.params],
            **({"outputs": [{"name": name, "meaning": meaning} for name, meaning in self.outputs],
                "prediction": self.prediction} if self.outputs else {}),
            **({"decision": {"rule": self.decision.rule, "base": self.decision.base}}
               if self.decision is not None else {}),
        }

    # ----- advice side -------------------------------------------------------------------
    def check_task(self, task: str) -> str:
        """Return ``task`` if the loss applies to it, else raise :class:`OptionError`."""
        if task not in self.activations:
            raise OptionError(f"task for loss {self.id}", task, sorted(self.tasks),
                              hint="pick a loss listed for this task (losses_for_task)")
        return task

    def derive(self, profile: Profile, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Hyper-parameters derived from the data; JSON-safe values, rounded for stable output.

        ``options`` holds the user's loss-related options (e.g. ``quantiles``). Floats are
        rounded to 4 significant digits, vectors are lists, and the result only depends on
        ``profile`` and ``options``.
        """
        self.check_task(profile.task)
        if self.derivation is None:
            derived = self.defaults()
        else:
            derived = self.derivation(profile, dict(options or {}))
        return self.check_params(_math.json_safe(derived))

    def bind(self, params: Mapping[str, Any], task: str) -> LossMath:
        """The loss's math for ``params`` on ``task``, every missing parameter at its default."""
        resolved = {spec.name: spec.default for spec in self.params if spec.default is not None}
        resolved.update({name: value for name, value in params.items() if value is not None})
        return self.math(resolved, self.check_task(task), loss_id=self.id)

    def snippet(self, framework: str, params: dict[str, Any], profile: Profile) -> str:
        """Ready-to-paste code for ``framework`` (``pytorch`` or ``keras``) with ``params`` filled in.

        The first lines are comments: what the snippet is, the output layer it expects
        (``# Output layer: ...``), and, when the user's network ends in another activation,
        what to change; the code below comes from the loss's template for ``framework``.
        """
        framework = check_choice("framework", framework, FRAMEWORKS)
        task = self.check_task(profile.task)
        math = self.bind(params, task)
        width = math.n_outputs(profile)
        expected = self.output_activation(framework)
        output_layer = (self.output_layer(framework, width) if self.output_layer is not None
                        else _snippets.output_layer(framework, width, expected, math.link))
        header = _snippets.header(
            loss_id=self.id, title=self.title, task=task, framework=framework,
            output_layer=output_layer, expected_activation=expected,
            user_activation=str(profile.facts.get("activation", "auto")), link=math.link,
        )
        context = {"task": task, "classes": profile.classes,
                   **self.snippet_values(framework, task, params, profile), **params}
        code = _snippets.render(self.template_id or self.id, framework, context, self.template_dir)
        if self.decision is not None:
            tuning = self.decision.snippet_values(str(profile.facts.get("metric", "")), task)
            code += "\n\n" + _snippets.render(f"decision_{self.decision.rule}", framework,
                                               {**context, **tuning})
        return header + code + "\n"
