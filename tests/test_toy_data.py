"""helpers.toy_data: the rings that a change of representation makes linearly separable."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from helpers.toy_data import make_rings, to_polar


def test_rings_need_polar_coordinates():
    points, labels = make_rings(400)
    cartesian = LogisticRegression().fit(points, labels).score(points, labels)
    polar = LogisticRegression().fit(to_polar(points), labels).score(to_polar(points), labels)
    assert cartesian < 0.7 and polar > 0.95
