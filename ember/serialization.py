"""ember.save / ember.load (being written)."""

__all__ = ["save", "load"]


def save(obj, f, **kwargs):
    raise NotImplementedError("ember.save is being written")


def load(f, **kwargs):
    raise NotImplementedError("ember.load is being written")
