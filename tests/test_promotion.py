"""Type promotion of elementwise ops against torch."""

from conftest import assert_same, pair


def test_conftest_smoke():
    e, t = pair([1.0, 2.0])
    assert_same(e * 2, t * 2)
