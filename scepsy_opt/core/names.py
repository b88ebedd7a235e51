"""Names from input files: the one rule every name that reaches a path, a script or a manifest
obeys, and the Kubernetes name rules the emitted manifests are checked against.

Names of workflows, clusters, node groups, nodes, llms and instances become file and folder
names (``manifests/<node>/launch.sh``), words in shell scripts and Kubernetes object names and
label values. They are checked once, where they are read (:func:`check_name`), so no later stage
has to quote or escape them: a name is 1-63 characters of ASCII letters, digits, ``.``, ``_``
and ``-``, starting and ending with a letter or digit, and never ``..`` (no path separator, no
shell metacharacter, no whitespace or control character can pass).

Kubernetes derives its own names from these (:func:`dns_label`) and every derived name is
checked against the API server's rules (:func:`check_dns_label`, :func:`check_label_value`),
which an offline schema validation does not enforce.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from scepsy_opt.core.errors import ConfigError, EmitError, ScepsyError

NAME_MAX = 63
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
NAME_RULE = ("1-63 characters of ASCII letters, digits, '.', '_' and '-', starting and ending "
             "with a letter or digit, without '..'")

DNS_LABEL_MAX = 63  # RFC 1123 label: object names of most kinds, Service names (RFC 1035)
_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def is_name(value: object) -> bool:
    """Whether ``value`` obeys the name rule (see the module docstring)."""
    return (isinstance(value, str) and len(value) <= NAME_MAX and bool(_NAME.fullmatch(value))
            and ".." not in value)


def check_name(value: object, *, what: str, source: str | None, field: str | None,
               error: type[ScepsyError] = ConfigError) -> str:
    """``value`` if it is a valid name, else ``error`` naming the input, the value and the rule."""
    if not is_name(value):
        raise error(f"{what} is not a valid name: it must be {NAME_RULE}", source=source,
                    field=field, value=value, fix=f"rename it, e.g. {suggest_name(value)!r}")
    return value  # type: ignore[return-value]


def suggest_name(value: object) -> str:
    """A valid name close to ``value`` (for error messages)."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", str(value)).replace("..", ".")
    text = text.strip("._-")[:NAME_MAX].rstrip("._-")
    return text or "name"


HOST_RULE = ("an IPv4 or IPv6 address, or a host name of dot-separated labels of letters, digits "
             "and '-' (each 1-63 characters, not starting or ending with '-'; at most 253)")
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?")


def is_host(value: object) -> bool:
    """Whether ``value`` is an address or a host name a server can listen on (RFC 1123)."""
    if not isinstance(value, str) or not value or len(value) > 253:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    return all(_HOST_LABEL.fullmatch(label) for label in value.removesuffix(".").split("."))


def dns_label(text: str, limit: int = DNS_LABEL_MAX) -> str:
    """``text`` as a Kubernetes DNS-1035 label (lower case, digits, '-'; starts with a letter
    and ends with a letter or digit; at most ``limit`` characters; a hash of ``text`` keeps
    shortened names distinct)."""
    label = _NOT_DNS.sub("-", text.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"x-{label}".rstrip("-") if label else "x"
    if len(label) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        label = f"{label[: limit - 9].rstrip('-')}-{digest}"
    return check_dns_label(label, what=f"the Kubernetes name made of {text!r}")


def is_dns_label(value: object) -> bool:
    """Whether the API server accepts ``value`` as a DNS-1035 label."""
    return isinstance(value, str) and len(value) <= DNS_LABEL_MAX and bool(
        _DNS_1035.fullmatch(value))


def check_dns_label(value: str, *, what: str) -> str:
    """``value`` if the API server accepts it as a DNS-1035 label (object and Service names),
    else an :class:`EmitError`."""
    if not is_dns_label(value):
        raise EmitError(f"{what} is not a DNS-1035 label (lower-case letters, digits and '-', "
                        f"starting with a letter, ending with a letter or digit, at most "
                        f"{DNS_LABEL_MAX} characters)", value=value,
                        fix="rename the llm, node or workflow it is made of")
    return value


def check_label_value(value: str, *, what: str) -> str:
    """``value`` if the API server accepts it as a label value (at most 63 characters of
    letters, digits, '-', '_' and '.', beginning and ending with a letter or digit), else an
    :class:`EmitError`."""
    if len(value) > DNS_LABEL_MAX or not _LABEL_VALUE.fullmatch(value):
        raise EmitError(f"{what} is not a valid Kubernetes label value (at most {DNS_LABEL_MAX} "
                        f"characters of letters, digits, '-', '_' and '.', beginning and ending "
                        f"with a letter or digit)", value=value,
                        fix="rename the node or llm it is made of")
    return value
