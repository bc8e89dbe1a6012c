"""Plain data across the process boundary: JSON for the structure, ``.npy``
files for the arrays, never a pickle.

A value (the inputs of a check, or what the student's function returned) is
written as ``<stem>.json`` holding its structure and ``<stem>.<k>.npy`` for
each array in it (``np.save(..., allow_pickle=False)``). Supported: tuples,
lists, dicts with string keys, ``None``, ``bool``/``int``/``float``/
``complex``/``str``, NumPy arrays and scalars (any non-object dtype) and
``numpy.random.Generator`` (as its bit generator's state). Anything else is
refused with :class:`CodecError`.

Reading is defensive, because the child's files are untrusted: sizes are
capped, each ``.npy`` header is checked against the file size before any
allocation, and arrays load with ``allow_pickle=False``. Whatever an object
in the child pretended to be (a lying ``__eq__``, ``__array__`` or ndarray
subclass), what arrives here is a plain ``ndarray`` of numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["CodecError", "dump", "load", "MAX_JSON_BYTES", "MAX_ARRAY_BYTES"]

MAX_JSON_BYTES = 1 << 20
MAX_ARRAY_BYTES = 256 << 20
MAX_NODES = 100_000
MAX_DEPTH = 32
MAX_STRING = 10_000


class CodecError(ValueError):
    """A value that cannot cross the boundary as plain data."""


def _plain_array(value) -> np.ndarray:
    array = np.asarray(value)
    if type(array) is not np.ndarray:  # a subclass: keep only the numbers
        array = array.view(np.ndarray)
    if array.dtype.hasobject:
        raise CodecError(f"a {type(value).__name__} that is not an array of numbers")
    return np.array(array, copy=True, order="C")


def dump(value, folder: str | os.PathLike, stem: str) -> None:
    """Write ``value`` as ``folder/stem.json`` plus ``folder/stem.<k>.npy``."""
    folder = Path(folder)
    arrays: list[np.ndarray] = []
    counter = [0]

    def encode(v, depth: int):
        counter[0] += 1
        if counter[0] > MAX_NODES or depth > MAX_DEPTH:
            raise CodecError("the value is too large or too deeply nested")
        t = type(v)
        if v is None:
            return ["none"]
        if t is bool:
            return ["bool", v]
        if t is int:
            return ["int", str(v)]
        if t is float:
            return ["float", repr(v)]
        if t is complex:
            return ["complex", repr(v.real), repr(v.imag)]
        if t is str:
            return ["str", v[:MAX_STRING]]
        if isinstance(v, np.random.Generator):
            bit_generator = v.bit_generator
            return [
                "generator",
                type(bit_generator).__name__,
                encode(bit_generator.state, depth + 1),
            ]
        if isinstance(v, np.generic):
            arrays.append(_plain_array(v))
            return ["scalar", len(arrays) - 1]
        if isinstance(v, tuple):  # named tuples included
            return ["tuple", [encode(x, depth + 1) for x in v]]
        if isinstance(v, list):
            return ["list", [encode(x, depth + 1) for x in v]]
        if isinstance(v, dict):
            if not all(type(k) is str for k in v):
                raise CodecError("a dict whose keys are not all strings")
            return ["dict", [[k, encode(x, depth + 1)] for k, x in v.items()]]
        # arrays, array-likes, subclasses of the Python numbers: the numbers
        array = _plain_array(v)
        arrays.append(array)
        kind = "array" if isinstance(v, np.ndarray) or array.ndim else "scalar"
        return [kind, len(arrays) - 1]

    structure = encode(value, 0)
    for k, array in enumerate(arrays):
        np.save(folder / f"{stem}.{k}.npy", array, allow_pickle=False)
    text = json.dumps({"structure": structure, "arrays": len(arrays)})
    (folder / f"{stem}.json").write_text(text)


def _load_npy(path: Path, budget: list[int]) -> np.ndarray:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise CodecError(f"{path.name}: unsupported .npy version {version}")
        except ValueError as err:
            raise CodecError(f"{path.name}: not a .npy file ({err})") from None
        if dtype.hasobject:
            raise CodecError(f"{path.name}: an object array")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        nbytes = count * dtype.itemsize
        if nbytes != size - fh.tell() or nbytes > budget[0]:
            raise CodecError(f"{path.name}: size does not match its header")
        budget[0] -= nbytes
    return np.load(path, allow_pickle=False)


def load(folder: str | os.PathLike, stem: str, max_bytes: int = MAX_ARRAY_BYTES):
    """Read back what :func:`dump` wrote (or what an untrusted child wrote)."""
    folder = Path(folder)
    meta_path = folder / f"{stem}.json"
    if meta_path.stat().st_size > MAX_JSON_BYTES:
        raise CodecError(f"{meta_path.name} is larger than {MAX_JSON_BYTES} bytes")
    try:
        meta = json.loads(meta_path.read_text())
        n_arrays = int(meta["arrays"])
        structure = meta["structure"]
    except (ValueError, KeyError, TypeError) as err:
        raise CodecError(f"{meta_path.name} is not valid ({err})") from None
    budget = [int(max_bytes)]
    arrays: dict[int, np.ndarray] = {}
    counter = [0]

    def array(index) -> np.ndarray:
        if not isinstance(index, int) or not 0 <= index < n_arrays:
            raise CodecError("an array reference out of range")
        if index not in arrays:
            arrays[index] = _load_npy(folder / f"{stem}.{index}.npy", budget)
        return arrays[index]

    def decode(node, depth: int):
        counter[0] += 1
        if counter[0] > MAX_NODES or depth > MAX_DEPTH:
            raise CodecError("the value is too large or too deeply nested")
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise CodecError("a malformed node")
        tag, args = node[0], node[1:]
        try:
            if tag == "none":
                return None
            if tag == "bool":
                return bool(args[0] is True)
            if tag == "int":
                text = str(args[0])
                if len(text) > 4300:
                    raise CodecError("an integer with too many digits")
                return int(text)
            if tag == "float":
                return float(args[0])
            if tag == "complex":
                return complex(float(args[0]), float(args[1]))
            if tag == "str":
                return str(args[0])[:MAX_STRING]
            if tag in ("tuple", "list"):
                items = [decode(x, depth + 1) for x in args[0]]
                return tuple(items) if tag == "tuple" else items
            if tag == "dict":
                return {str(k): decode(x, depth + 1) for k, x in args[0]}
            if tag == "array":
                return array(args[0])
            if tag == "scalar":
                return array(args[0])[()]
            if tag == "generator":
                bit_generator = getattr(np.random, str(args[0]))
                if not (
                    isinstance(bit_generator, type)
                    and issubclass(bit_generator, np.random.BitGenerator)
                ):
                    raise CodecError(f"unknown bit generator {args[0]!r}")
                instance = bit_generator()
                instance.state = decode(args[1], depth + 1)
                return np.random.Generator(instance)
        except (IndexError, TypeError, ValueError, AttributeError) as err:
            if isinstance(err, CodecError):
                raise
            raise CodecError(f"a malformed {tag!r} node ({err})") from None
        raise CodecError(f"an unknown node type {tag!r}")

    return decode(structure, 0)
