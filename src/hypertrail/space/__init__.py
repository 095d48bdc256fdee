"""Search spaces: parameter domains, repeated blocks, conditions and constraints."""

from hypertrail.space.codec import space_from_dict, space_to_dict
from hypertrail.space.expressions import Expression, parse
from hypertrail.space.loader import load_space
from hypertrail.space.params import Categorical, Domain, Fixed, Float, Int, Ordinal
from hypertrail.space.repeat import Repeat
from hypertrail.space.space import Constraint, Param, Space

__all__ = [
    "Categorical",
    "Constraint",
    "Domain",
    "Expression",
    "Fixed",
    "Float",
    "Int",
    "Ordinal",
    "Param",
    "Repeat",
    "Space",
    "load_space",
    "parse",
    "space_from_dict",
    "space_to_dict",
]
