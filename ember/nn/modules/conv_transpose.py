"""ConvTranspose1d / ConvTranspose2d layers (torch.nn.ConvTranspose*d)."""

from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.nn import functional_vision as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["ConvTranspose1d", "ConvTranspose2d"]


def _ntuple(v, n: int) -> tuple:
    if isinstance(v, (list, tuple)):
        return tuple(v) if len(v) != 1 else tuple(v) * n
    return (v,) * n


class _ConvTransposeNd(Module):
    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        nd = self._nd
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _ntuple(kernel_size, nd)
        self.stride, self.dilation = _ntuple(stride, nd), _ntuple(dilation, nd)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, nd)
        self.output_padding = _ntuple(output_padding, nd)
        self.transposed, self.groups, self.padding_mode = True, groups, padding_mode
        shape = (in_channels, out_channels // groups) + self.kernel_size
        self.weight = Parameter(ember.empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(ember.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's _ConvNd init: kaiming_uniform_(a=sqrt(5)); fan_in = weight.size(1) * prod(kernel)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        nd = len(self.kernel_size)
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """output_padding that makes the output exactly output_size (torch's rule and errors)."""
        nd = self._nd
        if output_size is None:
            return self.output_padding
        has_batch = input.dim() == nd + 2
        non_spatial = 2 if has_batch else 1
        output_size = [int(v) for v in output_size]
        if len(output_size) == non_spatial + nd:
            output_size = output_size[non_spatial:]
        if len(output_size) != nd:
            raise ValueError(
                f"ConvTranspose{nd}D: for {input.dim()}D input, output_size must have {nd} or "
                f"{non_spatial + nd} elements (got {len(output_size)})"
            )
        lo = [
            (input.shape[d + non_spatial] - 1) * self.stride[d]
            - 2 * self.padding[d]
            + self.dilation[d] * (self.kernel_size[d] - 1)
            + 1
            for d in range(nd)
        ]
        hi = [lo[d] + self.stride[d] - 1 for d in range(nd)]
        for d in range(nd):
            if not lo[d] <= output_size[d] <= hi[d]:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from {lo} to {hi} "
                    f"(for an input of {ember.Size(input.shape[non_spatial:])})"
                )
        return tuple(output_size[d] - lo[d] for d in range(nd))

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        fn = F.conv_transpose1d if self._nd == 1 else F.conv_transpose2d
        op = self._output_padding(input, output_size)
        return fn(input, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C_in, L) input."""

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over (N, C_in, H, W) input (DCGAN's generator layer)."""

    _nd = 2
