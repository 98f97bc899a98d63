"""Ready-to-train loss objects: what :mod:`advisor.torch` and :mod:`advisor.keras` share.

A recommendation's candidate (loss id, parameters, task) becomes a ``torch.nn.Module`` or a
Keras 3 loss without pasting code: both wrap the loss's formula of :data:`FORMULAS` (one
function per loss id, written once in the ``keras.ops`` vocabulary; see ``_registry``), fed
with the candidate's parameters as values. Nothing here imports torch or keras: this module
resolves the setting (:func:`loss_setting`) and reads a saved JSON result
(:func:`saved_setting`); the framework modules import their framework when they are imported.

Adding a loss object: a ``@formula("<id>")`` function in ``_classification.py``,
``_numeric.py`` or ``_survival.py`` (or a new module imported below), mirroring the loss's
``LossMath``; ``tests/test_loss_objects.py`` then checks it against that math for every
catalog entry.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import FrameworkError, OptionError, ReportError
from ..losses import CATALOG
from . import _classification, _numeric, _survival  # noqa: F401  (each registers its formulas)
from ._registry import FORMULAS, Formula, formula

__all__ = ["FORMULAS", "Formula", "LossSetting", "SettingView", "formula", "import_framework",
           "loss_setting", "saved_candidate", "saved_setting"]

#: framework module -> (what to call it, the pip extra that installs it)
_EXTRAS = {"torch": ("PyTorch", "torch"), "keras": ("Keras 3", "keras")}


@dataclass(frozen=True)
class LossSetting:
    """One loss ready to build: its id, its task, its parameters (declared defaults filled in)
    and its formula."""

    loss_id: str
    task: str
    params: dict[str, Any]
    formula: Formula

    def describe(self) -> str:
        """``focal on binary`` and the parameters, for the objects' repr."""
        shown = ", ".join(f"{name}={value!r}" for name, value in self.params.items()
                          if not isinstance(value, (list, tuple)) or len(value) <= 6)
        return f"{self.loss_id} on {self.task}" + (f" ({shown})" if shown else "")


class SettingView:
    """A loss object's id, parameters and task, read from its ``setting`` (both frameworks'
    objects show the same three)."""

    setting: LossSetting

    @property
    def loss_id(self) -> str:
        return self.setting.loss_id

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.setting.params)

    @property
    def task(self) -> str:
        return self.setting.task


def loss_setting(loss_id: str, params: dict[str, Any] | None, task: str) -> LossSetting:
    """The setting of ``loss_id`` on ``task`` with ``params`` (a candidate's ``params``).

    A catalog loss checks the task and fills in its declared defaults; an unknown id, or one
    without a formula, raises :class:`OptionError` listing the ids that have one.
    """
    if loss_id not in FORMULAS:
        raise OptionError("loss object", loss_id, sorted(FORMULAS),
                          hint="a loss object exists for every catalog loss (advisor.losses.CATALOG)")
    resolved = dict(params or {})
    spec = CATALOG.get(loss_id)
    if spec is not None:
        resolved = spec.bind(resolved, task).params
    return LossSetting(loss_id, task, resolved, FORMULAS[loss_id])


def import_framework(name: str) -> ModuleType:
    """``torch`` or ``keras``, imported; :class:`FrameworkError` naming the pip extra when it is
    missing (or, for Keras, when it is not Keras 3 or its backend cannot be imported)."""
    title, extra = _EXTRAS[name]
    install = f"pip install 'loss-advisor[{extra}]'"
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        if error.name == name:
            raise FrameworkError(f"{title} is not installed; {install}") from None
        raise FrameworkError(f"{title} is installed but cannot be imported ({error}); for Keras, "
                             "install its backend or set KERAS_BACKEND (e.g. torch)") from None
    if name == "keras" and not str(getattr(module, "__version__", "0")).startswith("3"):
        raise FrameworkError(f"the loss objects need Keras 3, found Keras {module.__version__}; "
                             f"{install}")
    return module


def saved_setting(path: str | Path, loss: str | None = None) -> LossSetting:
    """The setting of a candidate of a saved JSON result (``advisor suggest ... --format json``):
    the recommended one, or the candidate whose loss id is ``loss``.

    A file that cannot be read or is not a saved result raises :class:`ReportError`; a loss id
    that is not among its candidates raises :class:`OptionError` listing them.
    """
    chosen, task = saved_candidate(path, loss)
    return loss_setting(chosen["loss"], chosen["params"], task)


def saved_candidate(path: str | Path, loss: str | None = None) -> tuple[dict[str, Any], str]:
    """The candidate record (``loss``, ``params``) of a saved JSON result and the result's
    task: the recommended candidate, or the one whose loss id is ``loss`` (errors as
    :func:`saved_setting`'s). A multitask candidate's params are its composite's."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ReportError(f"cannot read the saved result {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReportError(f"{path} is not a JSON result of advisor suggest ({error})") from None
    candidates = payload.get("candidates") if isinstance(payload, dict) else None
    if (not isinstance(candidates, list) or not candidates or not isinstance(payload.get("task"), str)
            or not all(isinstance(item, dict) and isinstance(item.get("loss"), str)
                       and isinstance(item.get("params"), dict) for item in candidates)):
        raise ReportError(f"{path} is not a JSON result of advisor suggest: it needs a task and "
                          "candidates with a loss and params (advisor suggest ... --format json)")
    ids = [item["loss"] for item in candidates]
    chosen = candidates[0] if loss is None else next(
        (item for item in candidates if item["loss"] == loss), None)
    if chosen is None:
        raise OptionError("loss", loss, ids, hint=f"the candidates saved in {path}")
    return chosen, str(payload["task"])
