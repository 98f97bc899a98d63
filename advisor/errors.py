"""One error tree for everything the advisor refuses to do.

Every error the library raises on purpose is an :class:`AdvisorError`. Its message is one
line that names the problem and what to do about it; the CLI prints exactly that line to
stderr and exits with status 2. Anything else escaping the library is a bug.
"""

from __future__ import annotations


class AdvisorError(Exception):
    """Base class: a problem with the user's input, options or rule files."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        text = message if hint is None else f"{message}; {hint}"
        super().__init__(" ".join(text.split()))  # always one line


class DataLoadError(AdvisorError):
    """The data could not be read: missing, empty, unreadable or unsupported file."""


class TargetError(AdvisorError):
    """The target cannot be learned: unknown column, all missing, one class, constant."""


class DataShapeError(AdvisorError):
    """The data are unusable as a whole: too few usable rows, no features, bad values."""


class OptionError(AdvisorError):
    """An option has a value outside what is allowed (unknown activation, metric, loss...)."""

    def __init__(self, name: str, value: object, allowed: object, *, hint: str | None = None) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        if isinstance(allowed, (list, tuple, set, frozenset)):
            allowed_text = "one of " + ", ".join(sorted(map(str, allowed)))
        else:
            allowed_text = str(allowed)
        super().__init__(f"{name} must be {allowed_text}; got {value!r}", hint=hint)


class RuleError(AdvisorError):
    """A rule file is wrong: bad TOML, bad expression, unknown fact or loss, duplicate id."""

    def __init__(self, message: str, *, file: str | None = None, rule_id: str | None = None,
                 hint: str | None = None) -> None:
        self.file = file
        self.rule_id = rule_id
        where = ", ".join(part for part in (file, f"rule {rule_id}" if rule_id else None) if part)
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class ReportError(AdvisorError):
    """A report could not be written or a saved recommendation could not be read."""


class SensitiveError(AdvisorError):
    """The sensitive column (``--sensitive``) cannot define groups: unknown, the target itself,
    a single group, a group too small to measure, a task the fairness check does not cover,
    or the fairness extra (fairlearn) is not installed."""


class SklearnCompatibilityError(AdvisorError):
    """The installed scikit-learn does not fit the MLP adapter (advisor/proxy.py): too old,
    or its private MLP methods changed. One error before any proxy trains, not a failed fit
    per candidate."""

    kind = "dependency"


class MissingDependencyError(AdvisorError, ImportError):
    """An optional extra the run needs is not installed (a survival target needs the
    ``survival`` extra): one line naming the pip command, before anything is computed. An
    ImportError too, so code that probes for an optional part with ``except ImportError``
    keeps working."""

    kind = "dependency"


class FrameworkError(MissingDependencyError):
    """A loss object was asked for a framework that is not installed (or not importable):
    the message names the pip extra that installs it."""


__all__ = [
    "AdvisorError",
    "DataLoadError",
    "TargetError",
    "DataShapeError",
    "OptionError",
    "RuleError",
    "ReportError",
    "SensitiveError",
    "SklearnCompatibilityError",
    "MissingDependencyError",
    "FrameworkError",
]
