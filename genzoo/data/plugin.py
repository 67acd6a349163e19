"""The host's own datasets, registered through the same hook as any plugin's."""

from genzoo.data import toy
from genzoo.hookspecs import hookimpl
from genzoo.registry import DatasetRegistry


@hookimpl
def genzoo_register_datasets(datasets: DatasetRegistry) -> None:
    datasets.add("grid25", lambda **_: toy.grid25(), toy.grid25.__doc__ or "")
    datasets.add("ring8", lambda **_: toy.ring8(), toy.ring8.__doc__ or "")
