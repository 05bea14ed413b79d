"""The git commit on every MLflow run: from git in a checkout, from RADIMPRESS_GIT_COMMIT in an image without git."""

from __future__ import annotations

import subprocess

from tasks.tracking import PROJECT_ROOT, provenance_tags


def test_a_checkout_tags_its_commit():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout
    assert provenance_tags()["radimpress.git_commit"].removesuffix("+dirty") == head.strip()


def test_without_git_the_image_commit_is_tagged(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on it, as in docker/Dockerfile's image
    monkeypatch.setenv("RADIMPRESS_GIT_COMMIT", "0123abc")
    tags = provenance_tags()
    assert tags["radimpress.git_commit"] == "0123abc" and tags["version.torch"]
