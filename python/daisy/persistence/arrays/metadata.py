"""funlib.persistence.arrays.metadata's configuration names: the attribute names of the
metadata (:class:`MetaDataFormat`) and the default format."""

from ...datasets import (
    MetaDataFormat,
    configure_library,
    get_default_metadata_format,
    read_config,
    set_default_metadata_format,
)

__all__ = [
    "MetaDataFormat",
    "configure_library",
    "get_default_metadata_format",
    "read_config",
    "set_default_metadata_format",
]
