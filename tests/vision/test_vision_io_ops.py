"""ember.vision.io (Pillow round trips, modes, corrupt files), utils (save_image, draw_bounding_boxes)
and ops (boxes and nms against NumPy derivations and torch autograd; roi_align against a loop
reference of torchvision's CPU kernel, gradcheck)."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
import torch

import ember
from ember.vision import io as vio
from ember.vision import ops, utils

Image = pytest.importorskip("PIL.Image", reason="Pillow (the vision extra) is not installed")


def _rgb(h=9, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------- io


def test_png_round_trip_and_modes(tmp_path):
    arr = _rgb()
    x = ember.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    path = tmp_path / "a.png"
    vio.write_png(x, path, compression_level=9)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), arr)  # Pillow reads what we wrote
    back = vio.read_image(path)
    assert back.dtype == ember.uint8 and tuple(back.shape) == (3, 9, 7)
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    gray = vio.read_image(path, vio.ImageReadMode.GRAY)
    np.testing.assert_array_equal(gray.numpy()[0], np.asarray(Image.fromarray(arr).convert("L")))
    rgba = vio.read_image(path, vio.ImageReadMode.RGB_ALPHA)
    assert tuple(rgba.shape) == (4, 9, 7) and (rgba.numpy()[3] == 255).all()
    assert tuple(vio.decode_image(vio.read_file(path), vio.ImageReadMode.GRAY_ALPHA).shape) == (2, 9, 7)
    la = Image.fromarray(np.stack([arr[..., 0], arr[..., 1]], -1), "LA")
    la.save(tmp_path / "la.png")
    assert tuple(vio.read_image(tmp_path / "la.png").shape) == (2, 9, 7)
    enc = vio.encode_png(x)
    assert (
        enc.dtype == ember.uint8 and enc.ndim == 1 and bytes(enc.numpy()[:8].tolist()) == b"\x89PNG\r\n\x1a\n"
    )
    np.testing.assert_array_equal(vio.decode_png(enc).numpy(), x.numpy())


def test_jpeg_round_trip_matches_pillow(tmp_path):
    arr = _rgb(16, 16, seed=1)
    x = ember.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    vio.write_jpeg(x, tmp_path / "a.jpg", quality=90)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    assert (tmp_path / "a.jpg").read_bytes() == buf.getvalue()
    dec = vio.decode_jpeg(vio.read_file(tmp_path / "a.jpg"))
    np.testing.assert_array_equal(dec.numpy().transpose(1, 2, 0), np.asarray(Image.open(tmp_path / "a.jpg")))


def test_io_errors(tmp_path):
    bad = tmp_path / "bad.png"
    good = io.BytesIO()
    Image.fromarray(_rgb()).save(good, format="PNG")
    bad.write_bytes(good.getvalue()[:60])  # truncated: never a garbage tensor
    with pytest.raises(RuntimeError, match="Could not decode"):
        vio.read_image(bad)
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    with pytest.raises(RuntimeError, match="Could not decode"):
        vio.read_image(tmp_path / "junk.jpg")
    with pytest.raises(RuntimeError, match="Could not decode PNG"):
        vio.decode_png(vio.encode_jpeg(ember.zeros(3, 4, 4, dtype=ember.uint8)))
    with pytest.raises(RuntimeError, match="dtype should be uint8"):
        vio.encode_png(ember.zeros(3, 4, 4))
    with pytest.raises(RuntimeError, match="number of channels should be 1 or 3, got: 4"):
        vio.encode_jpeg(ember.zeros(4, 4, 4, dtype=ember.uint8))
    with pytest.raises(ValueError, match="between 1 and 100"):
        vio.encode_jpeg(ember.zeros(3, 4, 4, dtype=ember.uint8), quality=0)
    with pytest.raises(RuntimeError, match="one dimensional"):
        vio.decode_image(ember.zeros(2, 2, dtype=ember.uint8))
    Image.fromarray(np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000).save(tmp_path / "s16.png")
    with pytest.raises(RuntimeError, match="not supported"):
        vio.read_image(tmp_path / "s16.png")


def test_save_image_uses_torchvision_rounding(tmp_path):
    x = np.random.default_rng(2).random((4, 3, 5, 5)).astype(np.float32)
    utils.save_image(ember.from_numpy(x), tmp_path / "g.png", nrow=2, padding=1)
    got = np.asarray(Image.open(tmp_path / "g.png"))
    grid = utils.make_grid(ember.from_numpy(x), nrow=2, padding=1).numpy()
    want = torch.from_numpy(grid).mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()
    np.testing.assert_array_equal(got, want)
    buf = io.BytesIO()
    utils.save_image(ember.from_numpy(x[0]), buf, format="jpeg")
    assert buf.getvalue()[:2] == b"\xff\xd8"


def test_draw_bounding_boxes():
    img = ember.zeros(3, 20, 20, dtype=ember.uint8)
    boxes = ember.tensor([[2.0, 3.0, 10.0, 12.0], [5, 5, 18, 18]])
    out = utils.draw_bounding_boxes(img, boxes, labels=["a", "b"], colors=["red", (0, 255, 0)], width=1)
    o = out.numpy()
    assert out.dtype == ember.uint8 and tuple(out.shape) == (3, 20, 20)
    assert (o[:, 3, 2:11] == np.array([255, 0, 0])[:, None]).all()  # the red box's top edge
    assert (o[:, 18, 5:19] == np.array([0, 255, 0])[:, None]).all()  # the green box's bottom edge
    assert img.numpy().sum() == 0  # the input is not drawn on
    gray = utils.draw_bounding_boxes(
        ember.zeros(1, 8, 8, dtype=ember.uint8), ember.tensor([[1.0, 1, 5, 5]]), fill=True
    )
    assert tuple(gray.shape) == (3, 8, 8)
    with pytest.raises(ValueError, match=r"\(xmin, ymin, xmax, ymax\)"):
        utils.draw_bounding_boxes(img, ember.tensor([[5.0, 5, 1, 1]]))
    with pytest.raises(ValueError, match="Tensor uint8 expected"):
        utils.draw_bounding_boxes(ember.zeros(3, 4, 4), boxes)


# ---------------------------------------------------------------- boxes


def _boxes(n, seed):
    r = np.random.default_rng(seed)
    xy = r.uniform(0, 50, (n, 2))
    wh = r.uniform(1, 30, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


def _iou_numpy(a, b):
    out = np.zeros((len(a), len(b)))
    for i, j in itertools.product(range(len(a)), range(len(b))):
        iw = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
        ih = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
        inter = iw * ih
        ua = (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1]) + (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]) - inter
        out[i, j] = inter / ua
    return out


def test_box_area_iou_giou_and_gradients():
    a, b = _boxes(6, 0), _boxes(4, 1)
    np.testing.assert_allclose(
        ops.box_area(ember.from_numpy(a)).numpy(), (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), rtol=1e-6
    )
    np.testing.assert_allclose(
        ops.box_iou(ember.from_numpy(a), ember.from_numpy(b)).numpy(), _iou_numpy(a, b), rtol=1e-5, atol=1e-7
    )
    ea = ember.from_numpy(a.copy()).requires_grad_()
    ta = torch.from_numpy(a.copy()).requires_grad_()
    tb = torch.from_numpy(b)

    def torch_giou(x, y):  # the same formula on torch tensors: the oracle for the gradients
        area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
        lt, rb = torch.max(x[:, None, :2], y[:, :2]), torch.min(x[:, None, 2:], y[:, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[..., 0] * wh[..., 1]
        union = area(x)[:, None] + area(y) - inter
        lti, rbi = torch.min(x[:, None, :2], y[:, :2]), torch.max(x[:, None, 2:], y[:, 2:])
        whi = (rbi - lti).clamp(min=0)
        return inter / union - (whi[..., 0] * whi[..., 1] - union) / (whi[..., 0] * whi[..., 1])

    g_e = ops.generalized_box_iou(ea, ember.from_numpy(b))
    g_t = torch_giou(ta, tb)
    np.testing.assert_allclose(g_e.detach().numpy(), g_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    g_e.sum().backward()
    g_t.sum().backward()
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_box_convert_round_trips():
    a = _boxes(5, 2)
    x = ember.from_numpy(a)
    xywh = np.concatenate([a[:, :2], a[:, 2:] - a[:, :2]], 1)
    cxcywh = np.concatenate([(a[:, :2] + a[:, 2:]) / 2, a[:, 2:] - a[:, :2]], 1)
    np.testing.assert_allclose(ops.box_convert(x, "xyxy", "xywh").numpy(), xywh, rtol=1e-6)
    np.testing.assert_allclose(ops.box_convert(x, "xyxy", "cxcywh").numpy(), cxcywh, rtol=1e-6)
    np.testing.assert_allclose(
        ops.box_convert(ember.from_numpy(cxcywh), "cxcywh", "xywh").numpy(), xywh, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(ops.box_convert(ember.from_numpy(xywh), "xywh", "xyxy").numpy(), a, rtol=1e-6)
    with pytest.raises(ValueError, match="Unsupported Bounding Box Conversions"):
        ops.box_convert(x, "xyxy", "yxyx")


def _nms_reference(b, s, thr):
    order = sorted(range(len(s)), key=lambda i: -s[i])
    keep = []
    for i in order:
        if all(_iou_numpy(b[i : i + 1], b[j : j + 1])[0, 0] <= thr for j in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.7])
def test_nms_and_batched_nms(thr):
    b = _boxes(40, 3)
    s = np.random.default_rng(4).permutation(40).astype(np.float32)
    keep = ops.nms(ember.from_numpy(b), ember.from_numpy(s), thr)
    assert keep.dtype == ember.int64
    assert keep.tolist() == _nms_reference(b, s, thr)
    cls = np.random.default_rng(5).integers(0, 3, 40)
    kept = ops.batched_nms(ember.from_numpy(b), ember.from_numpy(s), ember.from_numpy(cls), thr).tolist()
    want = []
    for c in range(3):
        idx = np.nonzero(cls == c)[0]
        want += [int(idx[k]) for k in _nms_reference(b[idx], s[idx], thr)]
    assert kept == sorted(want, key=lambda i: -s[i])
    assert (
        ops.batched_nms(ember.zeros(0, 4), ember.zeros(0), ember.zeros(0, dtype=ember.int64), thr).tolist()
        == []
    )


def test_clip_and_remove_small_boxes():
    b = ember.tensor([[-5.0, 2.0, 30.0, 8.0], [1.0, 1.0, 1.5, 9.0]])
    np.testing.assert_array_equal(
        ops.clip_boxes_to_image(b, (6, 20)).numpy(), [[0, 2, 20, 6], [1, 1, 1.5, 6]]
    )
    assert ops.remove_small_boxes(b, 1.0).tolist() == [0]


# ---------------------------------------------------------------- roi_align


def _roi_align_loop(x, rois, ph, pw, scale, ratio, aligned):
    """torchvision's CPU roi_align kernel, point by point."""
    n, c, h, w = x.shape
    out = np.zeros((len(rois), c, ph, pw))
    off = 0.5 if aligned else 0.0
    for k, r in enumerate(rois):
        b = int(r[0])
        x1, y1, x2, y2 = (v * scale - off for v in r[1:])
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = ratio if ratio > 0 else math.ceil(rh / ph)
        gw = ratio if ratio > 0 else math.ceil(rw / pw)
        count = max(gh * gw, 1)
        for i, j in itertools.product(range(ph), range(pw)):
            acc = np.zeros(c)
            for iy, ix in itertools.product(range(gh), range(gw)):
                yy = y1 + i * bh + (iy + 0.5) * bh / gh
                xx = x1 + j * bw + (ix + 0.5) * bw / gw
                if yy < -1.0 or yy > h or xx < -1.0 or xx > w:
                    continue
                yy, xx = max(yy, 0.0), max(xx, 0.0)
                yl, xl = int(yy), int(xx)
                if yl >= h - 1:
                    yl = yh = h - 1
                    yy = yl
                else:
                    yh = yl + 1
                if xl >= w - 1:
                    xl = xh = w - 1
                    xx = xl
                else:
                    xh = xl + 1
                ly, lx = yy - yl, xx - xl
                acc += (1 - ly) * (1 - lx) * x[b, :, yl, xl] + (1 - ly) * lx * x[b, :, yl, xh]
                acc += ly * (1 - lx) * x[b, :, yh, xl] + ly * lx * x[b, :, yh, xh]
            out[k, :, i, j] = acc / count
    return out


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("ratio", [-1, 2])
def test_roi_align_matches_kernel_reference(aligned, ratio):
    x = np.random.default_rng(6).standard_normal((2, 3, 10, 12)).astype(np.float32)
    rois = np.array(
        [[0, 1.0, 1.5, 8.0, 7.0], [1, 0.0, 0.0, 11.9, 9.9], [0, 6.2, 3.1, 6.9, 3.5], [1, -2, -1, 3, 4]],
        np.float32,
    )
    out = ops.roi_align(ember.from_numpy(x), ember.from_numpy(rois), (3, 4), 1.0, ratio, aligned)
    np.testing.assert_allclose(
        out.numpy(), _roi_align_loop(x, rois, 3, 4, 1.0, ratio, aligned), rtol=1e-5, atol=1e-6
    )
    per_image = [ember.from_numpy(rois[rois[:, 0] == i, 1:].copy()) for i in range(2)]
    out2 = ops.RoIAlign((3, 4), 0.5, ratio, aligned)(ember.from_numpy(x), per_image)
    order = np.argsort(rois[:, 0], kind="stable")
    np.testing.assert_allclose(
        out2.numpy(), _roi_align_loop(x, rois[order], 3, 4, 0.5, ratio, aligned), rtol=1e-5, atol=1e-6
    )


