"""Winograd's F(2x2, 3x3): a 3x3 convolution at unit stride with 2.25x fewer multiplies than
im2col's GEMM, for its forward and both gradients (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016).

Per 2x2 output tile, out_tile = A^T [U * V] A, with U = G g G^T the transformed 3x3 kernel
and V = B^T d B the transformed 4x4 input patch (``backend.plain`` holds B^T, G, A^T and the
tiles' layout). Summed over the input channels, each of the 16 entries of U * V becomes one
matrix product: M[k] = U[k] (O, C) @ V[k] (C, tiles). The transforms only add, subtract and
halve; the rounding error is bounded by the tile's products (as for a plain sum of the same
terms, about 1e-7 of them in float32), not by the output. Infinities do not stay where they
were: one spreads through its tile (inf - inf = NaN). So a result that is not all finite comes
back as None, and the caller computes it again over im2col, with PyTorch's rules.
"""

from __future__ import annotations

from minicnn.backend import array_module, kernels
from minicnn.backend.plain import WINOGRAD_G, winograd_tiles
from minicnn.functional.workspace import batch_chunks

Pair = tuple[int, int]


def _transformed_weight(weight):
    """U = G g G^T for every (o, c): (O, C, 3, 3) -> (16, O, C), computed in float64 and
    rounded once to the weight's dtype."""
    g = array_module(weight).asarray(WINOGRAD_G)
    u = (g @ weight.astype(g.dtype) @ g.T).transpose(2, 3, 0, 1)  # (4, 4, O, C)
    return u.reshape(16, *weight.shape[:2]).astype(weight.dtype)


def _tile_chunks(x, other_rows: int, out_size: Pair, budget: int):
    """Yield (images, v, w) for consecutive chunks of x's batch: ``images`` a slice of it, v
    (16, C, tiles) and w (16, ``other_rows``, tiles) two views of one reused workspace for the
    chunk's tiles, the chunk as large as fits both in ``budget`` bytes (at least one image)."""
    channels = x.shape[1]
    th_n, tw_n = winograd_tiles(out_size)
    per_image = th_n * (tw_n + 1)
    for images, space in batch_chunks(x, 16 * (channels + other_rows) * per_image, budget):
        tiles = (images.stop - images.start) * per_image
        v = space[: 16 * channels * tiles].reshape(16, channels, tiles)
        yield images, v, space[16 * channels * tiles :].reshape(16, other_rows, tiles)


def winograd_conv2d_forward(x, weight, bias, padding: Pair, out_size: Pair, budget: int):
    """out[n, o] = bias[o] + sum over c of weight[o, c] (*) x[n, c] for a (O, C, 3, 3)
    weight, stride 1, zero ``padding`` (top, left); ``out_size`` (Ho, Wo) sets the bottom and
    right. Returns out (N, O, Ho, Wo), or None if an entry is not finite.

    Per chunk of images: V = the input tiles' transforms (16, C, tiles), M[k] = U[k] @ V[k],
    out = each tile's A^T M A. ``budget`` bounds the bytes of V and M together.
    """
    xp, backend = array_module(x), kernels(x)
    u = _transformed_weight(weight)
    out = xp.empty((x.shape[0], weight.shape[0], *out_size), dtype=x.dtype)
    for images, v, m in _tile_chunks(x, weight.shape[0], out_size, budget):
        backend.winograd_input_transform(x[images], padding, out_size, v)
        xp.matmul(u, v, out=m)
        if not backend.winograd_output_transform(m, bias, out[images]):
            return None
    return out


def winograd_conv2d_input_grad(grad_out, weight, in_shape: tuple, padding: Pair, budget: int):
    """d loss / d x (``in_shape``) of ``winograd_conv2d_forward``, or None if not finite.

    grad_x[n, c] = sum over o of grad_out[n, o] correlated with weight[o, c] turned by 180
    degrees, over a border of 2 - top rows and 2 - left columns: the forward run backwards
    is another 3x3 unit-stride convolution, of grad_out with the weight's channels swapped.
    """
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return winograd_conv2d_forward(grad_out, flipped, None, (2 - padding[0], 2 - padding[1]),
                                   tuple(in_shape[2:]), budget)


def winograd_conv2d_weight_grad(x, grad_out, padding: Pair, budget: int):
    """d loss / d weight (O, C, 3, 3) of ``winograd_conv2d_forward``, or None if not finite.

    The forward is linear in U, out_tile = A^T [U * V] A, so d loss / d U[k] sums over the
    tiles (A y A^T)[k] * V[k], y a tile's 2x2 gradient: one GEMM per entry k, (O, tiles) @
    (tiles, C). Then d loss / d g = G^T (d loss / d U) G.
    """
    xp, backend = array_module(x), kernels(x)
    channels, out_channels = x.shape[1], grad_out.shape[1]
    out_size = tuple(grad_out.shape[2:])
    grad_u = xp.zeros((16, out_channels, channels), dtype=grad_out.dtype)
    for images, v, y in _tile_chunks(x, out_channels, out_size, budget):
        backend.winograd_input_transform(x[images], padding, out_size, v)
        backend.winograd_gradient_transform(grad_out[images], y)
        grad_u += y @ v.transpose(0, 2, 1)
    g = xp.asarray(WINOGRAD_G)
    grad_u = grad_u.reshape(4, 4, out_channels, channels).transpose(2, 3, 0, 1)  # (O, C, 4, 4)
    grad_weight = (g.T @ grad_u.astype(g.dtype) @ g).astype(grad_out.dtype)
    return grad_weight if bool(xp.isfinite(grad_weight).all()) else None
