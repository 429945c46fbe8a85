"""torchvision.ops: box utilities, nms, roi_align, and the MobileNet building blocks."""

from ember.vision.ops.boxes import (
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    generalized_box_iou,
    nms,
    remove_small_boxes,
)
from ember.vision.ops.misc import Conv2dNormActivation, SqueezeExcitation
from ember.vision.ops.roi_align import RoIAlign, roi_align

__all__ = [
    "batched_nms", "box_area", "box_convert", "box_iou", "clip_boxes_to_image", "generalized_box_iou", "nms",
    "remove_small_boxes", "Conv2dNormActivation", "SqueezeExcitation", "RoIAlign", "roi_align",
]  # fmt: skip