def test_roi_align_aligned_full_box_is_the_image_and_gradcheck():
    x = np.random.default_rng(7).standard_normal((1, 2, 5, 6))
    rois = ember.tensor([[0.0, 0.0, 0.0, 6.0, 5.0]], dtype=ember.float64)
    out = ops.roi_align(ember.from_numpy(x), rois, (5, 6), sampling_ratio=1, aligned=True)
    np.testing.assert_allclose(out.numpy()[0], x[0], atol=1e-12)
    xe = ember.from_numpy(x.copy()).requires_grad_()
    boxes = ember.tensor([[0.0, 0.3, 0.7, 4.2, 3.9], [0.0, 1.1, 0.2, 5.5, 4.4]], dtype=ember.float64)
    assert ember.autograd.gradcheck(lambda t: ops.roi_align(t, boxes, (2, 3), 1.0, 2, False), (xe,))
    with pytest.raises(ValueError, match=r"Tensor\[K, 5\]"):
        ops.roi_align(xe, ember.zeros(2, 4, dtype=ember.float64), 2)


def test_missing_pillow_names_the_extra(monkeypatch):
    from ember.vision import _pil
    from ember.vision import transforms as T

    monkeypatch.setattr(_pil, "_Image", None)
    with pytest.raises(ImportError, match=r'pip install "ember\[vision\]"'):
        vio.encode_png(ember.zeros(3, 2, 2, dtype=ember.uint8))
    with pytest.raises(ImportError, match=r"ember\[vision\]"):
        T.ToPILImage()(ember.zeros(3, 2, 2))
    # tensors and NumPy image arrays need no Pillow
    assert tuple(T.Resize(4)(ember.zeros(3, 8, 8)).shape) == (3, 4, 4)
    assert T.CenterCrop(2)(np.zeros((4, 4), np.uint8)).shape == (2, 2)
