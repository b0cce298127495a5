"""Where the names of the former ``helpers.data`` went: importing one says its new module.

``helpers.data`` did four jobs; it was split into :mod:`helpers.tasks` (the generated tasks),
:mod:`helpers.image_folders` (folders of photos), :mod:`helpers.downloads` (downloads and the
course cache) and :mod:`helpers.toy_data` (2-D toy data). A notebook written for the old module
fails with an ``ImportError`` that names the new place.

Examples
--------
>>> from helpers.data import make_rings
Traceback (most recent call last):
...
ImportError: helpers.data.make_rings moved: use `from helpers.toy_data import make_rings`
"""

from __future__ import annotations

MOVED = {
    **dict.fromkeys(
        ("IMAGE_SIZE", "TARGET_CLASSES", "SOURCE_CLASSES", "make_sunglasses_vs_hat", "make_source_task"),
        "helpers.tasks",
    ),
    **dict.fromkeys(
        (
            "export_image_folder",
            "sunglasses_vs_hat_folder",
            "FolderReport",
            "inspect_image_folder",
            "load_image_folder",
            "dataset_to_arrays",
            "course_images",
        ),
        "helpers.image_folders",
    ),
    **dict.fromkeys(("course_data_dir", "extract_archive", "download_archive"), "helpers.downloads"),
    **dict.fromkeys(("make_rings", "to_polar"), "helpers.toy_data"),
    "head_boxes": "helpers.faces",
}


def __getattr__(name: str):
    if name in MOVED:
        raise ImportError(f"helpers.data.{name} moved: use `from {MOVED[name]} import {name}`")
    raise AttributeError(f"module 'helpers.data' has no attribute {name!r}")
