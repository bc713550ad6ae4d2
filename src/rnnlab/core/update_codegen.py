"""A traced elementwise ``update`` (and its VJP) compiled to one fused C++ loop.

The split runner's traced programs (:mod:`rnnlab.core.update_programs`) replay ``update``
op by op: at seed 002's size every ATen call on a (32, 128) block costs 4-30 µs (``tanh``
alone ~28 µs, unvectorised), so a dozen of them per step forward and two dozen backward cost
more than the recurrent GEMM. Most cells' ``update`` is elementwise, though: gates sliced out
of the pre-activations, sigmoids, tanhs, products and sums, per-feature weights broadcast over
the batch. Such a graph is one loop over the features of each row, every intermediate a
register. This module writes that loop as C++ from the FX graph, compiles it with the system
compiler (no torch headers: well under a second) into a cached shared library, and hands the
C++ time loop (``torch.ops.rnnlab.split_forward``/``split_backward``) its address.

How a graph becomes a loop. Every value is a row of the batch (``(batch, width)``), a
per-feature vector (``(width,)``, a parameter), or a scalar. Widths are multiples of one base
width ``W`` (the gcd of all widths in the graph): a value of width ``k·W`` is ``k`` lanes, and
lane ``m`` at feature ``j`` is one C expression. Slicing and ``split`` select lanes, ``cat``
joins them, elementwise operations work lane by lane (broadcasting vectors and scalars), and
a sum over the batch (a parameter's gradient) accumulates into its output across rows — and,
in the backward loop, across steps. Anything else (a matrix product, a norm's reduction over
features, a dtype change, a view that moves elements) leaves the graph to the traced program.

Generated entry point (one per graph)::

    void rnnlab_fused(int64_t rows, const uint8_t* alive, const void* const* in,
                      const int64_t* in_ld, void* const* out, const int64_t* out_ld)

``in``/``out`` in the graph's argument/result order; a row tensor's leading dimension in
``*_ld`` (a vector's or scalar's is ignored); rows with ``alive[r] == 0`` are skipped
(``alive`` may be null). Vector and scalar results are sums over rows and are added to
(``+=``) what the caller's buffer holds.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import operator
import os
import shutil
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["FusedProgram", "compiler_available", "fuse"]

aten = torch.ops.aten

# The activations (tanh, sigmoid) of rnnlab's kernels, so fused updates match them.
_HEADER = Path(__file__).parent / "kernels" / "csrc" / "rnnlab_math.h"
_PRELUDE = """#include <cstdint>
#include "rnnlab_math.h"
using rnnlab_math::sigmoid_;
using rnnlab_math::tanh_;
"""


class NotFusableError(Exception):
    """The graph holds something the fused loop does not do; the traced program runs it."""


@dataclass(frozen=True)
class FusedProgram:
    """A compiled graph: ``address`` of its ``rnnlab_fused`` (see the module docstring),
    ``outputs`` the kind of each result (``"row"``, ``"vector"`` or ``"scalar"``, the last two
    summed into the caller's buffer), ``widths`` each result's width (1 for a scalar)."""

    address: int
    outputs: tuple[str, ...]
    widths: tuple[int, ...]
    library: object  # the loaded ctypes library: kept alive while the program is


@dataclass
class _Value:
    """One graph value during generation: how it varies (``"row"``: per row of the batch,
    ``"vector"``: per feature only, ``"scalar"``), its lanes (one C expression per lane of the
    base width; a scalar has one), whether it is a sum over rows (``reduced``: allowed only as
    a graph result), a boolean (from a comparison), or a constant zero (a vector or scalar
    result that is zero adds nothing to its buffer)."""

    kind: str
    lanes: list[str]
    reduced: str | None = None
    is_bool: bool = False
    zero: bool = False


_lock = threading.Lock()
_libraries: dict[str, object] = {}


def compiler_available() -> bool:
    """Whether a C++ compiler for the fused loops is on PATH (``$CXX``, else ``g++``)."""
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def fuse(graph: torch.fx.GraphModule, batch: int,
         is_row: Callable[[int, int], bool]) -> FusedProgram | None:
    """The graph as a fused loop over rows of ``batch``, or None where it holds an operation
    the loop does not do (or no compiler is there). ``is_row(index, count)`` tells which of
    the ``count`` arguments are ``(batch, width)`` rows; the others (parameters) must be
    vectors or scalars."""
    if os.environ.get("RNNLAB_FUSED_UPDATE", "").lower() in ("0", "off", "false", "no"):
        return None
    if not compiler_available():
        return None
    try:
        source, kinds, widths = _generate(graph, batch, is_row)
    except NotFusableError:
        return None
    library = _compile(source)
    if library is None:
        return None
    address = ctypes.cast(library.rnnlab_fused, ctypes.c_void_p).value
    return FusedProgram(int(address), kinds, widths, library)


# ------------------------------------------------------------------------ generation ------


def _meta(node: torch.fx.Node) -> torch.Tensor:
    value = node.meta.get("val")
    if not isinstance(value, torch.Tensor):
        raise NotFusableError(f"{node.name} has no tensor value")
    return value


class _Writer:
    """Emits the statements of the per-feature loop body, one variable per lane value."""

    def __init__(self, c_type: str) -> None:
        self.c_type = c_type
        self.lines: list[str] = []
        self.count = 0

    def let(self, expression: str, boolean: bool = False) -> str:
        self.count += 1
        name = f"v{self.count}"
        self.lines.append(f"const {'bool' if boolean else self.c_type} {name} = {expression};")
        return name


def _generate(graph: torch.fx.GraphModule, batch: int, is_row: Callable[[int, int], bool]
              ) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
    nodes = list(graph.graph.nodes)
    placeholders = [node for node in nodes if node.op == "placeholder"]
    for index, node in enumerate(placeholders):
        rank = _meta(node).dim()
        if (rank == 2) != is_row(index, len(placeholders)) or rank > 2:
            raise NotFusableError(f"argument {index} ({tuple(_meta(node).shape)}) is neither a "
                              "row of the batch nor a parameter vector or scalar")
    output_node = next(node for node in nodes if node.op == "output")
    dtypes = {_meta(node).dtype for node in placeholders}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (torch.float32, torch.float64):
        raise NotFusableError("inputs of one floating dtype only")
    dtype = next(iter(dtypes))
    c_type = "float" if dtype == torch.float32 else "double"

    widths: list[int] = []
    for node in nodes:
        if node.op in ("placeholder", "call_function") and isinstance(node.meta.get("val"),
                                                                      torch.Tensor):
            shape = tuple(_meta(node).shape)
            if len(shape) == 2:
                if shape[0] not in (batch, 1):  # 1: a sum over rows that keeps its dim
                    raise NotFusableError(f"{node.name} has {shape[0]} rows, not {batch}")
                widths.append(shape[1])
            elif len(shape) == 1:
                widths.append(shape[0])
            elif len(shape) > 2:
                raise NotFusableError(f"{node.name} has {len(shape)} dimensions")
    base = 0
    for width in widths:
        base = math.gcd(base, width)
    if base == 0:
        raise NotFusableError("no tensor with features")

    writer = _Writer(c_type)
    values: dict[torch.fx.Node, object] = {}
    prologue: list[str] = []
    for index, node in enumerate(placeholders):
        value = _meta(node)
        prologue.append(f"const {c_type}* __restrict__ in{index} = "
                        f"static_cast<const {c_type}*>(in[{index}]);")
        if value.dim() == 2:
            lanes = [f"in{index}[r * in_ld[{index}] + {m * base} + j]"
                     for m in range(value.shape[1] // base)]
            values[node] = _Value("row", lanes)
        elif value.dim() == 1:
            lanes = [f"in{index}[{m * base} + j]" for m in range(value.shape[0] // base)]
            values[node] = _Value("vector", lanes)
        else:
            values[node] = _Value("scalar", [f"in{index}[0]"])
    for node in nodes:
        if node.op == "call_function":
            values[node] = _emit(writer, node, values, base)
        elif node.op not in ("placeholder", "output"):
            raise NotFusableError(f"{node.op} nodes")

    results = output_node.args[0]
    results = results if isinstance(results, (tuple, list)) else (results,)
    kinds, result_widths, epilogue, accumulators = [], [], [], []
    reductions: list[str] = []
    for index, result in enumerate(results):
        value = values.get(result) if isinstance(result, torch.fx.Node) else None
        if not isinstance(value, _Value) or value.is_bool:
            raise NotFusableError(f"result {index} is not a tensor of the graph")
        meta = _meta(result)
        prologue.append(f"{c_type}* __restrict__ out{index} = "
                        f"static_cast<{c_type}*>(out[{index}]);")
        if meta.dim() == 2:
            kind = "row"
            if value.reduced:  # a (1, width) sum over rows as a result: not a row
                raise NotFusableError(f"result {index} is a sum over rows kept 2-D")
            if value.kind == "row":
                epilogue += [f"out{index}[r * out_ld[{index}] + {m * base} + j] = {lane};"
                                 for m, lane in enumerate(value.lanes)]
            else:  # a broadcast vector or scalar written to every row
                lanes = _broadcast(value, meta.shape[1] // base)
                epilogue += [f"out{index}[r * out_ld[{index}] + {m * base} + j] = {lane};"
                             for m, lane in enumerate(lanes)]
        elif value.zero:
            kind = "vector" if meta.dim() == 1 else "scalar"
        elif value.reduced == "vector" and meta.dim() == 1:
            kind = "vector"
            epilogue += [f"out{index}[{m * base} + j] += {lane};"
                         for m, lane in enumerate(value.lanes)]
        elif value.reduced == "scalar" and meta.dim() == 0:
            kind = "scalar"
            name = f"acc{index}"
            accumulators.append(name)
            reductions.append(f"out{index}[0] += {name};")
            epilogue += [f"{name} += {lane};" for lane in value.lanes]
        else:
            raise NotFusableError(f"result {index} is not a sum over rows nor a row")
        kinds.append(kind)
        result_widths.append(1 if meta.dim() == 0 else meta.shape[-1])

    body = "\n      ".join(writer.lines + epilogue)
    setup = "\n  ".join(prologue)
    acc_decl = "".join(f"  {c_type} {name} = 0;\n" for name in accumulators)
    reduction = f" reduction(+:{','.join(accumulators)})" if accumulators else ""
    flush = "\n  ".join(reductions)
    source = f"""{_PRELUDE}
extern "C" void rnnlab_fused(int64_t rows, const uint8_t* alive, const void* const* in,
                             const int64_t* in_ld, void* const* out, const int64_t* out_ld) {{
  (void)in_ld; (void)out_ld;
  {setup}
{acc_decl}  for (int64_t r = 0; r < rows; ++r) {{
    if (alive != nullptr && !alive[r]) continue;
    #pragma omp simd{reduction}
    for (int64_t j = 0; j < {base}; ++j) {{
      {body}
    }}
  }}
  {flush}
}}
"""
    return source, tuple(kinds), tuple(result_widths)


def _broadcast(value: _Value, lanes: int) -> list[str]:
    if len(value.lanes) == lanes:
        return value.lanes
    if len(value.lanes) == 1 and value.kind == "scalar":
        return value.lanes * lanes
    raise NotFusableError("operands whose widths do not broadcast")


def _operand(argument, values, c_type: str):
    """A node's value, or a Python number as a C literal scalar."""
    if isinstance(argument, torch.fx.Node):
        value = values[argument]
        if not isinstance(value, _Value):
            raise NotFusableError("a non-tensor operand")
        return value
    if isinstance(argument, bool):
        return _Value("scalar", ["true" if argument else "false"], is_bool=True)
    if isinstance(argument, (int, float)):
        if not math.isfinite(argument):
            text = ("INFINITY" if argument > 0 else "-INFINITY") if not math.isnan(argument) \
                else "NAN"
            return _Value("scalar", [f"{c_type}({text})"])
        return _Value("scalar", [f"{c_type}({float(argument)!r})"])
    raise NotFusableError(f"operand {argument!r}")


_KIND_ORDER = {"scalar": 0, "vector": 1, "row": 2}


def _elementwise(writer: _Writer, template: str, operands: list[_Value],
                 boolean: bool = False) -> _Value:
    """Apply ``template`` (``{0}``, ``{1}``… for the operands) lane by lane."""
    if any(value.reduced for value in operands):
        raise NotFusableError("a sum over rows used inside the graph")
    kind = max((value.kind for value in operands), key=_KIND_ORDER.__getitem__)
    lanes = max(len(value.lanes) for value in operands)
    spread = [_broadcast(value, lanes) for value in operands]
    result = [writer.let(template.format(*(lane[m] for lane in spread)), boolean)
              for m in range(lanes)]
    return _Value(kind, result, is_bool=boolean)


_UNARY = {
    aten.neg.default: "(-{0})",
    aten.sigmoid.default: "sigmoid_({0})",
    aten.tanh.default: "tanh_({0})",
    aten.relu.default: "std::max({0}, T(0))",
    aten.exp.default: "std::exp({0})",
    aten.log.default: "std::log({0})",
    aten.sqrt.default: "std::sqrt({0})",
    aten.rsqrt.default: "(T(1) / std::sqrt({0}))",
    aten.reciprocal.default: "(T(1) / {0})",
    aten.abs.default: "std::abs({0})",
    aten.sin.default: "std::sin({0})",
    aten.cos.default: "std::cos({0})",
}
_BINARY = {
    aten.mul.Tensor: "({0} * {1})",
    aten.mul.Scalar: "({0} * {1})",
    aten.div.Tensor: "({0} / {1})",
    aten.div.Scalar: "({0} / {1})",
    aten.sigmoid_backward.default: "({0} * {1} * (T(1) - {1}))",
    aten.tanh_backward.default: "({0} * (T(1) - {1} * {1}))",
    aten.maximum.default: "std::max({0}, {1})",
    aten.minimum.default: "std::min({0}, {1})",
}
_COMPARE = {
    aten.gt.Tensor: ">", aten.gt.Scalar: ">", aten.lt.Tensor: "<", aten.lt.Scalar: "<",
    aten.ge.Tensor: ">=", aten.ge.Scalar: ">=", aten.le.Tensor: "<=", aten.le.Scalar: "<=",
    aten.eq.Tensor: "==", aten.eq.Scalar: "==", aten.ne.Tensor: "!=", aten.ne.Scalar: "!=",
}
_LOGICAL = {
    aten.logical_and.default: "({0} && {1})", aten.logical_and_.default: "({0} && {1})",
    aten.logical_or.default: "({0} || {1})", aten.logical_or_.default: "({0} || {1})",
    aten.logical_not.default: "(!{0})",
}
_IDENTITY = {aten.clone.default, aten.alias.default, aten.detach.default,
             aten.lift_fresh_copy.default}


def _emit(writer: _Writer, node: torch.fx.Node, values, base: int):
    target, args, kwargs = node.target, node.args, dict(node.kwargs)
    c_type = writer.c_type
    kwargs.pop("memory_format", None)

    def arg(i):
        return _operand(args[i], values, c_type)

    def typed(template: str) -> str:
        return template.replace("T(", f"{c_type}(")

    if target is operator.getitem:
        parts = values[args[0]]
        if not isinstance(parts, list):
            raise NotFusableError("getitem of a tensor")
        return parts[args[1]]
    if target in _IDENTITY:
        return arg(0)
    if target in (aten.split.Tensor, aten.split_with_sizes.default):
        value = arg(0)
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
        if value.kind == "scalar" or not _feature_dim(args[0], dim):
            raise NotFusableError("a split across rows")
        sizes = args[1]
        total = len(value.lanes) * base
        if isinstance(sizes, int):
            sizes = [sizes] * (total // sizes) + ([total % sizes] if total % sizes else [])
        pieces, start = [], 0
        for size in sizes:
            if size % base:
                raise NotFusableError("a split off the base width")
            count = size // base
            pieces.append(_Value(value.kind, value.lanes[start:start + count]))
            start += count
        return pieces
    if target is aten.slice.Tensor:
        value = arg(0)
        dim, start, end, step = (list(args[1:]) + [0, None, None, 1][len(args) - 1:])[:4]
        if not _feature_dim(args[0], dim):
            if start in (0, None) and (end is None or end >= _meta(args[0]).shape[0]):
                return value  # every row: the same value
            raise NotFusableError("a slice of rows")
        width = len(value.lanes) * base
        start = 0 if start is None else (start + width if start < 0 else min(start, width))
        end = width if end is None else (end + width if end < 0 else min(end, width))
        if step != 1 or start % base or end % base:
            raise NotFusableError("a slice off the base width")
        return _Value(value.kind, value.lanes[start // base:end // base])
    if target is aten.slice_backward.default:
        value = arg(0)
        sizes, dim, start, end, step = args[1:6]
        if not _feature_dim(args[0], dim) or step != 1:
            raise NotFusableError("a slice's gradient across rows")
        width = sizes[-1]
        start = start + width if start < 0 else min(start, width)
        end = end + width if end < 0 else min(end, width)
        if start % base or end % base or width % base:
            raise NotFusableError("a slice's gradient off the base width")
        zero = f"{c_type}(0)"
        lanes = [zero] * (start // base) + value.lanes + [zero] * ((width - end) // base)
        return _Value(value.kind, lanes)
    if target is aten.cat.default:
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        pieces = [values[piece] for piece in args[0]]
        if not _feature_dim(args[0][0], dim) or any(p.kind != pieces[0].kind
                                                          for p in pieces):
            raise NotFusableError("a cat across rows or of mixed kinds")
        return _Value(pieces[0].kind, [lane for piece in pieces for lane in piece.lanes])
    if target in _UNARY:
        return _elementwise(writer, typed(_UNARY[target]), [arg(0)])
    if target in _BINARY:
        return _elementwise(writer, typed(_BINARY[target]), [arg(0), arg(1)])
    if target in (aten.add.Tensor, aten.sub.Tensor, aten.add.Scalar, aten.sub.Scalar):
        alpha = kwargs.pop("alpha", 1)
        sign = "+" if target in (aten.add.Tensor, aten.add.Scalar) else "-"
        scale = "" if alpha == 1 else f"{c_type}({float(alpha)!r}) * "
        return _elementwise(writer, f"({{0}} {sign} {scale}{{1}})", [arg(0), arg(1)])
    if target in (aten.rsub.Scalar, aten.rsub.Tensor):
        alpha = kwargs.pop("alpha", 1)
        scale = "" if alpha == 1 else f"{c_type}({float(alpha)!r}) * "
        return _elementwise(writer, f"({{1}} - {scale}{{0}})", [arg(0), arg(1)])
    if target is aten.pow.Tensor_Scalar:
        exponent = args[1]
        if exponent == 2:
            return _elementwise(writer, "({0} * {0})", [arg(0)])
        return _elementwise(writer, f"std::pow({{0}}, {c_type}({float(exponent)!r}))",
                            [arg(0)])
    if target in _COMPARE:
        return _elementwise(writer, f"({{0}} {_COMPARE[target]} {{1}})", [arg(0), arg(1)],
                            boolean=True)
    if target is aten.scalar_tensor.default:
        if kwargs.get("dtype") not in (None, torch.float32, torch.float64):
            raise NotFusableError("a scalar of another dtype")
        return _operand(float(args[0]), values, c_type)
    if target in _LOGICAL:
        operands = [arg(i) for i in range(len(args))]
        if not all(value.is_bool for value in operands):
            raise NotFusableError("a logical operation on numbers")
        return _elementwise(writer, _LOGICAL[target], operands, boolean=True)
    if target is aten.where.self:
        condition = arg(0)
        if not condition.is_bool:
            raise NotFusableError("where on a non-boolean condition")
        return _elementwise(writer, "({0} ? {1} : {2})", [condition, arg(1), arg(2)])
    if target is aten.threshold_backward.default:
        return _elementwise(writer, f"({{1}} <= {c_type}({float(args[2])!r}) ? "
                                    f"{c_type}(0) : {{0}})", [arg(0), arg(1)])
    if target is aten.clamp.default:
        low = args[1] if len(args) > 1 else kwargs.get("min")
        high = args[2] if len(args) > 2 else kwargs.get("max")
        template = "{0}"
        if low is not None:
            template = f"std::max({template}, {c_type}({float(low)!r}))"
        if high is not None:
            template = f"std::min({template}, {c_type}({float(high)!r}))"
        return _elementwise(writer, template, [arg(0)])
    if target in (aten.zeros_like.default, aten.ones_like.default, aten.full_like.default):
        if kwargs.get("dtype") not in (None, _meta(args[0]).dtype):
            raise NotFusableError("a constant of another dtype")
        fill = {aten.zeros_like.default: 0.0, aten.ones_like.default: 1.0}.get(
            target, args[1] if len(args) > 1 else None)
        if not isinstance(fill, (int, float)):
            raise NotFusableError("full_like with a tensor fill")
        like = arg(0)
        constant = _Value(like.kind, [f"{c_type}({float(fill)!r})"] * len(like.lanes),
                          zero=float(fill) == 0.0)
        return constant
    if target is aten.expand.default:
        value = arg(0)
        shape = tuple(_meta(node).shape)
        if value.kind == "vector" and len(shape) == 2 and shape[1] == len(value.lanes) * base:
            return _Value("vector", value.lanes)  # broadcast over rows: the same lanes
        if value.kind == "scalar":
            return value
        if tuple(_meta(args[0]).shape) == shape:
            return value
        raise NotFusableError("an expand that is not a broadcast over rows")
    if target in (aten.view.default, aten.reshape.default, aten._unsafe_view.default,
                  aten.squeeze.dim, aten.unsqueeze.default):
        return _reshaped(node, arg(0))
    if target is aten.sum.dim_IntList:
        value = arg(0)
        dims = [d % 2 for d in args[1]] if _meta(args[0]).dim() == 2 else None
        if value.kind != "row" or value.reduced or dims is None:
            raise NotFusableError("a sum that is not over the rows of a row value")
        if sorted(dims) == [0]:
            return _Value("vector", value.lanes, reduced="vector")
        if sorted(dims) == [0, 1]:
            total = writer.let(" + ".join(value.lanes)) if len(value.lanes) > 1 \
                else value.lanes[0]
            return _Value("scalar", [total], reduced="scalar")
        raise NotFusableError("a sum over features")
    if target is aten.sum.default:
        value = arg(0)
        if value.kind != "row" or value.reduced:
            raise NotFusableError("a sum of a non-row value")
        total = writer.let(" + ".join(value.lanes)) if len(value.lanes) > 1 else value.lanes[0]
        return _Value("scalar", [total], reduced="scalar")
    raise NotFusableError(f"operation {target}")


def _feature_dim(node: torch.fx.Node, dim: int) -> bool:
    """Whether ``dim`` of ``node``'s value is its feature (last) dimension."""
    rank = _meta(node).dim()
    return rank >= 1 and dim % rank == rank - 1


def _reshaped(node: torch.fx.Node, value: _Value) -> _Value:
    """Views that only add or drop a leading dimension of one: a reduced sum kept as
    ``(1, width)`` then viewed as ``(width,)``, and the like."""
    before, after = tuple(_meta(node.args[0]).shape), tuple(_meta(node).shape)
    if before == after:
        return value
    strip = tuple(size for size in before if size != 1)
    if strip == tuple(size for size in after if size != 1) and (
            value.kind != "row" or (len(after) == 2 and after[0] == before[0])):
        if value.kind == "row" and len(after) != 2:
            raise NotFusableError("a view of a row value that drops its rows")
        return _Value(value.kind, value.lanes, value.reduced, value.is_bool, value.zero)
    raise NotFusableError(f"a view from {before} to {after}")


# ------------------------------------------------------------------------ compilation -----


def _cache_directory() -> Path:
    root = os.environ.get("RNNLAB_KERNEL_CACHE") or Path.home() / ".cache" / "rnnlab" / "kernels"
    return Path(root) / "fused-updates"


def _compile(source: str):
    """Compile ``source`` into a shared library (cached on disk by its text, the flags and
    this CPU) and load it; None, with a warning once, if that fails (the traced programs
    then run: the same numbers, slower)."""
    from rnnlab.core.kernels import CFLAGS, _cpu_signature

    flags = [*CFLAGS, "-shared", "-fPIC", f"-I{_HEADER.parent}"]
    digest = hashlib.sha256("\0".join([source, _HEADER.read_text(), *flags[:-1],
                                        _cpu_signature()]).encode()).hexdigest()
    with _lock:
        if digest not in _libraries:
            try:
                _libraries[digest] = ctypes.CDLL(str(_built(source, flags, digest)))
            except (OSError, subprocess.SubprocessError) as error:
                _libraries[digest] = None
                detail = getattr(error, "stderr", b"") or str(error).encode()
                line = next((text for text in detail.decode(errors="replace").splitlines()
                             if text.strip()), type(error).__name__)
                warnings.warn(
                    "rnnlab: a user cell's update could not be compiled into a fused loop "
                    f"({line[:200]}); its traced programs run instead (slower, the same "
                    "numbers). RNNLAB_FUSED_UPDATE=0 skips the attempt.", RuntimeWarning,
                    stacklevel=2)
        return _libraries[digest]


def _built(source: str, flags: list[str], digest: str) -> Path:
    """The library's path in the cache, compiled first if it is not there (in a scratch
    folder, then renamed: a concurrent builder's copy is the same file)."""
    directory = _cache_directory()
    directory.mkdir(parents=True, exist_ok=True)
    library = directory / f"update_{digest[:20]}.so"
    if not library.is_file():
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            cpp = Path(scratch) / "update.cpp"
            cpp.write_text(source)
            built = Path(scratch) / "update.so"
            command = [os.environ.get("CXX", "g++"), *flags, str(cpp), "-o", str(built)]
            subprocess.run(command, check=True, capture_output=True, timeout=120)
            os.replace(built, library)
    return library
