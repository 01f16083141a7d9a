"""Reading ``template.yaml``: CloudFormation tags, parameters, conditions, intrinsic functions.

The local stack and the tests build every resource from this one source; nothing is re-declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"  # moto's default account
NO_VALUE = object()


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns ``!Ref x`` into ``{"Ref": x}`` and ``!Sub`` into ``{"Fn::Sub": ...}``."""


def _construct(tag: str) -> Any:
    def build(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {tag: value}

    return build


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _construct(_short))
for _fn in (
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "ImportValue",
    "GetAZs",
    "Base64",
):
    _CfnLoader.add_constructor(f"!{_fn}", _construct(f"Fn::{_fn}"))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506  # a SafeLoader plus the !Ref-style tags
    return data


@dataclass
class PhysicalResource:
    logical_id: str
    type: str
    ref: str  # what !Ref returns
    attributes: dict[str, str] = field(default_factory=dict)  # what !GetAtt returns


@dataclass
class Stack:
    """A template with parameter values and the physical ids of its resources."""

    template: dict[str, Any]
    name: str = "pulse-local"
    region: str = "us-east-1"
    parameters: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, PhysicalResource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        values = {k: v.get("Default") for k, v in declared.items()}
        unknown = set(self.parameters) - set(values)
        if unknown:
            raise ValueError(f"unknown template parameters: {sorted(unknown)}")
        values.update(self.parameters)
        self.parameters = values

    # ----------------------------------------------------------------- template views
    def resource_specs(self, type_: str | None = None) -> dict[str, dict[str, Any]]:
        """The resources (of one type), leaving out those whose ``Condition`` is false, as CloudFormation does."""
        items = self.template.get("Resources", {}).items()
        return {
            k: v
            for k, v in items
            if (type_ is None or v.get("Type") == type_) and ("Condition" not in v or self.condition(v["Condition"]))
        }

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties with intrinsic functions resolved."""
        spec = self.template["Resources"][logical_id]
        resolved = self.resolve(spec.get("Properties", {}))
        return resolved if isinstance(resolved, dict) else {}

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A serverless function's properties merged over ``Globals.Function`` (as SAM does)."""
        glob = self.resolve(self.template.get("Globals", {}).get("Function", {}))
        own = self.properties(logical_id)
        merged = {**glob, **own}
        env = dict(glob.get("Environment", {}).get("Variables", {}))
        env.update(own.get("Environment", {}).get("Variables", {}))
        merged["Environment"] = {"Variables": env}
        return merged

    # ----------------------------------------------------------------- intrinsic functions
    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }[name]

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name].ref
        raise KeyError(f"!Ref {name}: not a parameter or a created resource")

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.resources[logical_id].attributes[attribute]
        except KeyError:
            raise KeyError(f"!GetAtt {logical_id}.{attribute} is not available locally") from None

    def resolve(self, value: Any) -> Any:  # noqa: C901 - one branch per intrinsic function
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attr)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(p) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                return str(self.get_att(logical, attr))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!][^}]*)\}", repl, text)
