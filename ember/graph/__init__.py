"""The graph layer, between the Tensor and the ops: graph nodes (`node.Function`, the base of
every primitive), the backward engine and the grad-mode flag. The public API over it
(torch.autograd: backward, grad, custom Functions, gradcheck) is `ember.autograd`."""
