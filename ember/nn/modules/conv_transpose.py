"""ConvTranspose1d / ConvTranspose2d layers (torch.nn.ConvTranspose*d)."""

from __future__ import annotations

import ember
from ember.nn import functional_transpose as FT
from ember.nn.modules.conv import _ConvNd, _ntuple
from ember.nn.parameter import Parameter

__all__ = ["ConvTranspose1d", "ConvTranspose2d"]


class _ConvTransposeNd(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:  # fmt: skip
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)  # fmt: skip
        self.transposed, self.output_padding = True, _ntuple(output_padding, self._nd)
        shape = (in_channels, out_channels // groups) + self.kernel_size  # torch's transposed layout
        self.weight = Parameter(ember.empty(shape, device=device, dtype=dtype))
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.output_padding != (0,) * self._nd:
            cut = s.find(", dilation=") if ", dilation=" in s else s.find(", groups=")
            cut = cut if cut >= 0 else (s.find(", bias=") if ", bias=" in s else len(s))
            s = s[:cut] + f", output_padding={self.output_padding}" + s[cut:]
        return s

    def _output_padding(self, input, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        output_size = list(output_size)[-self._nd :]
        spatial = input.shape[-self._nd :]
        pads = []
        for i in range(self._nd):
            lo = (
                (spatial[i] - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel_size[i] - 1)
                + 1
            )
            hi = lo + self.stride[i] - 1
            if not lo <= output_size[i] <= hi:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from "
                    f"{[lo]} to {[hi]} (for an input of {list(spatial)})"
                )
            pads.append(output_size[i] - lo)
        return tuple(pads)

    def forward(self, input, output_size=None):
        fn = FT.conv_transpose1d if self._nd == 1 else FT.conv_transpose2d
        op = self._output_padding(input, output_size)
        return fn(input, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution over (N, C_in, L) input."""

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution over (N, C_in, H, W) input."""

    _nd = 2
